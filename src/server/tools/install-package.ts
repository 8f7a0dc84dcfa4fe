import type { ToolRegistry } from "../tool-table.js";
import { z } from "zod";
import { runInstall, type InstallHooks, type InstallResult } from "../../pipeline/install.js";
import { confirmInClient } from "../confirm-in-client.js";
import type { Progress } from "../../pipeline/deps.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { argumentContext, structuredResult, type ServerDeps, type ToolExtra } from "../context.js";
import { installInputSchema } from "../../validate/tool-arguments.js";
import { TreeRefusalSchema, treeRefusalsToJson } from "../../pipeline/tree.js";
import { RefusalSchema, type RefusalJson } from "../refusal.js";

const STAGES: ReadonlyArray<Progress["stage"]> = ["policy", "resolving", "building", "verifying", "committing"];

const Dist = z.object({ name: z.string(), version: z.string() });

export const InstallOutputSchema = z.object({
  status: z.enum(["installed", "already-satisfied", "denied", "failed", "timed-out", "pending", "rate-limited", "invalid", "rejected"]),
  environment: z.string(),
  package: z.string().describe("normalised project name"),
  version: z.string().optional().describe("the version chosen or installed"),
  message: z.string(),
  hint: z.string().optional().describe("what the agent may do instead"),
  installed: z.array(Dist),
  unchanged: z.array(Dist),
  resolved: z.array(Dist.extend({ sha256: z.string() })),
  entry_points: z.array(z.string()).describe("console scripts the install added"),
  audit_id: z.string(),
  duration_ms: z.number(),
  approval_id: z.string().optional().describe("pending: the id to poll with install_status"),
  expires_at: z.string().optional().describe("pending: when the request expires undecided"),
  retry_after_seconds: z.number().optional().describe("rate-limited: how long to wait before calling again"),
  refused: z
    .array(TreeRefusalSchema)
    .optional()
    .describe("denied for what it needs: every distribution of the resolved set that policy refuses, with its chain and rule"),
  refusal: RefusalSchema.optional().describe("a refusal (invalid, denied, rate-limited, pending): its kind, the argument at fault, the audit record"),
});

/** The structured answer of a request that never reached the pipeline (refused, queued, rate limited). */
function notRun(
  status: "invalid" | "denied" | "pending" | "rate-limited" | "rejected",
  environment: string,
  pkg: string,
  message: string,
  auditId: string,
  extra: Record<string, unknown>,
) {
  return {
    status,
    environment,
    package: pkg,
    message,
    installed: [],
    unchanged: [],
    resolved: [],
    entry_points: [],
    audit_id: auditId,
    duration_ms: 0,
    ...extra,
  };
}

/** The refusal block of a refused request, from what the pipeline says about it. */
function refusalOf(result: InstallResult): RefusalJson {
  return {
    kind: result.refusal?.kind ?? result.status,
    ...(result.refusal === undefined ? {} : { field: result.refusal.field }),
    message: result.message,
    audit_id: result.auditId,
    ...(result.retryAfterSeconds === undefined ? {} : { retry_after_seconds: result.retryAfterSeconds }),
    ...(result.approval === undefined ? {} : { approval_id: result.approval.id, expires_at: result.approval.expiresAt.toISOString() }),
  };
}

export function structuredInstall(result: InstallResult): z.infer<typeof InstallOutputSchema> {
  return {
    status: result.status,
    environment: result.environment,
    package: result.package,
    ...(result.version === undefined ? {} : { version: result.version }),
    message: result.message,
    ...(result.hint === undefined ? {} : { hint: result.hint }),
    installed: result.installed,
    unchanged: result.unchanged,
    resolved: result.resolved,
    entry_points: result.entryPoints,
    audit_id: result.auditId,
    duration_ms: result.durationMs,
    ...(result.refused === undefined ? {} : { refused: treeRefusalsToJson(result.refused) }),
  };
}

/**
 * An install request's result as install_package answers it. A refusal before the pipeline (its
 * arguments, or admission) is an error whose structured answer names the refusal's kind and field.
 */
