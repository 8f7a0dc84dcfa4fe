import { randomUUID } from "node:crypto";
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpNodeServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { HttpSchema, type HttpConfig } from "../config/schema.js";
import { errorMessage, type Result } from "../errors.js";
import { bearerToken } from "../grants/tokens.js";
import type { Logger } from "../log.js";
import { heapCollector } from "./heap.js";
import { readBoundedBody } from "./http-body.js";
import { SessionTable, type SessionEntry, type SessionStats } from "./http-sessions.js";

/** Where `--http` listens. */
export interface ListenAddress {
  host: string;
  port: number;
}

/** `HOST:PORT`, `[V6]:PORT` or a bare `PORT` (loopback). */
export function parseListenAddress(text: string): Result<ListenAddress> {
  const match = /^(?:(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[2]);
  if (match === null || !Number.isInteger(port) || port > 65535) {
    return { ok: false, error: `--http takes HOST:PORT (e.g. 127.0.0.1:8765), not ${JSON.stringify(text)}` };
  }
  const host = (match[1] ?? "127.0.0.1").replace(/^\[|\]$/g, "");
  return { ok: true, value: { host, port } };
}

/** Whether a host name or address only ever reaches this machine. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}

export interface HttpServeOptions {
  listen: ListenAddress;
  /** Binding anything but loopback needs this, on purpose. */
  allowRemote?: boolean;
  /** Further Host header values to accept (a reverse proxy's name); loopback names are accepted for a loopback bind. */
  allowedHosts?: readonly string[];
  /** Further browser origins to accept; requests without an Origin header (non-browser clients) are accepted. */
  allowedOrigins?: readonly string[];
  /** The grant behind a bearer token, or undefined. */
  grantForToken: (token: string) => string | undefined;
  /** Why a grant with a valid token may not use this endpoint (a console role), or undefined: answered 403. */
  refuseGrant?: (grant: string) => string | undefined;
  /** A fresh MCP server whose every call comes from `grant`: one per session. */
  serverFor: (grant: string) => { server: Server; close: () => Promise<void> };
  /** `http:` of pipgate.yaml: session idle time, session caps, body size; its defaults when absent. */
  limits?: HttpConfig;
  log: Logger;
}

export interface HttpServer {
  url: string;
  /** open sessions, for `doctor` and tests */
  sessionCount(): number;
  /** open sessions and what happened to the others since start */
  sessionStats(): SessionStats;
  close(): Promise<void>;
}

interface Session {
  transport: StreamableHTTPServerTransport;
  close: () => Promise<void>;
}

const MCP_PATH = "/mcp";
/** JSON-RPC code the SDK and the spec's examples use for an unknown session. */
const SESSION_NOT_FOUND = -32001;
/** Bounds of node's HTTP server: a client gets this long for its headers, and for its whole request. */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 60_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
const MAX_HEADER_BYTES = 16 * 1024;
const MAX_HEADERS = 100;
/** Sessions closed before a sweep asks V8 for a full collection (see heap.ts): a few MB of garbage. */
const COLLECT_AFTER_CLOSED = 64;

export function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Listens, then adds the Host and Origin values the server answers to (DNS rebinding): loopback's names
 * for a loopback bind, the bound name otherwise, and the configured extra hosts. Shared by the MCP
 * endpoint and the console, so the two cannot drift apart.
 */
export async function listenNamed(
  http: HttpNodeServer,
  listen: ListenAddress,
  allowed: { hosts: Set<string>; origins: Set<string>; extraHosts: readonly string[] | undefined },
): Promise<Result<number>> {
  const listening = await new Promise<Result<AddressInfo>>((resolve) => {
    http.once("error", (error) => resolve({ ok: false, error: `cannot listen on ${hostPort(listen.host, listen.port)}: ${errorMessage(error)}` }));
    http.listen(listen.port, listen.host, () => resolve({ ok: true, value: http.address() as AddressInfo }));
  });
  if (!listening.ok) return listening;
  const port = listening.value.port;
  const names = isLoopback(listen.host) ? ["127.0.0.1", "localhost", "::1", listen.host] : [listen.host];
  for (const name of names) {
    allowed.hosts.add(hostPort(name, port).toLowerCase());
    allowed.origins.add(`http://${hostPort(name, port)}`.toLowerCase());
  }
  for (const extra of allowed.extraHosts ?? []) allowed.hosts.add(extra.toLowerCase());
  return { ok: true, value: port };
}

function refuse(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}, code = -32000): void {
  if (res.headersSent) return;
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null }));
}

