import type { ToolRegistry } from "../tool-table.js";
import { z } from "zod";
import type { Approval } from "../../approvals/index.js";
import type { ApprovalQueue } from "../../pipeline/approval-queue.js";
import { APPROVAL_STATES } from "../../approvals/index.js";
import { refuseAndAudit, structuredResult, type ServerDeps, type ToolExtra } from "../context.js";
import { admitted } from "../admitted.js";

export const InstallStatusOutputSchema = z.object({
  id: z.string(),
  state: z.enum(APPROVAL_STATES).describe("pending, then rejected | expired, or approved and then the install's own outcome"),
  environment: z.string(),
  package: z.string(),
  requirement: z.string(),
  created_at: z.string(),
  expires_at: z.string(),
  decided_by: z.string().optional(),
  decision_reason: z.string().optional(),
  result: z
    .object({ status: z.string(), message: z.string(), version: z.string().optional(), installed: z.array(z.object({ name: z.string(), version: z.string() })), audit_id: z.string() })
    .optional()
    .describe("what the approved install did"),
  message: z.string(),
});

const ArgumentsSchema = z.strictObject({
  id: z.string({ error: "id must be the approval id install_package answered with (apr_…)" }).regex(/^apr_[a-z0-9]{10}$/, "id must be the approval id install_package answered with (apr_…)"),
});

function describe(approval: Approval): string {
  switch (approval.state) {
    case "pending":
      return `${approval.request.requirement} waits for approval until ${approval.expiresAt.toISOString()}; poll again later`;
    case "approved":
      return `${approval.decidedBy ?? "someone"} approved ${approval.request.requirement}; the install is running`;
    case "rejected":
      return `${approval.decidedBy ?? "someone"} denied ${approval.request.requirement}: ${approval.decisionReason ?? "no reason given"}`;
    case "expired":
      return `${approval.request.requirement} expired undecided at ${approval.expiresAt.toISOString()}; ask again if it is still needed`;
    case "installed":
    case "already-satisfied":
    case "denied":
    case "failed":
    case "timed-out":
      return `approved by ${approval.decidedBy ?? "someone"}; ${approval.result?.message ?? approval.state}`;
  }
}

function toJson(approval: Approval): z.infer<typeof InstallStatusOutputSchema> {
  return {
    id: approval.id,
    state: approval.state,
    environment: approval.environment,
    package: approval.package,
    requirement: approval.request.requirement,
    created_at: approval.createdAt.toISOString(),
    expires_at: approval.expiresAt.toISOString(),
    ...(approval.decidedBy === undefined ? {} : { decided_by: approval.decidedBy }),
    ...(approval.decisionReason === undefined ? {} : { decision_reason: approval.decisionReason }),
    ...(approval.result === undefined ? {} : { result: approval.result }),
    message: describe(approval),
  };
}

/** install_status: how a queued install stands, for the agent that asked (read-only, nothing audited but refusals). */
export function registerInstallStatus(server: ToolRegistry, deps: ServerDeps, queue: ApprovalQueue): void {
  server.registerTool(
    "install_status",
    {
      title: "Status of a queued install",
      description:
        "Look up an install_package request that was queued for a person's approval, by the id install_package answered with: " +
        "pending, rejected, expired, or the approved install's outcome.",
      inputSchema: z.looseObject({ id: z.unknown().optional().meta({ type: "string", pattern: "^apr_[a-z0-9]{10}$", description: "the approval id (apr_…)" }) }).meta({ required: ["id"], additionalProperties: false }),
      outputSchema: InstallStatusOutputSchema,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    admitted(deps, "install_status", (raw: unknown, extra: ToolExtra) => {
      const identity = deps.identity(extra);
      const parsed = ArgumentsSchema.safeParse(raw);
      if (!parsed.success) {
        return refuseAndAudit(deps, { identity, tool: "install_status", outcome: "invalid", arguments: raw }, parsed.error.issues[0]?.message ?? "install_status takes { id }");
      }
      const approval = queue.status(identity, parsed.data.id);
      if (approval === undefined) {
        return refuseAndAudit(deps, { identity, tool: "install_status", outcome: "invalid", arguments: raw }, `no approval request ${parsed.data.id} of yours; use the id install_package answered with`);
      }
      const json = toJson(approval);
      return structuredResult(`${approval.id}: ${json.state} — ${json.message}`, json);
    }),
  );
}
