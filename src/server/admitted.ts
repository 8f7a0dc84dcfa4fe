import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { rawEnvironment, refuseAndAudit, type ServerDeps } from "./context.js";
import { refusalOnly, type RefusalShape } from "./refusal.js";
import type { ToolHandler } from "./tool-table.js";

/** One tool call as admission sees it: who, which tool, where, with what. */
export interface AdmissionRequest {
  identity: string;
  tool: string;
  environment: string | undefined;
  arguments: unknown;
  /** the normalised project name, when the call names one (install_package, after validation) */
  package?: string;
}

/**
 * The one admission path (DESIGN stage 3): the policy's action and argument conditions for the tool, the
 * grant's narrowing, held calls' approvals, limits and concurrency. A refusal is audited and answered as a tool error; an admitted call runs `work` and
 * gives its slot back whatever `work` does. `shape` gives a refusal its structured answer, for tools
 * whose output schema covers it (pipgate's own; not an upstream's).
 */
export async function admitThen(
  deps: ServerDeps,
  request: AdmissionRequest,
  work: () => CallToolResult | Promise<CallToolResult>,
  shape?: RefusalShape,
): Promise<CallToolResult> {
  const admission = (await deps.admitter?.admit(request.identity, request.tool, request.environment, request.arguments)) ?? {
    ok: true as const,
    release: async () => undefined,
  };
  if (!admission.ok) {
    // a call held for a person names its approval; the same call passes once approved
    const held =
      admission.outcome === "pending" ? { approval: { id: admission.approval.id, expires_at: admission.approval.expiresAt, rule: admission.rule } } : {};
    const extra = {
      ...(admission.retryAfterSeconds === undefined ? {} : { retry_after_seconds: admission.retryAfterSeconds }),
      ...(admission.outcome === "pending" ? { approval_id: admission.approval.id, expires_at: admission.approval.expiresAt } : {}),
    };
    return refuseAndAudit(deps, { ...request, ...held, outcome: admission.outcome }, admission.message, { extra, ...(shape === undefined ? {} : { shape }) });
  }
  try {
    return await work();
  } finally {
    await admission.release();
  }
}

/**
 * A tool handler behind admission on entry: what every tool but install_package registers (which admits
 * itself after validation, so a malformed call costs no quota).
 */
export function admitted(deps: ServerDeps, tool: string, handler: ToolHandler): ToolHandler {
  const known = deps.pipeline.environments.names();
  return (args, extra) =>
    admitThen(
      deps,
      { identity: deps.identity(extra), tool, environment: rawEnvironment(args, known), arguments: args },
      () => handler(args, extra),
      refusalOnly,
    );
}
