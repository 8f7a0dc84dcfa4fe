import type { LoadedConfig } from "../config/schema.js";
import type { Result } from "../errors.js";
import type { Db } from "../state/db.js";
import type { HttpCacheStore } from "./http-cache.js";
import { createIndexClient, defaultIndexUrl } from "./client.js";
import type { IndexClient } from "./types.js";

export interface ConfiguredIndex {
  index: IndexClient;
  /** Authorization for file downloads through the proxy, when the index needs credentials. */
  headers: Record<string, string> | undefined;
}

/**
 * The index client the configuration describes: `index.url`, or pip's own default index asked of the
 * first environment's interpreter; the password read from the variable `index.password_env` names.
 */
export async function indexFromConfig(
  config: LoadedConfig,
  options: { db?: Db; cache?: HttpCacheStore; now?: () => Date; python?: string; retries?: number; cacheTtlSeconds?: number } = {},
): Promise<Result<ConfiguredIndex>> {
  let url = config.index.url;
  if (url === undefined) {
    const python = options.python ?? Object.values(config.environments)[0]?.python;
    if (python === undefined) return { ok: false, error: "index.url is not set and no environment's pip can name its default index" };
    const found = await defaultIndexUrl(python);
    if (!found.ok) return { ok: false, error: `index.url is not set and pip's default index is unknown: ${found.error}` };
    url = found.value;
  }
  const { username } = config.index;
  const password = config.index.password_env === undefined ? undefined : process.env[config.index.password_env];
  const index = createIndexClient({
    url,
    timeoutMs: config.index.timeout_ms,
    retries: options.retries ?? config.index.retries,
    cacheTtlSeconds: options.cacheTtlSeconds ?? config.index.cache_ttl_seconds,
    username,
    password,
    db: options.db,
    cache: options.cache,
    now: options.now,
  });
  const headers =
    username !== undefined && password !== undefined ? { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}` } : undefined;
  return { ok: true, value: { index, headers } };
}
