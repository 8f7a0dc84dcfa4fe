import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { RequestOptions } from "@modelcontextprotocol/sdk/shared/protocol.js";
import {
  ErrorCode,
  McpError,
  ServerNotificationSchema,
  type CallToolResult,
  type GetPromptResult,
  type Implementation,
  type Progress,
  type Prompt,
  type ReadResourceResult,
  type Resource,
  type ResourceTemplate,
  type ServerCapabilities,
  type ServerNotification,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import type { RestartConfig } from "../config/upstream-schema.js";
import { errorMessage, type Result } from "../errors.js";
import type { Logger } from "../log.js";
import { collectList, type ListPage } from "./collect-list.js";
import { raceBounds } from "./race-bounds.js";
import { checkPrompt, checkResource, checkResourceTemplate, checkTool } from "./definitions.js";
import type { UpstreamTransport } from "./process-transport.js";
import type { UpstreamTransportFactory } from "./transports.js";

/** Bounds a request when the caller gives none: the SDK's own default for lists and reads … */
const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
/** … and for tool calls the interpreter's own default run time (300 s) with room to answer. */
const DEFAULT_CALL_TIMEOUT_MS = 330_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
/** How long a closing HTTP session gets to say goodbye (DELETE) to the upstream. */
const TERMINATE_TIMEOUT_MS = 2_000;

export interface UpstreamSessionOptions {
  log: Logger;
  restart: RestartConfig;
  /** How pipgate introduces itself to the upstream in `initialize`. */
  clientInfo: Implementation;
  /** Bound on the initialize handshake of each (re)start. */
  connectTimeoutMs?: number;
}

export interface RequestBounds {
  signal?: AbortSignal;
  /** The whole request, waiting for a restart included. */
  timeoutMs?: number;
}

export interface CallToolOptions extends RequestBounds {
  onprogress?: (progress: Progress) => void;
}

/** One client session's own upstream: its own process (stdio) or HTTP session, restarted when it crashes. */
export interface UpstreamSession {
  /** tools/list, all pages (capped); malformed or oversized definitions are dropped with a logged warning. */
  listTools(bounds?: RequestBounds): Promise<Result<Tool[]>>;
  callTool(name: string, args: Record<string, unknown>, options?: CallToolOptions): Promise<Result<CallToolResult>>;
  listResources(bounds?: RequestBounds): Promise<Result<Resource[]>>;
  listResourceTemplates(bounds?: RequestBounds): Promise<Result<ResourceTemplate[]>>;
  readResource(uri: string, bounds?: RequestBounds): Promise<Result<ReadResourceResult>>;
  listPrompts(bounds?: RequestBounds): Promise<Result<Prompt[]>>;
  getPrompt(name: string, args: Record<string, string>, bounds?: RequestBounds): Promise<Result<GetPromptResult>>;
  /** What the upstream said of itself in the last successful initialize. */
  serverInfo(): Implementation | undefined;
  capabilities(): ServerCapabilities | undefined;
  instructions(): string | undefined;
  /** Upstream notifications (logging messages, list_changed, resource updates) for the client side to forward. */
  onNotification(handler: (notification: ServerNotification) => void): void;
  /**
   * Called after a crashed upstream was started again: a new process with fresh state, whose definitions
   * may differ from the last listing (re-list, and re-check pins, before trusting a cached list).
   */
  onRestart(handler: () => void): void;
  /** The running upstream's process id (stdio), undefined between a crash and its restart. */
  pid(): number | undefined;
  /** Stops restarts and ends the upstream (its whole process group); calls in flight fail. */
  close(): Promise<void>;
}

interface Incarnation {
  client: Client;
  transport: UpstreamTransport;
  startedAt: number;
  dead: boolean;
}

/**
 * Connects one upstream session: one fresh transport from `factory`, so two client sessions never share an
 * upstream process (the interpreter keeps REPL state per process). Fails when the first start fails.
 */
export async function openUpstreamSession(factory: UpstreamTransportFactory, options: UpstreamSessionOptions): Promise<Result<UpstreamSession>> {
  const { log, restart } = options;
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const handlers: Array<(notification: ServerNotification) => void> = [];
  const restartHandlers: Array<() => void> = [];
  let closed = false;
  let current: Incarnation | undefined;
  let known: { info: Implementation | undefined; capabilities: ServerCapabilities | undefined; instructions: string | undefined } = {
    info: undefined,
    capabilities: undefined,
    instructions: undefined,
  };
  let delay = restart.initial_ms;
  let timer: NodeJS.Timeout | undefined;
  let connecting: UpstreamTransport | undefined;
  let ready: Promise<Result<Incarnation>> = Promise.resolve({ ok: false, error: "the upstream is not connected" });
  let settleReady: ((acquired: Result<Incarnation>) => void) | undefined;

  const ended = (transport: UpstreamTransport) => transport.describeEnd?.() ?? "closed the connection";

  async function connect(): Promise<Result<Incarnation>> {
    const transport = factory();
    connecting = transport;
    const client = new Client(options.clientInfo, { capabilities: {} });
    const incarnation: Incarnation = { client, transport, startedAt: Date.now(), dead: false };
    client.onerror = (error) => log.warn({ err: errorMessage(error).slice(0, 500) }, "upstream transport error");
    client.fallbackNotificationHandler = async (raw) => {
      const parsed = ServerNotificationSchema.safeParse(raw);
      if (!parsed.success) {
        log.warn({ method: String(raw.method).slice(0, 100) }, "dropped a notification from the upstream that is not an MCP server notification");
        return;
      }
      for (const handler of handlers) handler(parsed.data);
    };
    client.onclose = () => died(incarnation);
    try {
      await client.connect(transport, { timeout: connectTimeoutMs });
    } catch (error) {
      incarnation.dead = true;
      await transport.close().catch(() => undefined);
      const why = transport.describeEnd?.();
      return {
        ok: false,
        error: why === undefined ? `the upstream server did not complete the MCP handshake: ${describeError(error)}` : `the upstream server ${why}`,
      };
    } finally {
      connecting = undefined;
    }
    if (closed) {
      incarnation.dead = true;
      await client.close().catch(() => undefined);
      return { ok: false, error: "the upstream session is closed" };
    }
    known = { info: client.getServerVersion(), capabilities: client.getServerCapabilities(), instructions: client.getInstructions() };
    return { ok: true, value: incarnation };
  }

  function died(incarnation: Incarnation): void {
    incarnation.dead = true;
    if (closed || incarnation !== current) return;
    current = undefined;
    if (Date.now() - incarnation.startedAt >= restart.max_ms) delay = restart.initial_ms;
    log.warn({ pid: incarnation.transport.pid, restartInMs: delay }, `the upstream server ${ended(incarnation.transport)}; restarting it`);
    scheduleRestart();
  }

  function scheduleRestart(): void {
    const wait = delay;
    delay = Math.min(delay * 2, restart.max_ms);
    ready = new Promise<Result<Incarnation>>((resolve) => {
      settleReady = resolve;
      timer = setTimeout(() => {
        timer = undefined;
        void connect().then((attempt) => {
          settleReady = undefined;
          if (closed) return resolve({ ok: false, error: "the upstream session is closed" });
          if (attempt.ok) {
            current = attempt.value;
            log.info({ pid: attempt.value.transport.pid }, "the upstream server was restarted");
            resolve(attempt);
            for (const handler of restartHandlers) handler();
            return;
          }
          log.warn({ retryInMs: delay }, `restarting the upstream failed: ${attempt.error}`);
          resolve({ ok: false, error: `the upstream server could not be restarted (${attempt.error}); pipgate tries again in ${delay} ms` });
          scheduleRestart();
        });
      }, wait);
      timer.unref();
    });
  }

  /** The running upstream, waiting for a restart in progress within the caller's bounds. */
  async function acquire(what: string, signal: AbortSignal | undefined, deadline: number): Promise<Result<Incarnation>> {
    if (closed) return { ok: false, error: "the upstream session is closed" };
    if (current !== undefined && !current.dead) return { ok: true, value: current };
    return raceBounds(ready, signal, deadline, {
      aborted: `${what} was cancelled while the upstream server was restarting`,
      timedOut: `the upstream server was still restarting when ${what} ran out of time; retry the call`,
    });
  }

  /** Runs one request on the current upstream and turns every failure into a message a caller can act on. */
  async function run<T>(
    what: string,
    bounds: RequestBounds | undefined,
    fallbackTimeout: number,
    request: (client: Client, options: () => RequestOptions) => Promise<T>,
  ): Promise<Result<T>> {
    const timeoutMs = bounds?.timeoutMs ?? fallbackTimeout;
    const deadline = Date.now() + timeoutMs;
    const acquired = await acquire(what, bounds?.signal, deadline);
    if (!acquired.ok) return { ok: false, error: acquired.error };
    const incarnation = acquired.value;
    const requestOptions = (): RequestOptions => ({ signal: bounds?.signal, timeout: Math.max(1, deadline - Date.now()) });
    try {
      return { ok: true, value: await request(incarnation.client, requestOptions) };
    } catch (error) {
      if (closed) return { ok: false, error: `the upstream session was closed while ${what} ran` };
      if (incarnation.dead) {
        return { ok: false, error: `the upstream server ${ended(incarnation.transport)} while ${what} ran; pipgate is restarting it; retry the call` };
      }
      if (bounds?.signal?.aborted === true) return { ok: false, error: `${what} was cancelled` };
      if (error instanceof StreamableHTTPError && error.code === 404 && incarnation.transport.sessionId !== undefined) {
        // The upstream forgot the HTTP session (it restarted, or expired it): open a new one, as a crash would.
        await incarnation.transport.close().catch(() => undefined);
        return { ok: false, error: `the upstream server ended its HTTP session while ${what} ran; pipgate is opening a new one; retry the call` };
      }
      if (error instanceof McpError && error.code === (ErrorCode.RequestTimeout as number)) {
        return { ok: false, error: `the upstream server did not answer ${what} within ${timeoutMs} ms` };
      }
      return { ok: false, error: `the upstream server failed ${what}: ${describeError(error)}` };
    }
  }

  function list<T>(
    what: string,
    bounds: RequestBounds | undefined,
    page: (client: Client, cursor: string | undefined, options: RequestOptions) => Promise<ListPage<T>>,
    check: (item: T) => string | undefined,
    key: (item: T) => string,
  ): Promise<Result<T[]>> {
    return run(what, bounds, DEFAULT_REQUEST_TIMEOUT_MS, (client, requestOptions) =>
      collectList(what, (cursor) => page(client, cursor, requestOptions()), check, key, log),
    );
  }

  const first = await connect();
  if (!first.ok) return { ok: false, error: `cannot start the upstream server: ${first.error}` };
  current = first.value;
  const cursorParams = (cursor: string | undefined) => (cursor === undefined ? undefined : { cursor });

  return {
    ok: true,
    value: {
      listTools: (bounds) =>
        list(
          "tools/list",
          bounds,
          async (client, cursor, o) => {
            const r = await client.listTools(cursorParams(cursor), o);
            return { items: r.tools, nextCursor: r.nextCursor };
          },
          checkTool,
          (t) => t.name,
        ),
      callTool: (name, args, options) =>
        run(name, options, DEFAULT_CALL_TIMEOUT_MS, async (client, requestOptions) => {
          const result = await client.callTool({ name, arguments: args }, undefined, {
            ...requestOptions(),
            ...(options?.onprogress === undefined ? {} : { onprogress: options.onprogress }),
          });
          return result as CallToolResult;
        }),
      listResources: (bounds) =>
        list(
          "resources/list",
          bounds,
          async (client, cursor, o) => {
            const r = await client.listResources(cursorParams(cursor), o);
            return { items: r.resources, nextCursor: r.nextCursor };
          },
          checkResource,
          (r) => r.uri,
        ),
      listResourceTemplates: (bounds) =>
        list(
          "resources/templates/list",
          bounds,
          async (client, cursor, o) => {
            const r = await client.listResourceTemplates(cursorParams(cursor), o);
            return { items: r.resourceTemplates, nextCursor: r.nextCursor };
          },
          checkResourceTemplate,
          (t) => t.uriTemplate,
        ),
      readResource: (uri, bounds) => run("resources/read", bounds, DEFAULT_REQUEST_TIMEOUT_MS, (client, o) => client.readResource({ uri }, o())),
      listPrompts: (bounds) =>
        list(
          "prompts/list",
          bounds,
          async (client, cursor, o) => {
            const r = await client.listPrompts(cursorParams(cursor), o);
            return { items: r.prompts, nextCursor: r.nextCursor };
          },
          checkPrompt,
          (p) => p.name,
        ),
      getPrompt: (name, args, bounds) =>
        run(`prompts/get ${name}`, bounds, DEFAULT_REQUEST_TIMEOUT_MS, (client, o) => client.getPrompt({ name, arguments: args }, o())),
      serverInfo: () => known.info,
      capabilities: () => known.capabilities,
      instructions: () => known.instructions,
      onNotification: (handler) => {
        handlers.push(handler);
      },
      onRestart: (handler) => {
        restartHandlers.push(handler);
      },
      pid: () => (current?.dead === false ? current.transport.pid : undefined),
      async close() {
        if (closed) return;
        closed = true;
        if (timer !== undefined) clearTimeout(timer);
        timer = undefined;
        settleReady?.({ ok: false, error: "the upstream session is closed" });
        settleReady = undefined;
        const incarnation = current;
        current = undefined;
        await connecting?.close().catch(() => undefined);
        if (incarnation === undefined) return;
        const transport = incarnation.transport as UpstreamTransport & { terminateSession?: () => Promise<void> };
        if (typeof transport.terminateSession === "function") {
          await raceBounds(
            transport.terminateSession().catch(() => undefined),
            undefined,
            Date.now() + TERMINATE_TIMEOUT_MS,
            { aborted: "", timedOut: "" },
          );
        }
        await incarnation.client.close().catch(() => undefined);
      },
    },
  };
}

/** An error's message, cut short, with the HTTP status when the transport knows it (StreamableHTTPError's code). */
function describeError(error: unknown): string {
  const message = errorMessage(error).trim().slice(0, 2000);
  return error instanceof StreamableHTTPError && typeof error.code === "number" && error.code >= 100
    ? `${message.replace(/:$/, "")} (HTTP ${error.code})`
    : message;
}
