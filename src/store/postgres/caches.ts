import { z } from "zod";
import type { HttpCacheStore } from "../../index/http-cache.js";
import type { CachedWheel, ResolutionCache } from "../../pipeline/resolution-cache.js";
import type { PgPool } from "./pool.js";

interface HttpRow {
  url: string;
  fetched_at: number;
  etag: string | null;
  last_modified: string | null;
  content_type: string | null;
  body: Buffer;
}

/** The index metadata cache in the shared database: one broker's fetch serves the fleet until it goes stale. */
export function createPgHttpCache(pool: PgPool): HttpCacheStore {
  return {
    async get(url) {
      const [row] = await pool.query<HttpRow>("SELECT url, fetched_at, etag, last_modified, content_type, body FROM http_cache WHERE url = $1", [url]);
      if (row === undefined) return undefined;
      return {
        url: row.url,
        fetchedAt: row.fetched_at,
        etag: row.etag ?? undefined,
        lastModified: row.last_modified ?? undefined,
        contentType: row.content_type ?? undefined,
        body: Buffer.from(row.body),
      };
    },
    async put(entry) {
      await pool.query(
        `INSERT INTO http_cache (url, fetched_at, etag, last_modified, content_type, body) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (url) DO UPDATE SET fetched_at = excluded.fetched_at, etag = excluded.etag,
           last_modified = excluded.last_modified, content_type = excluded.content_type, body = excluded.body`,
        [entry.url, entry.fetchedAt, entry.etag ?? null, entry.lastModified ?? null, entry.contentType ?? null, entry.body],
      );
    },
    async touch(url, fetchedAt) {
      await pool.query("UPDATE http_cache SET fetched_at = $1 WHERE url = $2", [fetchedAt, url]);
    },
  };
}

const CachedWheelsSchema = z.array(
  z.object({
    name: z.string(),
    version: z.string(),
    path: z.string(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
  }),
);

/**
 * Verified resolutions in the shared database. A hit names wheel files by path on the broker that made
 * them; the pipeline checks each file's sha256 before use and resolves anew when one is missing here.
 */
export function createPgResolutionCache(pool: PgPool, now: () => Date = () => new Date()): ResolutionCache {
  return {
    async get(key) {
      const [row] = await pool.query<{ wheels: unknown }>("SELECT wheels FROM resolution_cache WHERE key = $1", [key]);
      if (row === undefined) return undefined;
      const parsed = CachedWheelsSchema.safeParse(row.wheels);
      if (!parsed.success) return undefined;
      await pool.query("UPDATE resolution_cache SET used_at = $1 WHERE key = $2", [now().toISOString(), key]);
      return parsed.data satisfies CachedWheel[];
    },
    async put(key, wheels) {
      const at = now().toISOString();
      await pool.query(
        "INSERT INTO resolution_cache (key, created_at, used_at, wheels) VALUES ($1, $2, $2, $3::jsonb) ON CONFLICT (key) DO UPDATE SET used_at = excluded.used_at, wheels = excluded.wheels",
        [key, at, JSON.stringify(wheels)],
      );
    },
  };
}