/** How often idle sessions are looked for: a quarter of the idle time, between 50 ms and 30 s. */
export function sweepIntervalMs(idleMs: number): number {
  return Math.min(30_000, Math.max(50, Math.floor(idleMs / 4)));
}

/**
 * `pipgate serve --http`: the SDK's Streamable HTTP transport behind node:http. Before the SDK sees a
 * request, the Host header and any Origin must name this server (DNS rebinding: 403), and a bearer token
 * must open a grant (401 with `WWW-Authenticate: Bearer`). Each session gets its own MCP server and
 * transport, bound to the grant that opened it; a session id presented with another grant's token is 403.
 *
 * Sessions are bounded (`http:` in pipgate.yaml): one idle for `session_idle_seconds` is closed, and its id
 * then gets 404 (the spec's answer to an unknown session, so the client initializes again). At
 * `max_sessions_per_grant` or `max_sessions`, a new initialize closes the same grant's least recently used
 * idle session; when that grant has none, it is refused (429 at the grant's cap, 503 at the server's).
 * Another grant's session is never closed to admit one. Every POST body is read here, bounded by
 * `max_body_bytes` (413 beyond it), and handed to the SDK parsed, so the SDK never reads a body itself.
 */
export async function startHttpServer(options: HttpServeOptions): Promise<Result<HttpServer>> {
  const { listen, log } = options;
  if (!isLoopback(listen.host) && options.allowRemote !== true) {
    return {
      ok: false,
      error: `refusing to listen on ${listen.host}, which is not a loopback address; pass --allow-remote if that is really meant (and put TLS in front)`,
    };
  }
  const limits = options.limits ?? HttpSchema.parse({});
  const idleMs = limits.session_idle_seconds * 1000;
  const sessions = new SessionTable<Session>({ idleMs, maxPerGrant: limits.max_sessions_per_grant, maxTotal: limits.max_sessions });
  const collectGarbage = heapCollector();
  let closedSinceCollect = 0;
  const allowedHosts = new Set<string>();
  const allowedOrigins = new Set<string>((options.allowedOrigins ?? []).map((origin) => origin.toLowerCase()));

  /** Closes a session already taken out of the table: its MCP server, and with it its transport. */
  function closeSession(entry: SessionEntry<Session>, why: string): void {
    closedSinceCollect += 1;
    log.info({ grant: entry.grant, session: entry.id }, `MCP session ${why}`);
    void entry.value.close().catch(() => undefined);
  }

  /** Counts a request against its session until its response is over (an SSE stream keeps it busy). */
  function track(entry: SessionEntry<Session>, res: ServerResponse, started: boolean): void {
    if (!started) sessions.begin(entry);
    res.once("close", () => sessions.end(entry));
  }

  /** The POST body, parsed; undefined when a refusal has been sent instead. */
  async function readBody(req: IncomingMessage, res: ServerResponse): Promise<{ value: unknown } | undefined> {
    const read = await readBoundedBody(req, limits.max_body_bytes);
    if (!read.ok) {
      if (read.reason === "too-large") {
        refuse(res, 413, `request body larger than ${String(limits.max_body_bytes)} bytes (http.max_body_bytes in pipgate.yaml); send a smaller request`, {
          connection: "close",
        });
      }
      return undefined;
    }
    try {
      return { value: JSON.parse(read.body.toString("utf8")) as unknown };
    } catch (error) {
      refuse(res, 400, `Parse error: request body is not JSON: ${errorMessage(error)}`, {}, -32700);
      return undefined;
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const host = (req.headers.host ?? "").toLowerCase();
    if (!allowedHosts.has(host)) return refuse(res, 403, `Host ${JSON.stringify(host)} is not this server`);
    const origin = req.headers.origin;
    if (origin !== undefined && !allowedOrigins.has(origin.toLowerCase())) return refuse(res, 403, `Origin ${JSON.stringify(origin)} is not allowed`);
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (path !== MCP_PATH) return refuse(res, 404, `the MCP endpoint is ${MCP_PATH}`);

    const token = bearerToken(req.headers.authorization);
    const grant = token === undefined ? undefined : options.grantForToken(token);
    if (grant === undefined) {
      const challenge = token === undefined ? 'Bearer realm="pipgate"' : 'Bearer realm="pipgate", error="invalid_token"';
      return refuse(res, 401, token === undefined ? "a bearer token is required" : "the bearer token opens no grant", { "www-authenticate": challenge });
    }
    const refused = options.refuseGrant?.(grant);
    if (refused !== undefined) return refuse(res, 403, refused);

    const sessionHeader = req.headers["mcp-session-id"];
    const sessionId = Array.isArray(sessionHeader) ? sessionHeader[0] : sessionHeader;
    if (sessionId !== undefined) {
      const entry = sessions.get(sessionId);
      if (entry !== undefined && entry.grant !== grant) return refuse(res, 403, "this session belongs to another grant");
      if (entry !== undefined && sessions.isExpired(entry)) {
        sessions.expire(entry);
        closeSession(entry, "expired");
      }
      if (entry === undefined || sessions.get(sessionId) === undefined) {
        return refuse(
          res,
          404,
          `Session not found: it was closed or sat idle longer than ${String(limits.session_idle_seconds)} s; send a new initialize request without Mcp-Session-Id`,
          {},
          SESSION_NOT_FOUND,
        );
      }
      track(entry, res, false);
      const body = req.method === "POST" ? await readBody(req, res) : { value: undefined };
      if (body === undefined) return;
      return entry.value.transport.handleRequest(req, res, body.value);
    }
    if (req.method !== "POST") return refuse(res, 400, "no session: send an initialize request first");
    const body = await readBody(req, res);
    if (body === undefined) return;
    if (!isInitializeRequest(body.value)) return refuse(res, 400, "no session: the first request must be initialize");

    const admission = sessions.admit(grant);
    if (!admission.ok) {
      log.warn({ grant, cap: admission.cap }, "MCP session refused at a cap");
      const retry: Record<string, string> = admission.status === 503 ? { "retry-after": String(limits.session_idle_seconds) } : {};
      return refuse(res, admission.status, admission.message, retry);
    }
    if (admission.evicted !== undefined) closeSession(admission.evicted, `closed to make room for a new session of its grant (cap reached)`);

    const id = randomUUID();
    const made = options.serverFor(grant);
    const server = made.server;
    // Closing the server closes the transport, whose onclose comes back here: close once.
    let closed = false;
    const close = async (): Promise<void> => {
      if (closed) return;
      closed = true;
      await made.close();
    };
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => id,
      maxRequestBodySize: limits.max_body_bytes,
      onsessioninitialized: () => log.info({ grant, session: id }, "MCP session opened"),
    });
    const entry = sessions.add(id, grant, { transport, close });
    track(entry, res, true);
    transport.onclose = () => {
      // Ended by the client (DELETE) or the transport; expiry and eviction took it out of the table already.
      if (sessions.remove(id) !== undefined) {
        closedSinceCollect += 1;
        log.info({ grant, session: id }, "MCP session closed");
      }
      void close().catch(() => undefined);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body.value);
    // An initialize the transport refused (a bad Accept header, say) opened nothing: drop it now.
    if (transport.sessionId === undefined && sessions.remove(id) !== undefined) void close().catch(() => undefined);
  }

  const http = createHttpServer(
    { headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS, maxHeaderSize: MAX_HEADER_BYTES },
    (req, res) => {
      handle(req, res).catch((error: unknown) => {
        log.error({ err: errorMessage(error) }, "HTTP request failed");
        refuse(res, 500, "internal error");
      });
    },
  );
  http.maxHeadersCount = MAX_HEADERS;
  const listening = await listenNamed(http, listen, { hosts: allowedHosts, origins: allowedOrigins, extraHosts: options.allowedHosts });
  if (!listening.ok) return listening;
  const port = listening.value;
  const url = `http://${hostPort(listen.host, port)}${MCP_PATH}`;

  // The sweep never keeps the process alive; close() stops it.
  const sweeper = setInterval(() => {
    for (const entry of sessions.takeExpired()) closeSession(entry, "expired");
    if (closedSinceCollect < COLLECT_AFTER_CLOSED) return;
    closedSinceCollect = 0;
    // Once the closes have run: their MCP servers are garbage now, not when traffic next allocates.
    setTimeout(collectGarbage, 100).unref();
  }, sweepIntervalMs(idleMs));
  sweeper.unref();

  return {
    ok: true,
    value: {
      url,
      sessionCount: () => sessions.size,
      sessionStats: () => sessions.stats(),
      async close() {
        clearInterval(sweeper);
        const open = sessions.takeAll();
        await Promise.all(open.map((entry) => entry.value.close().catch(() => undefined)));
        await new Promise<void>((resolve) => {
          http.close(() => resolve());
          http.closeAllConnections();
        });
      },
    },
  };
}
