import { DEFAULT_INDEX_NAME } from "../config/index-names.js";
import type { LoadedConfig } from "../config/schema.js";
import type { Result } from "../errors.js";
import type { Db } from "../state/db.js";
import type { HttpCacheStore } from "./http-cache.js";
import { createIndexClient, defaultIndexUrl } from "./client.js";
import type { IndexEndpoint, IndexSet } from "./index-set.js";
import type { IndexClient } from "./types.js";

export interface ConfiguredIndex {
  /** the default index (`index:`) */
  index: IndexClient;
  /** Authorization for file downloads through the proxy, when the index needs credentials. */
  headers: Record<string, string> | undefined;
  /** the default index and every named one of `indexes:` */
  indexes: IndexSet;
}

type ClientOptions = { db?: Db; cache?: HttpCacheStore; now?: () => Date; python?: string; retries?: number; cacheTtlSeconds?: number };

/**
 * The index clients the configuration describes: `index.url`, or pip's own default index asked of the
 * first environment's interpreter, and each of `indexes:`; passwords read from the variables their
 * `password_env` names. A named index whose password variable is unset is an error, not an
 * unauthenticated client.
 */
export async function indexFromConfig(config: LoadedConfig, options: ClientOptions = {}): Promise<Result<ConfiguredIndex>> {
  let url = config.index.url;
  if (url === undefined) {
    const python = options.python ?? Object.values(config.environments)[0]?.python;
    if (python === undefined) return { ok: false, error: "index.url is not set and no environment's pip can name its default index" };
    const found = await defaultIndexUrl(python);
    if (!found.ok) return { ok: false, error: `index.url is not set and pip's default index is unknown: ${found.error}` };
    url = found.value;
  }
  const password = config.index.password_env === undefined ? undefined : process.env[config.index.password_env];
  const defaults = { timeoutMs: config.index.timeout_ms, retries: config.index.retries, cacheTtlSeconds: config.index.cache_ttl_seconds };
  const main = endpoint(DEFAULT_INDEX_NAME, url, config.index.username, password, defaults, options);
  const named = new Map<string, IndexEndpoint>();
  for (const [name, entry] of Object.entries(config.indexes)) {
    let secret: string | undefined;
    if (entry.password_env !== undefined) {
      secret = process.env[entry.password_env];
      if (secret === undefined || secret === "") {
        return {
          ok: false,
          error: `indexes.${name}.password_env names the environment variable ${entry.password_env}, which is unset; export it before starting pipgate`,
        };
      }
    }
    const bounds = {
      timeoutMs: entry.timeout_ms ?? defaults.timeoutMs,
      retries: entry.retries ?? defaults.retries,
      cacheTtlSeconds: entry.cache_ttl_seconds ?? defaults.cacheTtlSeconds,
    };
    named.set(name, endpoint(name, entry.url, entry.username, secret, bounds, options));
  }
  return { ok: true, value: { index: main.client, headers: main.headers, indexes: { default: main, named } } };
}

function endpoint(
  name: string,
  url: string,
  username: string | undefined,
  password: string | undefined,
  bounds: { timeoutMs: number; retries: number; cacheTtlSeconds: number },
  options: ClientOptions,
): IndexEndpoint {
  const client = createIndexClient({
    url,
    timeoutMs: bounds.timeoutMs,
    retries: options.retries ?? bounds.retries,
    cacheTtlSeconds: options.cacheTtlSeconds ?? bounds.cacheTtlSeconds,
    username,
    password,
    db: options.db,
    cache: options.cache,
    now: options.now,
  });
  const headers =
    username !== undefined && password !== undefined ? { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}` } : undefined;
  return { name, client, headers };
}
