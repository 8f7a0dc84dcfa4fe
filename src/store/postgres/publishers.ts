import { publisherFromRow, type PublisherRow, type PublisherStore } from "../../provenance/store.js";
import type { PgPool } from "./pool.js";

/**
 * rules.provenance's first-install record over PostgreSQL: one record per (index, project) for the whole
 * fleet, so a publisher pinned by one broker's install holds every broker to it. `recordFirst` inserts
 * with ON CONFLICT DO NOTHING and reads back the row in force: of two brokers recording at once, the
 * first wins and both answer with it. `repin` is a compare-and-set on the publisher in force: of two
 * brokers moving the same approved change, one moves it.
 */
export function createPgPublisherStore(pool: PgPool): PublisherStore {
  const get = async (indexUrl: string, project: string) => {
    const [row] = await pool.query<PublisherRow>(
      "SELECT index_url, project, publisher, first_version, recorded_at FROM provenance_publishers WHERE index_url = $1 AND project = $2",
      [indexUrl, project],
    );
    return row === undefined ? undefined : publisherFromRow(row);
  };
  return {
    get,
    async recordFirst(record) {
      await pool.query(
        `INSERT INTO provenance_publishers (index_url, project, publisher, first_version, recorded_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
        [record.indexUrl, record.project, record.publisher, record.firstVersion, record.recordedAt.getTime()],
      );
      return (await get(record.indexUrl, record.project)) ?? record;
    },
    async repin(from, record) {
      const moved = await pool.query(
        `UPDATE provenance_publishers SET publisher = $1, first_version = $2, recorded_at = $3
         WHERE index_url = $4 AND project = $5 AND publisher = $6 RETURNING project`,
        [record.publisher, record.firstVersion, record.recordedAt.getTime(), record.indexUrl, record.project, from],
      );
      return moved.length > 0;
    },
    async forget(indexUrl, project) {
      const removed = await pool.query("DELETE FROM provenance_publishers WHERE index_url = $1 AND project = $2 RETURNING project", [indexUrl, project]);
      return removed.length > 0;
    },
    async list() {
      const rows = await pool.query<PublisherRow>(
        "SELECT index_url, project, publisher, first_version, recorded_at FROM provenance_publishers ORDER BY index_url, project",
      );
      return rows.map(publisherFromRow);
    },
  };
}
