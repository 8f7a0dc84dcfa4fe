import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { chmodSync, rmSync } from "node:fs";
import { request } from "undici";
import { z } from "zod";
import { errorMessage } from "../errors.js";
import type { Logger } from "../log.js";

/** One file of a project page as the upstream index lists it (PEP 691). */
export const UpstreamFileSchema = z.looseObject({
  filename: z.string().min(1),
  url: z.string().min(1),
  hashes: z.record(z.string(), z.string()).default({}),
  "requires-python": z.string().nullish(),
  yanked: z.union([z.boolean(), z.string()]).optional(),
  "upload-time": z.string().nullish(),
  size: z.number().optional(),
});
export type UpstreamFile = z.infer<typeof UpstreamFileSchema>;

export const UpstreamProjectSchema = z.looseObject({
  name: z.string(),
  files: z.array(UpstreamFileSchema),
  versions: z.array(z.string()).optional(),
});
export type UpstreamProject = z.infer<typeof UpstreamProjectSchema>;

/** What the sandbox may see: the proxy asks this before listing a project or a file. */
export interface ProxyFilter {
  project(normalizedName: string): boolean;
  file(normalizedName: string, file: UpstreamFile): boolean;
}

/** A file the sandbox fetched through the proxy, with the hash the index promised and the one received. */
export interface ServedFile {
  project: string;
  filename: string;
  url: string;
  sha256: string;
}

export interface ProxyOptions {
  upstream: string; // PEP 503 base URL, trailing slash
  socketPath: string;
  filter: ProxyFilter;
  log: Logger;
  timeoutMs?: number;
  headers?: Record<string, string>; // e.g. Authorization for a private index; never logged
  maxFileBytes?: number;
}

export interface IndexProxy {
  socketPath: string;
  /** Files served to the sandbox, by filename: their hash was checked against the index's. */
  served: Map<string, ServedFile>;
  /** Projects and files the sandbox asked for and was refused: the start of a refusal chain. */
  refused: Array<{ project: string; filename?: string; reason: string }>;
  /** Files listed to the sandbox (filename → upstream entry), so pipgate can fetch wheels itself. */
  listed: Map<string, { project: string; file: UpstreamFile }>;
  close(): Promise<void>;
}

const SIMPLE_JSON = "application/vnd.pypi.simple.v1+json";

function normalize(name: string): string {
  return name.replace(/[-_.]+/g, "-").toLowerCase();
}

/**
 * The sandbox's only way out: a PEP 691 index on a unix socket that lists only what the filter allows,
 * rewrites every file URL to point back at itself, and passes files through only when their bytes match
 * the sha256 the upstream index lists. A file without a sha256 is never served (fail closed).
 */
export async function startIndexProxy(options: ProxyOptions): Promise<IndexProxy> {
  const { upstream, filter, log } = options;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxFileBytes = options.maxFileBytes ?? 512 * 1024 * 1024;
  const listed = new Map<string, { project: string; file: UpstreamFile }>();
  const served = new Map<string, ServedFile>();
  const refused: IndexProxy["refused"] = [];

  async function fetchUpstream(url: string, accept: string) {
    return request(url, {
      method: "GET",
      headers: { accept, ...options.headers },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      maxRedirections: 3,
    } as Parameters<typeof request>[1]);
  }

  async function projectPage(res: ServerResponse, rawName: string): Promise<void> {
    const name = normalize(rawName);
    if (!filter.project(name)) {
      refused.push({ project: name, reason: "not allowed by the environment's policy" });
      send(res, 404, "text/plain", `pipgate: ${name} is not allowed in this environment\n`);
      return;
    }
    const upstreamUrl = new URL(`${encodeURIComponent(name)}/`, upstream).toString();
    const answer = await fetchUpstream(upstreamUrl, SIMPLE_JSON);
    if (answer.statusCode !== 200) {
      await answer.body.dump();
      send(res, answer.statusCode === 404 ? 404 : 502, "text/plain", `pipgate: upstream answered ${answer.statusCode}\n`);
      return;
    }
    const parsed = UpstreamProjectSchema.safeParse(await answer.body.json());
    if (!parsed.success) {
      send(res, 502, "text/plain", "pipgate: the index's answer is not a PEP 691 project page\n");
      return;
    }
    const files = [];
    for (const file of parsed.data.files) {
      if (file.hashes.sha256 === undefined) continue;
      if (!filter.file(name, file)) continue;
      const absolute = new URL(file.url, upstreamUrl).toString();
      listed.set(file.filename, { project: name, file: { ...file, url: absolute } });
      files.push({ ...file, url: `/files/${encodeURIComponent(file.filename)}` });
    }
    if (files.length === 0) refused.push({ project: name, reason: "no release of it is allowed by the environment's policy" });
    const body = JSON.stringify({ meta: { "api-version": "1.1" }, name, files });
    send(res, 200, SIMPLE_JSON, body);
  }

  async function file(res: ServerResponse, filename: string): Promise<void> {
    const entry = listed.get(filename);
    if (entry === undefined) {
      refused.push({ project: "?", filename, reason: "file was never listed to the sandbox" });
      send(res, 404, "text/plain", "pipgate: unknown file\n");
      return;
    }
    const expected = entry.file.hashes.sha256;
    const answer = await fetchUpstream(entry.file.url, "*/*");
    if (answer.statusCode !== 200) {
      await answer.body.dump();
      send(res, 502, "text/plain", `pipgate: upstream answered ${answer.statusCode}\n`);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of answer.body) {
      size += (chunk as Buffer).length;
      if (size > maxFileBytes) throw new Error(`${filename} is larger than ${maxFileBytes} bytes`);
      chunks.push(chunk as Buffer);
    }
    const bytes = Buffer.concat(chunks);
    const actual = createHash("sha256").update(bytes).digest("hex");
    if (actual !== expected) {
      refused.push({ project: entry.project, filename, reason: `sha256 mismatch: index lists ${expected}, file is ${actual}` });
      log.warn({ filename, expected, actual }, "hash mismatch from the index; file withheld from the sandbox");
      send(res, 502, "text/plain", `pipgate: ${filename} does not match the hash the index lists\n`);
      return;
    }
    served.set(filename, { project: entry.project, filename, url: entry.file.url, sha256: actual });
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(bytes.length) });
    res.end(bytes);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", "http://sandbox").pathname;
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
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "content-type": type, "content-length": String(Buffer.byteLength(body)) });
  res.end(body);
}
