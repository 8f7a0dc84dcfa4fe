import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { CallToolResult, ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";
import type { AuditInput } from "../audit/types.js";
import type { ApprovalQueue } from "../pipeline/approval-queue.js";
import type { PipelineDeps } from "../pipeline/deps.js";
import type { Admitter } from "../ratelimit/admission.js";
import type { ArgumentContext, Refusal } from "../validate/tool-arguments.js";
import type { RefusalJson, RefusalShape } from "./refusal.js";
import type { InClient } from "./confirm-in-client.js";

export { rawEnvironment } from "../validate/tool-arguments.js";

export type ToolExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** What every tool gets: the pipeline's collaborators, who is asking, and how arguments are bounded. */
export interface ServerDeps {
  pipeline: PipelineDeps;
  /** The identity of the caller: the configured stdio identity, or the HTTP grant behind a token. */
  identity: (extra: ToolExtra) => string;
  /** The environments the caller may touch (all, unless a grant narrows them). */
  environmentsFor: (identity: string) => readonly string[];
  timeoutMax: number;
  admitter?: Admitter;
  /** The approval queue, when the policy sends some installs to a person. */
  approvals?: ApprovalQueue;
  /** This session's client, when a server is built for one: an in-client confirmation asks it (confirm-in-client.ts). */
  inClient?: InClient;
  /** The caller's grant has `mode: shadow`: installs audited as would-deny go ahead (pipeline/shadow.ts). */
  shadow?: boolean;
}

export function argumentContext(deps: ServerDeps, identity: string): ArgumentContext {
  return { environments: deps.environmentsFor(identity), timeoutMax: deps.timeoutMax };
}

/** Text plus structured content: what every successful tool answers. */
export function structuredResult(text: string, structured: Record<string, unknown>, isError = false): CallToolResult {
  return { content: [{ type: "text", text }], structuredContent: structured, ...(isError ? { isError: true } : {}) };
}

/** A refusal as MCP wants it: a tool result with isError, so the model reads it (not a protocol error). */
export function refusalResult(refusal: Refusal): CallToolResult {
  return { content: [{ type: "text", text: refusal.message }], isError: true };
}

/** How a refusal is told in structuredContent: its kind (default: the audit outcome), field and extras, in the tool's shape. */
export interface RefusalOptions {
  kind?: string;
  field?: string;
  /** admission's extras: retry_after_seconds, approval_id, expires_at */
  extra?: Partial<Pick<RefusalJson, "retry_after_seconds" | "approval_id" | "expires_at">>;
  /** the tool's structured answer around the refusal; absent: text only (an upstream's tool, whose schema is not ours) */
  shape?: RefusalShape;
}

/** Audits a request refused before the pipeline (bad arguments, rate limit) and answers the agent. */
export async function refuseAndAudit(
  deps: ServerDeps,
  entry: Omit<AuditInput, "outcome"> & { outcome: AuditInput["outcome"] },
  message: string,
  options: RefusalOptions = {},
): Promise<CallToolResult> {
  const record = await deps.pipeline.audit.append({ ...entry, reason: message });
  const refusal: RefusalJson = {
    kind: options.kind ?? entry.outcome,
    ...(options.field === undefined ? {} : { field: options.field }),
    message,
    audit_id: record.id,
    ...options.extra,
  };
  const structuredContent = options.shape?.(refusal);
  return {
    content: [{ type: "text", text: `${message} (audit ${record.id})` }],
    ...(structuredContent === undefined ? {} : { structuredContent }),
    isError: true,
  };
}
