import type { Db } from "../state/db.js";

/** What rules.provenance: pinned holds a project to: the publisher it was first installed from. */
export interface PublisherRecord {
  indexUrl: string;
  /** the normalised project name */
  project: string;
  /** the canonical publisher identity (identity.ts) */
  publisher: string;
  firstVersion: string;
  recordedAt: Date;
}

/**
 * The first-install record, (index, project) → publisher. Async throughout so that a shared store
 * (PostgreSQL, fleet mode) can implement it; `recordFirst` never overwrites: the first install wins,
 * and a changed publisher is a refusal for a person to resolve, never a silent update. `repin` is that
 * person's answer (rules.provenance_change: approval): it moves the record only from the publisher the
 * approver saw, so two brokers installing the same approved change move it once.
 */
export interface PublisherStore {
  get(indexUrl: string, project: string): Promise<PublisherRecord | undefined>;
  /** records the publisher unless one is recorded already; returns the record in force */
  recordFirst(record: PublisherRecord): Promise<PublisherRecord>;
  /**
   * replaces the record of `record`'s project with `record` (publisher, the version approved, when)
   * only while the publisher in force is `from`; true when it moved
   */
  repin(from: string, record: PublisherRecord): Promise<boolean>;
  /** forgets a project's record (a maintainer accepting a new publisher); true when there was one */
  forget(indexUrl: string, project: string): Promise<boolean>;
  /** every record, by index and project */
  list(): Promise<PublisherRecord[]>;
}

export interface PublisherRow {
  index_url: string;
  project: string;
  publisher: string;
  first_version: string;
  recorded_at: number;
}

export function publisherFromRow(row: PublisherRow): PublisherRecord {
  return { indexUrl: row.index_url, project: row.project, publisher: row.publisher, firstVersion: row.first_version, recordedAt: new Date(row.recorded_at) };
}

/** The store over the state database's provenance_publishers table (migration 9). */
export function sqlitePublisherStore(db: Db): PublisherStore {
  const select = db.prepare<[string, string], PublisherRow>("SELECT * FROM provenance_publishers WHERE index_url = ? AND project = ?");
  const insert = db.prepare<[string, string, string, string, number]>(
    "INSERT INTO provenance_publishers (index_url, project, publisher, first_version, recorded_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
  );
  const update = db.prepare<[string, string, number, string, string, string]>(
    "UPDATE provenance_publishers SET publisher = ?, first_version = ?, recorded_at = ? WHERE index_url = ? AND project = ? AND publisher = ?",
  );
  const remove = db.prepare<[string, string]>("DELETE FROM provenance_publishers WHERE index_url = ? AND project = ?");
  const all = db.prepare<[], PublisherRow>("SELECT * FROM provenance_publishers ORDER BY index_url, project");
  return {
    get(indexUrl, project) {
      const row = select.get(indexUrl, project);
      return Promise.resolve(row === undefined ? undefined : publisherFromRow(row));
    },
    recordFirst(record) {
      insert.run(record.indexUrl, record.project, record.publisher, record.firstVersion, record.recordedAt.getTime());
      const row = select.get(record.indexUrl, record.project);
      return Promise.resolve(row === undefined ? record : publisherFromRow(row));
    },
    repin(from, record) {
      const moved = update.run(record.publisher, record.firstVersion, record.recordedAt.getTime(), record.indexUrl, record.project, from);
      return Promise.resolve(moved.changes > 0);
    },
    forget(indexUrl, project) {
      return Promise.resolve(remove.run(indexUrl, project).changes > 0);
    },
    list() {
      return Promise.resolve(all.all().map(publisherFromRow));
    },
  };
}
