import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { runInstall, type InstallResult } from "../../pipeline/install.js";
import type { Progress } from "../../pipeline/deps.js";
import { argumentContext, rawEnvironment, refuseAndAudit, structuredResult, type ServerDeps, type ToolExtra } from "../context.js";
import { installInputSchema, validateInstallArguments } from "../../validate/tool-arguments.js";

const STAGES: ReadonlyArray<Progress["stage"]> = ["policy", "resolving", "building", "verifying", "committing"];

const Dist = z.object({ name: z.string(), version: z.string() });

export const InstallOutputSchema = z.object({
  status: z.enum(["installed", "already-satisfied", "denied", "failed", "timed-out", "pending", "rate-limited"]),
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
});

/** The structured answer of a request that never reached the pipeline (queued, rate limited). */
function notRun(status: "pending" | "rate-limited", environment: string, pkg: string, message: string, auditId: string, extra: Record<string, unknown>) {
  return { status, environment, package: pkg, message, installed: [], unchanged: [], resolved: [], entry_points: [], audit_id: auditId, duration_ms: 0, ...extra };
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
  };
}

/** install_package: the replaced tool's exact arguments, the whole pipeline behind them. */
export function registerInstallPackage(server: McpServer, deps: ServerDeps): void {
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
      const validated = validateInstallArguments(raw, argumentContext(deps, identity));
      const environment = rawEnvironment(raw, known);
      if (!validated.ok) {
        return refuseAndAudit(
          deps,
          { identity, tool: "install_package", environment, outcome: "invalid", arguments: raw, request: { refusal: validated.refusal.kind, field: validated.refusal.field } },
          validated.refusal.message,
        );
      }
      const args = validated.args;
      const admission = deps.admitter?.admit(identity, "install_package", args.environment, raw) ?? { ok: true as const, release: () => undefined };
      if (!admission.ok) {
        const pkg = args.requirement.normalized;
        const entry = { identity, tool: "install_package", environment: args.environment, package: pkg, outcome: admission.outcome, arguments: raw };
        if (admission.outcome === "pending") {
          const { id, expiresAt } = admission.approval;
          return refuseAndAudit(deps, { ...entry, approval: { id, expires_at: expiresAt, rule: admission.rule } }, admission.message, (auditId) =>
            notRun("pending", args.environment, pkg, admission.message, auditId, { approval_id: id, expires_at: expiresAt }),
          );
        }
        return refuseAndAudit(
          deps,
          entry,
          admission.message,
          admission.retryAfterSeconds === undefined
            ? undefined
            : (auditId) => notRun("rate-limited", args.environment, pkg, admission.message, auditId, { retry_after_seconds: admission.retryAfterSeconds }),
        );
      }
      const token = extra._meta?.progressToken;
      try {
        const queued = (await deps.approvals?.screen(identity, args, raw)) ?? { queued: false };
        if (queued.queued) {
          const { approval } = queued;
          return structuredResult(
            `${queued.message}\naudit ${approval.auditId}`,
            notRun("pending", args.environment, args.requirement.normalized, queued.message, approval.auditId, { approval_id: approval.id, expires_at: approval.expiresAt.toISOString() }),
          );
        }
        const result = await runInstall(
          deps.pipeline,
          { identity, tool: "install_package", rawArguments: raw, args },
          {
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
          },
        );
        const ok = result.status === "installed" || result.status === "already-satisfied";
        const text = [result.message, result.hint, ...(result.entryPoints.length > 0 ? [`console scripts: ${result.entryPoints.join(", ")}`] : []), `audit ${result.auditId}`]
          .filter((line): line is string => line !== undefined && line !== "")
          .join("\n");
        return structuredResult(text, structuredInstall(result), !ok);
      } finally {
        admission.release();
      }
    },
  );
}