export function installToolResult(result: InstallResult): CallToolResult {
  const refusal = `${result.message} (audit ${result.auditId})`;
  if (result.refusedAt !== undefined) {
    const status = result.refusedAt === "validate" ? "invalid" : result.status === "pending" || result.status === "rate-limited" ? result.status : "denied";
    const extra = {
      ...(result.approval === undefined ? {} : { approval_id: result.approval.id, expires_at: result.approval.expiresAt.toISOString() }),
      ...(result.retryAfterSeconds === undefined ? {} : { retry_after_seconds: result.retryAfterSeconds }),
      refusal: refusalOf(result),
    };
    // held by a policy rule: refused for now, with the approval to wait for; the same call passes once approved
    return {
      content: [{ type: "text", text: refusal }],
      structuredContent: notRun(status, result.environment, result.package, result.message, result.auditId, extra),
      isError: true,
    };
  }
  if (result.status === "pending" && result.approval !== undefined) {
    const { approval } = result;
    return structuredResult(
      `${result.message}\naudit ${result.auditId}`,
      notRun("pending", result.environment, result.package, result.message, result.auditId, {
        approval_id: approval.id,
        expires_at: approval.expiresAt.toISOString(),
        // the set the approval is for, as resolved and verified in the sandbox
        resolved: result.resolved,
      }),
    );
  }
  const ok = result.status === "installed" || result.status === "already-satisfied";
  const text = [
    result.message,
    result.hint,
    ...(result.entryPoints.length > 0 ? [`console scripts: ${result.entryPoints.join(", ")}`] : []),
    `audit ${result.auditId}`,
  ]
    .filter((line): line is string => line !== undefined && line !== "")
    .join("\n");
  const structured = result.status === "denied" ? { ...structuredInstall(result), refusal: refusalOf(result) } : structuredInstall(result);
  return structuredResult(text, structured, !ok);
}

/** install_package: the replaced tool's exact arguments, the whole pipeline behind them. */
export function registerInstallPackage(server: ToolRegistry, deps: ServerDeps): void {
  const known = deps.pipeline.environments.names();
  server.registerTool(
    "install_package",
    {
      title: "Install a Python package",
      description:
        "Install a Python package into a configured environment, the way `pip install` would, after pipgate has " +
        "checked it against the environment's allowlist and the index's metadata and built it in a network-less " +
        "sandbox. Refusals say what is allowed instead. Use check_package first to see the decision without installing.",
      inputSchema: installInputSchema({ environments: known, timeoutMax: deps.timeoutMax }),
      outputSchema: InstallOutputSchema,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    },
    async (raw: unknown, extra: ToolExtra) => {
      const identity = deps.identity(extra);
      const token = extra._meta?.progressToken;
      // The whole request path is the pipeline's (validate, admit, policy, approval, sandbox, verify,
      // commit, audit); this tool only translates MCP to it and its result back.
      const hooks: InstallHooks = {
        signal: extra.signal,
        progress: (progress) => {
          if (token === undefined) return;
          void extra
            .sendNotification({
              method: "notifications/progress",
              params: { progressToken: token, progress: STAGES.indexOf(progress.stage) + 1, total: STAGES.length + 1, message: progress.message },
            })
            .catch(() => undefined);
        },
      };
      const result = await runInstall(
        deps.pipeline,
        {
          identity,
          tool: "install_package",
          rawArguments: raw,
          gates: {
            context: argumentContext(deps, identity),
            ...(deps.admitter === undefined ? {} : { admitter: deps.admitter }),
            ...(deps.approvals === undefined ? {} : { approvals: deps.approvals }),
            ...(deps.shadow === true ? { shadow: true } : {}),
          },
        },
        hooks,
      );
      // a queued set may be confirmed by the client's user, when the approval policy allows it
      if (deps.approvals !== undefined && deps.inClient !== undefined)
        return installToolResult(await confirmInClient(deps.approvals, deps.inClient, identity, result, hooks));
      return installToolResult(result);
    },
  );
}
