import type { Dispatcher } from "undici";
import { errorMessage, type Result } from "../errors.js";
import { isolatedEnv } from "../config/python.js";
import { normalizeName } from "../requirement/name.js";
import type { Db } from "../state/db.js";
import { memoryHttpCache, sqliteHttpCache, type CachedResponse, type HttpCacheStore } from "./http-cache.js";
import { httpGet } from "./http-get.js";
import { jsonApiBase, parseReleaseJson } from "./json-api.js";
import { parseSimplePage, SIMPLE_ACCEPT } from "./simple-page.js";
import type { IndexClient, IndexFailure, ProjectInfo, ReleaseInfo } from "./types.js";

export interface IndexClientOptions {
  /** the simple index, e.g. http://127.0.0.1:8080/simple/; credentials in it are moved to a header */
  url: string;
  timeoutMs: number;
  retries: number;
  /**
   * How long a cached answer is used without asking the index. Past it, the client revalidates
   * (If-None-Match / If-Modified-Since); if the index cannot be reached then, the stale answer is NOT
   * used: decisions rest on metadata at most this old, or on none (fail closed).
   */
  cacheTtlSeconds: number;
  username?: string | undefined;
  password?: string | undefined;
  /** the state database; without it the cache lives as long as the client */
  db?: Db | undefined;
  now?: (() => Date) | undefined;
  dispatcher?: Dispatcher | undefined;
  /** bodies larger than this are refused (default 32 MiB: the largest real project pages are a few MiB) */
  maxBodyBytes?: number | undefined;
  /** waits between retries (tests pass one that does not wait) */
  sleep?: ((ms: number) => Promise<void>) | undefined;
}

const JSON_ACCEPT = "application/json";

/**
 * The index client policy asks: project pages (PEP 691 JSON, PEP 503 HTML as the fallback) and the
 * JSON API's release metadata, every answer cached in SQLite with revalidation. Failures are values
 * whose kind tells "does not exist" from "could not ask".
 */
export function createIndexClient(options: IndexClientOptions): IndexClient {
  const parsed = new URL(options.url.endsWith("/") ? options.url : `${options.url}/`);
  const username = options.username ?? (parsed.username === "" ? undefined : decodeURIComponent(parsed.username));
  const password = options.password ?? (parsed.password === "" ? undefined : decodeURIComponent(parsed.password));
  parsed.username = "";
  parsed.password = "";
  const simpleUrl = parsed.toString();
  const apiBase = jsonApiBase(simpleUrl);
  const cache: HttpCacheStore = options.db === undefined ? memoryHttpCache() : sqliteHttpCache(options.db);
  const now = options.now ?? (() => new Date());
  const authorization = username === undefined ? undefined : `Basic ${Buffer.from(`${username}:${password ?? ""}`).toString("base64")}`;

  async function get(url: string, accept: string): Promise<Result<CachedResponse, IndexFailure>> {
    const cached = await cache.get(url);
    const at = now().getTime();
    if (cached !== undefined && at - cached.fetchedAt < options.cacheTtlSeconds * 1000 && at >= cached.fetchedAt) {
      return { ok: true, value: cached };
    }
    const headers: Record<string, string> = { accept, "user-agent": "pipgate" };
    if (authorization !== undefined) headers.authorization = authorization;
    if (cached?.etag !== undefined) headers["if-none-match"] = cached.etag;
    if (cached?.lastModified !== undefined) headers["if-modified-since"] = cached.lastModified;
    const answer = await httpGet(url, {
      headers,
      timeoutMs: options.timeoutMs,
      retries: options.retries,
      maxBytes: options.maxBodyBytes ?? 32 * 1024 * 1024,
      dispatcher: options.dispatcher,
      sleep: options.sleep,
    });
    if (!answer.ok) {
      return {
        ok: false,
        error: { kind: "unreachable", message: `${url}: ${answer.error}${cached === undefined ? "" : " (the cached copy is too old to rely on)"}` },
      };
    }
    const { status } = answer.value;
    if (status === 304 && cached !== undefined) {
      await cache.touch(url, at);
      return { ok: true, value: { ...cached, fetchedAt: at } };
    }
    if (status === 404 || status === 410) return { ok: false, error: { kind: "not-found", message: `${url}: HTTP ${status}` } };
    if (status === 401 || status === 403) {
      return {
        ok: false,
        error: { kind: "unreachable", message: `${url}: the index refused access (HTTP ${status}); check index.username and index.password_env` },
      };
    }
    if (status !== 200) return { ok: false, error: { kind: "invalid", message: `${url}: unexpected HTTP ${status}` } };
    const entry: CachedResponse = {
      url,
      fetchedAt: at,
      etag: header(answer.value.headers.etag),
      lastModified: header(answer.value.headers["last-modified"]),
      contentType: header(answer.value.headers["content-type"]),
      body: answer.value.body,
    };
    await cache.put(entry);
    return { ok: true, value: entry };
  }

  return {
    url: simpleUrl,
    async project(name): Promise<Result<ProjectInfo, IndexFailure>> {
      const normalized = normalizeName(name);
      const url = new URL(`${encodeURIComponent(normalized)}/`, simpleUrl).toString();
      const answer = await get(url, SIMPLE_ACCEPT);
      if (!answer.ok) return answer;
      const page = parseSimplePage(answer.value.body.toString("utf8"), answer.value.contentType ?? "", url, normalized);
      return page.ok ? page : { ok: false, error: { kind: "invalid", message: `${url}: ${page.error}` } };
    },
    async release(name, version): Promise<Result<ReleaseInfo, IndexFailure>> {
      const normalized = normalizeName(name);
      const url = new URL(`${encodeURIComponent(normalized)}/${encodeURIComponent(version)}/json`, apiBase).toString();
      const answer = await get(url, JSON_ACCEPT);
      if (!answer.ok) return answer;
      const release = parseReleaseJson(answer.value.body.toString("utf8"));
      return release.ok ? release : { ok: false, error: { kind: "invalid", message: `${url}: ${release.error}` } };
    },
  };
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * pip's own default index, asked of the interpreter at run time so that no index host name is written
 * in pipgate's files. Ambient pip configuration does not change the answer: it is pip's constant.
 */
export async function defaultIndexUrl(python: string): Promise<Result<string, string>> {
  try {
    // loaded on first use, not at import: commands that never run the interpreter skip it
    const { execa } = await import("execa");
    const { stdout } = await execa(python, ["-I", "-c", "from pip._internal.models.index import PyPI; print(PyPI.simple_url)"], {
      env: isolatedEnv(),
      extendEnv: false,
      timeout: 20_000,
    });
    const url = stdout.trim();
    return /^https?:\/\//.test(url)
      ? { ok: true, value: url.endsWith("/") ? url : `${url}/` }
      : { ok: false, error: `unexpected answer from ${python}: ${url}` };
  } catch (error) {
    return { ok: false, error: `cannot ask ${python} for pip's default index: ${errorMessage(error)}` };
  }
}
