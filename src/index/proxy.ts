import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { errorMessage } from "../errors.js";
import type { Logger } from "../log.js";
import { normalizeName } from "../requirement/name.js";
import { loadUndici } from "./http-get.js";
import { sameOrigin } from "./index-set.js";
import type { IndexClient, IndexFile } from "./types.js";

/**
 * What the sandbox may see: the proxy asks before listing a project or a file. Each answers undefined to
 * allow, or the reason for hiding it; the reasons become the refusal chain when resolution fails.
 */
export interface ProxyFilter {
  project(normalizedName: string): string | undefined;
  file(normalizedName: string, file: IndexFile): string | undefined;
  /**
   * Told of each file just before the sandbox gets it, with its verified bytes: what the sandbox may ask
   * for next can depend on them (an sdist's build requirements). Answers a line for the log, if any.
   */
  served?(normalizedName: string, file: IndexFile, bytes: Buffer): Promise<string | undefined>;
}

/** A file the sandbox fetched through the proxy, with the hash the index promised and the one received. */
export interface ServedFile {
  project: string;
  version: string;
  filename: string;
  url: string;
  sha256: string;
  /** The verified bytes, in pipgate's content-addressed store. */
  path: string;
}

/**
 * Which index serves one project's page and files to the sandbox (its binding, or the default), with
 * that index's own credentials; or why none may (a name refused as dependency confusion).
 */
export type ProjectRoute = { ok: true; index: IndexClient; headers: Record<string, string> | undefined } | { ok: false; reason: string };

export interface ProxyOptions {
  /** the index of every project when there is no `route` */
  index: IndexClient;
  /** per project: the index its page and files come from; absent: `index` with `headers` for all */
  route?: (normalizedName: string) => Promise<ProjectRoute>;
  socketPath: string;
  filter: ProxyFilter;
  log: Logger;
  timeoutMs?: number;
  headers?: Record<string, string>; // e.g. Authorization for a private index; never logged
  maxFileBytes?: number;
  /** Cap on a PEP 658 metadata file; a larger one is refused (default 1 MiB; real ones are a few KB). */
  maxMetadataBytes?: number;
  /**
   * List the index's PEP 658/714 metadata files to the sandbox's pip (default false). Off because pip
   * 23.0.1, the sandbox image's, fails to resolve from a metadata file whose Name is not in canonical
   * form (Pygments, typing_extensions: "No matching distribution"); without it pip reads the wheel.
   */
  passMetadata?: boolean;
  /** Content-addressed store of verified files: a file already there is served without asking upstream. */
  storeDir: string;
  /**
   * Where `PUT /_pipgate/out/NAME` goes: the sandbox handing back its report and built wheels. The
   * receiver bounds and names what it keeps; without one, uploads are refused.
   */
  upload?: (name: string, declaredLength: number | undefined, body: IncomingMessage) => Promise<{ status: number; message?: string }>;
}

export interface IndexProxy {
  socketPath: string;
  /** Files served to the sandbox, by filename: their hash was checked against the index's. */
  served: Map<string, ServedFile>;
  /** Projects and files the sandbox asked for and was refused: the start of a refusal chain. */
  refused: Array<{ project: string; filename?: string; reason: string }>;
  /** Files listed to the sandbox (filename → upstream entry), so pipgate can fetch wheels itself. */
  listed: Map<string, { project: string; file: IndexFile }>;
  /** PEP 658 metadata files passed to the sandbox, by the filename of the distribution they describe. */
  metadataServed: Set<string>;
  close(): Promise<void>;
}

const SIMPLE_JSON = "application/vnd.pypi.simple.v1+json";

/** A listed file's bytes once verified and stored, or why they were not. */
type Fetched = { ok: true; path: string; bytes: Buffer } | { ok: false; status: number; reason: string };

/**
 * The sandbox's only way out: a PEP 691 index on a unix socket that lists only what the filter allows,
 * rewrites every file URL to point back at itself, and passes files through only when their bytes match
 * the sha256 the upstream index lists. A file without a sha256 is never served (fail closed).
 */
