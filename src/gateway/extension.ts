import { createHash } from "node:crypto";
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import {
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  McpError,
  ErrorCode,
  ReadResourceRequestSchema,
  type CallToolResult,
  type ServerNotification,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import { canonicalJson } from "../audit/canonical-json.js";
import type { AuditInput } from "../audit/types.js";
import { OWN_INSTALL_TOOL, PROMPTS_TOOL, RESOURCES_TOOL, type UpstreamConfig } from "../config/upstream-schema.js";
import { errorMessage, type Result } from "../errors.js";
import type { Logger } from "../log.js";
import { admitThen } from "../server/admitted.js";
import type { ServerDeps, ToolExtra } from "../server/context.js";
import type { ServerExtension } from "../server/create-server.js";
import type { Db } from "../state/db.js";
import { pinDefinitions } from "./pins.js";
import type { UpstreamTransportFactory } from "./transports.js";
import { openUpstreamSession, type RequestBounds, type UpstreamSession } from "./upstream.js";

/** How many of the upstream's own notifications (log messages, list changes) reach the client: a sustained rate and a burst. */
export const NOTIFICATIONS_PER_SECOND = 20;
export const NOTIFICATION_BURST = 100;

/** The most of a forwarded call's arguments an audit record keeps verbatim; beyond, a preview and the hash. */
export const AUDIT_ARGUMENTS_MAX_BYTES = 16 * 1024;

/** What one process's gateway shares across its client sessions: the upstream, its pins, what was audited. */
export interface Gateway {
  upstream: UpstreamConfig;
  transport: UpstreamTransportFactory;
  db: Db;
  /** the configured upstream's stable id, so pins follow the upstream and not pipgate */
  key: string;
  log: Logger;
  now: () => Date;
  /** definition changes already audited in this process (name:sha256), so each is recorded once */
  auditedChanges: Set<string>;
}

/** The arguments as an audit record keeps them: whole when small, else a bounded preview; always their hash. */
export function auditedArguments(args: unknown): { arguments: unknown; sha256: string; bytes: number } {
  const json = canonicalJson(args ?? {});
  const bytes = Buffer.byteLength(json);
  const sha256 = createHash("sha256").update(json).digest("hex");
  if (bytes <= AUDIT_ARGUMENTS_MAX_BYTES) return { arguments: args ?? {}, sha256, bytes };
  return { arguments: { truncated: true, preview: json.slice(0, AUDIT_ARGUMENTS_MAX_BYTES / 4) }, sha256, bytes };
}

/**
 * Gateway mode for one client session: the upstream's tools, resources and prompts beside pipgate's own,
 * each through the same admission, each call audited once in the same chain. The session's own upstream
 * (its own process: the upstream keeps REPL state per process) starts on first use and ends with it.
 * install_package is always pipgate's; the upstream's is neither listed nor ever called.
 */
export function gatewaySession(gateway: Gateway, deps: ServerDeps, identity: string): ServerExtension {
  const { log } = gateway;
  let opening: Promise<Result<UpstreamSession>> | undefined;
  let server: Server | undefined;
  /** tool name → the definition last shown, pinned and allowed; a call to anything else is re-checked */
  let visible = new Map<string, Tool>();
  const replaces = gateway.upstream.serve_upstream;

  function session(): Promise<Result<UpstreamSession>> {
    opening ??= openUpstreamSession(gateway.transport, {
      log,
      restart: gateway.upstream.restart,
      clientInfo: { name: "pipgate", version: "0.1.0" },
    }).then((opened) => {
      if (!opened.ok) {
        opening = undefined; // the next request tries again
        return opened;
      }
      const upstream = opened.value;
      upstream.onNotification((notification) => forward(notification));
      upstream.onRestart(() => {
        visible = new Map(); // a new process: its definitions are pinned again before any call
      });
      return opened;
    });
    return opening;
  }

  // The upstream's own news (log messages, list changes) reaches the client at a bounded rate: a flood
  // is dropped, not queued, so it can neither grow memory nor drown the client.
  let allowance = NOTIFICATION_BURST;
  let refilled = Date.now();
  let dropped = 0;
  function forward(notification: ServerNotification): void {
    if (server === undefined) return;
    // progress and cancellation travel with their requests; what is forwarded here is the upstream's own news
    if (notification.method === "notifications/progress" || notification.method === "notifications/cancelled") return;
    const now = Date.now();
    allowance = Math.min(NOTIFICATION_BURST, allowance + ((now - refilled) / 1000) * NOTIFICATIONS_PER_SECOND);
    refilled = now;
    if (allowance < 1) {
      if (dropped++ === 0) log.warn({ method: notification.method }, "the upstream sends notifications faster than pipgate forwards them; dropping the excess");
      return;
    }
    allowance -= 1;
    dropped = 0;
    void server.notification(notification).catch(() => undefined);
  }

  async function audit(entry: Omit<AuditInput, "identity">): Promise<string> {
    return (await deps.pipeline.audit.append({ identity, ...entry })).id;
  }

  /** The upstream's tools as this identity may see them: pinned and unchanged, allowed by policy, not pipgate's. */
  async function listTools(extra: ToolExtra | undefined): Promise<Result<Tool[]>> {
    const opened = await session();
    if (!opened.ok) return opened;
    const listed = await opened.value.listTools(extra === undefined ? {} : { signal: extra.signal });
    if (!listed.ok) return listed;
    const pinned = pinDefinitions(
      gateway.db,
      gateway.key,
      listed.value.filter((tool) => tool.name !== OWN_INSTALL_TOOL),
      gateway.now(),
    );
    for (const change of pinned.changed) {
      const seen = `${change.name}:${change.now}`;
      if (gateway.auditedChanges.has(seen)) continue;
      gateway.auditedChanges.add(seen);
      await audit({
        tool: "upstream pin",
        outcome: "denied",
        arguments: { tool: change.name, was: change.was, now: change.now },
        reason: `the upstream's definition of ${change.name} changed since it was pinned (sha256 ${change.was.slice(0, 12)} → ${change.now.slice(0, 12)}); hidden and refused until an operator runs \`pipgate upstream accept ${change.name}\``,
      });
      log.warn({ tool: change.name }, "an upstream tool definition changed; hidden until accepted");
    }
    for (const name of pinned.added)
      await audit({ tool: "upstream pin", outcome: "listed", arguments: { tool: name }, reason: `the upstream added a tool, ${name}; pinned on first sight` });
    for (const refused of pinned.refused) log.warn({ tool: refused.name.slice(0, 128), reason: refused.reason }, "an upstream tool was not shown");
    const allowed = pinned.visible.filter((tool) => deps.admitter?.listable(identity, tool.name) ?? true);
    visible = new Map(allowed.map((tool) => [tool.name, tool]));
    return { ok: true, value: allowed };
  }

  /** Why a tool is not callable now, or undefined when it is (re-listing once when the cache does not know it). */
  async function hidden(name: string, extra: ToolExtra): Promise<string | undefined> {
    if (!visible.has(name)) {
      const listed = await listTools(extra);
      if (!listed.ok) return `the upstream server is not available: ${listed.error}`;
    }
    if (visible.has(name)) return undefined;
    if (deps.admitter !== undefined && !deps.admitter.listable(identity, name)) return undefined; // admission refuses it, naming the policy
    return `${name} is not a tool you may call here: the upstream does not offer it, or its definition changed since it was pinned and an operator has not accepted the change (pipgate upstream show)`;
  }

  /** One forwarded request behind admission, audited once whatever happens. */
  async function forwarded<T>(
    tool: string,
    args: unknown,
    extra: ToolExtra,
    send: (upstream: UpstreamSession) => Promise<Result<T>>,
    answer: (value: T, auditId: () => Promise<string>) => Promise<T>,
    isError: (value: T) => boolean,
  ): Promise<Result<T>> {
    const kept = auditedArguments(args);
    const opened = await session();
    if (!opened.ok) {
      const auditId = await audit({
        tool,
        outcome: "failed",
        arguments: kept.arguments,
        reason: opened.error,
        upstream: { durationMs: 0, arguments_sha256: kept.sha256, arguments_bytes: kept.bytes, error: opened.error },
      });
      return { ok: false, error: `${opened.error} (audit ${auditId})` };
    }
    const started = Date.now();
    const sent = await send(opened.value);
    const durationMs = Date.now() - started;
    if (!sent.ok) {
      const auditId = await audit({
        tool,
        outcome: "failed",
        arguments: kept.arguments,
        reason: sent.error,
        upstream: { durationMs, arguments_sha256: kept.sha256, arguments_bytes: kept.bytes, error: sent.error },
      });
      return { ok: false, error: `${sent.error} (audit ${auditId})` };
    }
    const flagged = isError(sent.value);
    const record = () =>
      audit({
        tool,
        outcome: "forwarded",
        arguments: kept.arguments,
        upstream: { durationMs, isError: flagged, arguments_sha256: kept.sha256, arguments_bytes: kept.bytes },
      });
    return { ok: true, value: await answer(sent.value, record) };
  }

  async function callTool(name: string, args: unknown, extra: ToolExtra): Promise<CallToolResult | undefined> {
    if (name === OWN_INSTALL_TOOL) return undefined; // never the upstream's, whatever it offers
    const why = await hidden(name, extra);
    if (why !== undefined) {
      const auditId = await audit({ tool: name, outcome: "denied", arguments: auditedArguments(args).arguments, reason: why });
      return { content: [{ type: "text", text: `${why} (audit ${auditId})` }], isError: true };
    }
    if (args !== undefined && (typeof args !== "object" || args === null || Array.isArray(args))) {
      const auditId = await audit({ tool: name, outcome: "invalid", arguments: auditedArguments(args).arguments, reason: "tool arguments must be an object" });
      return { content: [{ type: "text", text: `tool arguments must be an object (audit ${auditId})` }], isError: true };
    }
    const token = extra._meta?.progressToken;
    return admitThen(deps, { identity, tool: name, environment: undefined, arguments: args ?? {} }, async () => {
      const result = await forwarded(
        name,
        args,
        extra,
        (upstream) =>
          upstream.callTool(name, (args ?? {}) as Record<string, unknown>, {
            signal: extra.signal,
            ...(token === undefined
              ? {}
              : {
                  onprogress: (progress) => {
                    void extra.sendNotification({ method: "notifications/progress", params: { ...progress, progressToken: token } }).catch(() => undefined);
                  },
                }),
          }),
        async (value, record) => {
          const auditId = await record();
          return { ...value, _meta: { ...value._meta, "pipgate/audit_id": auditId } };
        },
        (value) => value.isError === true,
      );
      return result.ok ? result.value : { content: [{ type: "text", text: result.error }], isError: true };
    });
  }

  /** A resource or prompt request behind admission under its policy name; a refusal is a protocol error here. */
  async function admittedRequest<T>(
    policyName: string,
    args: Record<string, unknown>,
    extra: ToolExtra,
    send: (upstream: UpstreamSession) => Promise<Result<T>>,
  ): Promise<T> {
    let outcome: Result<T> | undefined;
    const refusal = await admitThen(deps, { identity, tool: policyName, environment: undefined, arguments: args }, async () => {
      outcome = await forwarded(
        policyName,
        args,
        extra,
        send,
        async (value, record) => {
          await record();
          return value;
        },
        () => false,
      );
      return { content: [] };
    });
    if (outcome === undefined) throw new McpError(ErrorCode.InvalidRequest, refusal.content.map((part) => (part.type === "text" ? part.text : "")).join(" "));
    if (!outcome.ok) throw new McpError(ErrorCode.InternalError, outcome.error);
    return outcome.value;
  }

  const listable = (name: string) => deps.admitter?.listable(identity, name) ?? true;

  /** An upstream list (resources, templates, prompts) when the policy lists what stands under `policyName`; empty otherwise. */
  async function listedUnder<T>(
    policyName: string,
    extra: ToolExtra,
    list: (upstream: UpstreamSession, bounds: RequestBounds) => Promise<Result<T[]>>,
  ): Promise<T[]> {
    if (!listable(policyName)) return [];
    const opened = await session();
    if (!opened.ok) throw new McpError(ErrorCode.InternalError, opened.error);
    const listed = await list(opened.value, { signal: extra.signal });
    if (!listed.ok) throw new McpError(ErrorCode.InternalError, listed.error);
    return listed.value;
  }

  return {
    capabilities: { resources: { listChanged: true }, prompts: { listChanged: true } },
    instructions: undefined,
    replaces,
    async listTools(extra) {
      const listed = await listTools(extra);
      if (!listed.ok) {
        log.warn({ err: listed.error }, "could not list the upstream's tools; only pipgate's own are listed");
        return [];
      }
      return listed.value;
    },
    callTool,
    attach(attached) {
      server = attached;
      attached.setRequestHandler(ListResourcesRequestSchema, async (_request, extra) => ({
        resources: await listedUnder(RESOURCES_TOOL, extra, (upstream, bounds) => upstream.listResources(bounds)),
      }));
      attached.setRequestHandler(ListResourceTemplatesRequestSchema, async (_request, extra) => ({
        resourceTemplates: await listedUnder(RESOURCES_TOOL, extra, (upstream, bounds) => upstream.listResourceTemplates(bounds)),
      }));
      attached.setRequestHandler(ReadResourceRequestSchema, (request, extra) =>
        admittedRequest(RESOURCES_TOOL, { uri: request.params.uri }, extra, (upstream) => upstream.readResource(request.params.uri, { signal: extra.signal })),
      );
      attached.setRequestHandler(ListPromptsRequestSchema, async (_request, extra) => ({
        prompts: await listedUnder(PROMPTS_TOOL, extra, (upstream, bounds) => upstream.listPrompts(bounds)),
      }));
      attached.setRequestHandler(GetPromptRequestSchema, (request, extra) => {
        const args = request.params.arguments ?? {};
        return admittedRequest(PROMPTS_TOOL, { name: request.params.name, arguments: args }, extra, (upstream) =>
          upstream.getPrompt(request.params.name, args, { signal: extra.signal }),
        );
      });
    },
    async close() {
      const pending = opening;
      opening = undefined;
      const opened = await pending?.catch((error: unknown) => ({ ok: false as const, error: errorMessage(error) }));
      if (opened?.ok === true) await opened.value.close();
    },
  };
}
