import type { Db } from "../state/db.js";

/** One cached metadata response. Keys are URLs without credentials, so a password never lands on disk. */
export interface CachedResponse {
  url: string;
  /** milliseconds since the epoch, by the client's clock */
  fetchedAt: number;
  etag: string | undefined;
  lastModified: string | undefined;
  contentType: string | undefined;
  body: Buffer;
}

/** Where the index client keeps responses; SQLite in production, a Map when no database is given. */
export interface HttpCacheStore {
  get(url: string): Promise<CachedResponse | undefined>;
  put(entry: CachedResponse): Promise<void>;
  /** a 304 revalidated the entry: it is fresh again from `fetchedAt` */
  touch(url: string, fetchedAt: number): Promise<void>;
}

interface Row {
  url: string;
  fetched_at: number;
  etag: string | null;
  last_modified: string | null;
  content_type: string | null;
  body: Buffer;
}

/** The cache in the state database's `http_cache` table, shared by every process using that state directory. */
export function sqliteHttpCache(db: Db): HttpCacheStore {
  const select = db.prepare<[string], Row>("SELECT url, fetched_at, etag, last_modified, content_type, body FROM http_cache WHERE url = ?");
  const upsert = db.prepare(
    `INSERT INTO http_cache (url, fetched_at, etag, last_modified, content_type, body)
     VALUES (@url, @fetched_at, @etag, @last_modified, @content_type, @body)
     ON CONFLICT(url) DO UPDATE SET fetched_at = excluded.fetched_at, etag = excluded.etag,
       last_modified = excluded.last_modified, content_type = excluded.content_type, body = excluded.body`,
  );
  const touch = db.prepare("UPDATE http_cache SET fetched_at = ? WHERE url = ?");
  return {
    async get(url) {
      const row = select.get(url);
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
      upsert.run({
        url: entry.url,
        fetched_at: entry.fetchedAt,
        etag: entry.etag ?? null,
        last_modified: entry.lastModified ?? null,
        content_type: entry.contentType ?? null,
        body: entry.body,
      });
    },
    async touch(url, fetchedAt) {
      touch.run(fetchedAt, url);
    },
  };
}

/** A per-client in-memory cache, for a client built without a state database. */
export function memoryHttpCache(): HttpCacheStore {
  const entries = new Map<string, CachedResponse>();
  return {
    get: async (url) => entries.get(url),
    put: async (entry) => void entries.set(entry.url, entry),
    async touch(url, fetchedAt) {
      const entry = entries.get(url);
      if (entry !== undefined) entries.set(url, { ...entry, fetchedAt });
    },
  };
}