export async function startIndexProxy(options: ProxyOptions): Promise<IndexProxy> {
  const { index, filter, log } = options;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxFileBytes = options.maxFileBytes ?? 512 * 1024 * 1024;
  const maxMetadataBytes = options.maxMetadataBytes ?? 1024 * 1024;
  const metadataServed = new Set<string>();
  // Upstream fetches under way or done, by filename: the wheel a metadata request names is fetched
  // as soon as pip asks for its metadata, and pip's own request for it later waits for the same fetch.
  const fetching = new Map<string, Promise<Fetched>>();
  const listed = new Map<string, { project: string; file: IndexFile }>();
  const served = new Map<string, ServedFile>();
  const refused: IndexProxy["refused"] = [];
  // The credentials each listed file is fetched with: its own index's, and only on that index's origin.
  const credentials = new Map<string, Record<string, string>>();

  async function fetchUpstream(url: string, accept: string, headers: Record<string, string> | undefined) {
    const { request } = await loadUndici();
    return request(url, { method: "GET", headers: { accept, ...headers }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  }

  async function routeOf(name: string): Promise<ProjectRoute> {
    if (options.route === undefined) return { ok: true, index, headers: options.headers };
    try {
      return await options.route(name);
    } catch (error) {
      return { ok: false, reason: `choosing the index of ${name} failed: ${errorMessage(error)}` };
    }
  }

  async function projectPage(res: ServerResponse, rawName: string): Promise<void> {
    const name = normalizeName(rawName);
    const hidden = filter.project(name);
    if (hidden !== undefined) {
      refused.push({ project: name, reason: hidden });
      send(res, 404, "text/plain", `pipgate: ${name} is not allowed in this environment\n`);
      return;
    }
    const route = await routeOf(name);
    if (!route.ok) {
      refused.push({ project: name, reason: route.reason });
      send(res, 404, "text/plain", `pipgate: ${route.reason}\n`);
      return;
    }
    const page = await route.index.project(name);
    if (!page.ok) {
      refused.push({ project: name, reason: page.error.message });
      send(res, page.error.kind === "not-found" ? 404 : 502, "text/plain", `pipgate: ${page.error.message}\n`);
      return;
    }
    const files = [];
    const reasons = new Set<string>();
    for (const file of page.value.files) {
      if (file.sha256 === undefined) continue;
      const why = filter.file(name, file);
      if (why !== undefined) {
        reasons.add(why);
        continue;
      }
      listed.set(file.filename, { project: name, file });
      if (route.headers !== undefined && sameOrigin(file.url, route.index.url)) credentials.set(file.filename, route.headers);
      else credentials.delete(file.filename);
      files.push({
        filename: file.filename,
        url: `/files/${encodeURIComponent(file.filename)}`,
        hashes: { sha256: file.sha256 },
        ...(file.requiresPython === undefined ? {} : { "requires-python": file.requiresPython }),
        ...(file.yanked === false ? {} : { yanked: file.yanked === "" ? true : file.yanked }),
        // PEP 714's core-metadata for current pip; pip 23.0 (the sandbox image's) reads only the older
        // dist-info-metadata, and only as the string "sha256=…" (a dict there crashes it). Either way
        // pip resolves from the metadata file; passed through only with the hash the index gave.
        ...(file.metadataSha256 === undefined || options.passMetadata !== true
          ? {}
          : { "core-metadata": { sha256: file.metadataSha256 }, "dist-info-metadata": `sha256=${file.metadataSha256}` }),
      });
    }
    // Every reason something was hidden is kept: when pip then fails, it names the chain.
    for (const reason of reasons) refused.push({ project: name, reason });
    if (files.length === 0 && reasons.size === 0) refused.push({ project: name, reason: "the index lists no file of it with a sha256" });
    const body = JSON.stringify({ meta: { "api-version": "1.1" }, name, files });
    send(res, 200, SIMPLE_JSON, body);
  }

  // Before the bytes go out, so that what the file makes available is there when the sandbox asks.
  async function tellFilter(entry: { project: string; file: IndexFile }, bytes: Buffer): Promise<void> {
    if (filter.served === undefined) return;
    try {
      const note = await filter.served(entry.project, entry.file, bytes);
      if (note !== undefined) log.info({ filename: entry.file.filename }, note);
    } catch (error) {
      log.warn({ filename: entry.file.filename, err: errorMessage(error) }, "reading a served file failed; it adds nothing the sandbox may fetch");
    }
  }

  /** Upstream bytes, capped and checked against the sha256 the index lists; never a partial answer. */
  async function fetchVerified(
    url: string,
    expected: string,
    cap: number,
    what: string,
    headers: Record<string, string> | undefined,
  ): Promise<{ ok: true; bytes: Buffer } | { ok: false; status: number; reason: string; log?: { actual: string } }> {
    const answer = await fetchUpstream(url, "*/*", headers);
    if (answer.statusCode !== 200) {
      await answer.body.dump();
      return { ok: false, status: 502, reason: `upstream answered ${answer.statusCode} for ${what}` };
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of answer.body) {
      size += (chunk as Buffer).length;
      if (size > cap) {
        answer.body.destroy();
        return { ok: false, status: 502, reason: `${what} is larger than ${cap} bytes; refused` };
      }
      chunks.push(chunk as Buffer);
    }
    const bytes = Buffer.concat(chunks);
    const actual = createHash("sha256").update(bytes).digest("hex");
    if (actual !== expected)
      return {
        ok: false,
        status: 502,
        reason: `sha256 mismatch: index lists ${expected}, ${what.endsWith(".metadata") ? "its metadata file" : "file"} is ${actual}`,
        log: { actual },
      };
    return { ok: true, bytes };
  }

  /** A listed file's verified bytes in the store: from the store, or fetched once however many ask. */
  function obtain(entry: { project: string; file: IndexFile }, expected: string): Promise<Fetched> {
    const filename = entry.file.filename;
    const stored = join(options.storeDir, expected, filename);
    let pending = fetching.get(filename);
    if (pending === undefined) {
      pending = (async (): Promise<Fetched> => {
        if (existsSync(stored)) return { ok: true, path: stored, bytes: readFileSync(stored) };
        const got = await fetchVerified(entry.file.url, expected, maxFileBytes, filename, credentials.get(filename));
        if (!got.ok) {
          fetching.delete(filename); // a retry asks upstream again (a mismatch is refused again)
          if (got.log !== undefined) log.warn({ filename, expected, actual: got.log.actual }, "hash mismatch from the index; file withheld from the sandbox");
          return got;
        }
        mkdirSync(join(options.storeDir, expected), { recursive: true });
        const partial = `${stored}.${process.pid}.${Date.now()}.part`;
        writeFileSync(partial, got.bytes);
        renameSync(partial, stored);
        return { ok: true, path: stored, bytes: got.bytes };
      })().catch((error: unknown): Fetched => {
        fetching.delete(filename);
        return { ok: false, status: 502, reason: `fetching ${filename} failed: ${errorMessage(error)}` };
      });
      fetching.set(filename, pending);
    }
    return pending;
  }

  async function file(res: ServerResponse, filename: string): Promise<void> {
    if (filename.endsWith(".metadata") && !listed.has(filename)) return metadata(res, filename.slice(0, -".metadata".length));
    const entry = listed.get(filename);
    if (entry === undefined) {
      refused.push({ project: "?", filename, reason: "file was never listed to the sandbox" });
      send(res, 404, "text/plain", "pipgate: unknown file\n");
      return;
    }
    const expected = entry.file.sha256;
    if (expected === undefined || !/^[0-9a-f]{64}$/.test(expected)) {
      send(res, 502, "text/plain", "pipgate: the index lists no usable sha256 for this file\n");
      return;
    }
    const got = await obtain(entry, expected);
    if (!got.ok) {
      refused.push({ project: entry.project, filename, reason: got.reason });
      send(res, got.status, "text/plain", `pipgate: ${filename}: ${got.reason}\n`);
      return;
    }
    // The filename is part of the path: pip and the wheel inspector read name and version from it.
    served.set(filename, { project: entry.project, version: entry.file.version, filename, url: entry.file.url, sha256: expected, path: got.path });
    await tellFilter(entry, got.bytes);
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(got.bytes.length) });
    res.end(got.bytes);
  }

  /**
   * PEP 658: a listed wheel's core metadata, fetched from the index at the file's URL + ".metadata",
   * capped and checked against the hash the index advertised. The wheel itself is fetched from here on,
   * beside pip's resolution, so that its download is done (and verified) when pip asks for it.
   */
  async function metadata(res: ServerResponse, filename: string): Promise<void> {
    const entry = listed.get(filename);
    const expected = entry?.file.metadataSha256;
    if (entry === undefined || expected === undefined || options.passMetadata !== true) {
      refused.push({ project: entry?.project ?? "?", filename: `${filename}.metadata`, reason: "no metadata file was listed to the sandbox for it" });
      send(res, 404, "text/plain", "pipgate: unknown file\n");
      return;
    }
    const wheelHash = entry.file.sha256;
    if (wheelHash !== undefined && /^[0-9a-f]{64}$/.test(wheelHash)) void obtain(entry, wheelHash);
    const got = await fetchVerified(`${entry.file.url}.metadata`, expected, maxMetadataBytes, `${filename}.metadata`, credentials.get(filename));
    if (!got.ok) {
      refused.push({ project: entry.project, filename: `${filename}.metadata`, reason: got.reason });
      log.warn({ filename, reason: got.reason }, "metadata file refused; withheld from the sandbox");
      send(res, got.status, "text/plain", `pipgate: ${filename}.metadata: ${got.reason}\n`);
      return;
    }
    metadataServed.add(filename);
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(got.bytes.length) });
    res.end(got.bytes);
  }

  async function upload(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    const length = req.headers["content-length"];
    const declared = length !== undefined && /^\d{1,15}$/.test(length) ? Number(length) : undefined;
    const answer = options.upload === undefined ? { status: 405, message: "this proxy takes no uploads" } : await options.upload(name, declared, req);
    // A refused body is not read on: the connection closes instead of draining it.
    if (!req.complete) res.setHeader("connection", "close");
    send(res, answer.status, "text/plain", `${answer.message ?? "stored"}\n`);
    if (!req.complete) res.on("finish", () => req.destroy());
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", "http://sandbox").pathname;
    if (req.method === "PUT" && path.startsWith("/_pipgate/out/")) return upload(req, res, decodeURIComponent(path.slice("/_pipgate/out/".length)));
    if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "text/plain", "read-only index\n");
    const projectMatch = /^\/simple\/([^/]+)\/?$/.exec(path);
    if (projectMatch?.[1] !== undefined) return projectPage(res, decodeURIComponent(projectMatch[1]));
    const fileMatch = /^\/files\/([^/]+)$/.exec(path);
    if (fileMatch?.[1] !== undefined) return file(res, decodeURIComponent(fileMatch[1]));
    send(res, 404, "text/plain", "not found\n");
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log.warn({ err: errorMessage(error), url: req.url }, "index proxy request failed");
      if (!res.headersSent) send(res, 502, "text/plain", `pipgate: ${errorMessage(error)}\n`);
      else res.destroy();
    });
  });
  mkdirSync(options.storeDir, { recursive: true });
  rmSync(options.socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.socketPath, () => resolve());
  });
  // The sandbox runs as an unprivileged user: it must be able to connect.
  chmodSync(options.socketPath, 0o666);

  return {
    socketPath: options.socketPath,
    served,
    refused,
    listed,
    metadataServed,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      // A speculative fetch still under way ends before the proxy is said to be closed.
      await Promise.all(fetching.values());
    },
  };
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "content-type": type, "content-length": String(Buffer.byteLength(body)) });
  res.end(body);
}
