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
  /** where responses are cached (the state store's); without it and without `db`, the cache lives as long as the client */
  cache?: HttpCacheStore | undefined;
  /** the state database, for a cache in it when no `cache` is given */
  db?: Db | undefined;
  now?: (() => Date) | undefined;
  dispatcher?: Dispatcher | undefined;
  /** bodies larger than this are refused (default 32 MiB: the largest real project pages are a few MiB) */
  maxBodyBytes?: number | undefined;
  /** waits between retries (tests pass one that does not wait) */
  sleep?: ((ms: number) => Promise<void>) | undefined;
}

const JSON_ACCEPT = "application/json";
/** PEP 740's Integrity API answers: its own media type, plain JSON as a fallback. */
const INTEGRITY_ACCEPT = "application/vnd.pypi.integrity.v1+json, application/json;q=0.9";
/** A provenance is a few KiB per attestation: a larger answer is refused, not read. */
const MAX_PROVENANCE_BYTES = 1024 * 1024;

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
  const cache: HttpCacheStore = options.cache ?? (options.db === undefined ? memoryHttpCache() : sqliteHttpCache(options.db));
  const now = options.now ?? (() => new Date());
  const authorization = username === undefined ? undefined : `Basic ${Buffer.from(`${username}:${password ?? ""}`).toString("base64")}`;

  /** Whether a response fetched (or revalidated) at `fetchedAt` may still be used at `at` without asking the index. */
  const fresh = (fetchedAt: number, at: number): boolean => at - fetchedAt < options.cacheTtlSeconds * 1000 && at >= fetchedAt;

  /**
   * Project pages as parsed, while their response is fresh: a check or an install of a project asked
   * for a moment ago neither reads the cache's copy of the body nor parses it again. Exactly as fresh as
   * the cache (same fetch time, same TTL), bounded, and read-only by contract (nothing mutates a ProjectInfo).
   */
  const parsedPages = new Map<string, { fetchedAt: number; info: ProjectInfo }>();
  const PARSED_PAGES_MAX = 256;

  async function get(url: string, accept: string, maxBytes?: number): Promise<Result<CachedResponse, IndexFailure>> {
    const cached = await cache.get(url);
    const at = now().getTime();
    if (cached !== undefined && fresh(cached.fetchedAt, at)) {
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
      maxBytes: maxBytes ?? options.maxBodyBytes ?? 32 * 1024 * 1024,
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
      const memo = parsedPages.get(url);
      if (memo !== undefined && fresh(memo.fetchedAt, now().getTime())) return { ok: true, value: memo.info };
      const answer = await get(url, SIMPLE_ACCEPT);
      if (!answer.ok) return answer;
      const page = parseSimplePage(answer.value.body.toString("utf8"), answer.value.contentType ?? "", url, normalized);
      if (!page.ok) return { ok: false, error: { kind: "invalid", message: `${url}: ${page.error}` } };
      parsedPages.delete(url);
      if (parsedPages.size >= PARSED_PAGES_MAX) parsedPages.delete(parsedPages.keys().next().value!);
      parsedPages.set(url, { fetchedAt: answer.value.fetchedAt, info: page.value });
      return page;
    },
    async release(name, version): Promise<Result<ReleaseInfo, IndexFailure>> {
      const normalized = normalizeName(name);
      const url = new URL(`${encodeURIComponent(normalized)}/${encodeURIComponent(version)}/json`, apiBase).toString();
      const answer = await get(url, JSON_ACCEPT);
      if (!answer.ok) return answer;
      const release = parseReleaseJson(answer.value.body.toString("utf8"));
      return release.ok ? release : { ok: false, error: { kind: "invalid", message: `${url}: ${release.error}` } };
    },
    async provenance(url): Promise<Result<string, IndexFailure>> {
      let target: URL;
      try {
        target = new URL(url);
      } catch {
        return { ok: false, error: { kind: "invalid", message: `${url}: not a URL` } };
      }
      if (target.origin !== parsed.origin) {
        return { ok: false, error: { kind: "invalid", message: `${url}: the index names a provenance on another origin than ${parsed.origin}; refused` } };
      }
      const answer = await get(target.toString(), INTEGRITY_ACCEPT, MAX_PROVENANCE_BYTES);
      return answer.ok ? { ok: true, value: answer.value.body.toString("utf8") } : answer;
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
