import { userInfo } from "node:os";
import type { Approval } from "../approvals/index.js";
import { openPipgate } from "../app.js";
import { createLogger } from "../log.js";
import { CliError, EXIT, parseCli, requireConfig, type CliIo, type Subcommand } from "./common.js";

const USAGE =
  "usage: pipgate approvals list [--all] [--json]\n" +
  "       pipgate approvals approve ID --reason TEXT [--as NAME]\n" +
  "       pipgate approvals deny ID --reason TEXT [--as NAME]";

function line(approval: Approval): string {
  const decided = approval.decidedBy === undefined ? "" : ` by ${approval.decidedBy}${approval.decisionReason === undefined ? "" : ` (${approval.decisionReason})`}`;
  const result = approval.result === undefined ? "" : ` — ${approval.result.message}`;
  return `${approval.id}  ${approval.state.padEnd(9)}  ${approval.environment}  ${approval.request.requirement}  from ${approval.identity}  [${approval.request.detail}]  expires ${approval.expiresAt.toISOString()}${decided}${result}`;
}

function toJson(approval: Approval): Record<string, unknown> {
  return { ...approval, createdAt: approval.createdAt.toISOString(), expiresAt: approval.expiresAt.toISOString(), decidedAt: approval.decidedAt?.toISOString() };
}

/**
 * `pipgate approvals list|approve|deny`: the person's side of the approval queue. `approve` runs the
 * request through the whole pipeline here, in this process, and prints what it installed; the agent
 * reads the same outcome with install_status. The approver is `--as NAME`, else $USER.
 */
export const approvals: Subcommand = async (argv, io: CliIo) => {
  const { values, positionals } = parseCli(argv, {
    all: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    reason: { type: "string" },
    as: { type: "string" },
  });
  const [action, id, ...extra] = positionals;
  if (action === undefined || extra.length > 0) throw new CliError(USAGE);
  const config = requireConfig(values.config);
  const log = createLogger(process.env.PIPGATE_LOG_LEVEL ?? "warn");
  const opened = await openPipgate(config, log);
  if (!opened.ok) throw new CliError(`invalid configuration:\n  ${opened.issues.join("\n  ")}`, EXIT.failure);
  const app = opened.value;
  try {
    const queue = app.control.approvals;
    if (queue === undefined) throw new CliError("the policy has no `approval:` section, so nothing is ever queued", EXIT.failure);
    const by = values.as ?? (process.env.USER || userInfo().username);
    switch (action) {
      case "list": {
        if (id !== undefined) throw new CliError(USAGE);
        const rows = queue.list(values.all ? undefined : ["pending"]);
        if (values.json) io.stdout(`${JSON.stringify(rows.map(toJson), null, 2)}\n`);
        else io.stdout(rows.length === 0 ? (values.all ? "no approval requests\n" : "nothing pending\n") : `${rows.map(line).join("\n")}\n`);
        return EXIT.ok;
      }
      case "approve":
      case "deny": {
        if (id === undefined) throw new CliError(USAGE);
        if (values.reason === undefined || values.reason.trim() === "") throw new CliError(`${action} needs --reason TEXT: the audit log records why`);
        if (by === "") throw new CliError("who is deciding? pass --as NAME (or set $USER)");
        if (action === "deny") {
          const decided = queue.reject(id, by, values.reason);
          if (!decided.ok) throw new CliError(decided.error, EXIT.failure);
          io.stdout(`denied ${decided.approval.id}: ${decided.approval.request.requirement} for ${decided.approval.identity}\n`);
          return EXIT.ok;
        }
        const decided = await queue.approve(id, by, values.reason, {
          progress: (progress) => io.stderr(`${progress.stage.padEnd(10)} ${progress.message}\n`),
        });
        if (!decided.ok) throw new CliError(decided.error, EXIT.failure);
        const { approval, install } = decided;
        if (values.json) io.stdout(`${JSON.stringify({ approval: toJson(approval), install }, null, 2)}\n`);
        else io.stdout(`approved ${approval.id}; ${approval.state}: ${approval.result?.message ?? ""}\naudit ${approval.result?.audit_id ?? "-"}\n`);
        if (approval.state === "installed" || approval.state === "already-satisfied") return EXIT.ok;
        return approval.state === "denied" ? EXIT.denied : EXIT.failure;
      }
      default:
        throw new CliError(`unknown action ${JSON.stringify(action)}\n${USAGE}`);
    }
  } finally {
    app.close();
  }
};
