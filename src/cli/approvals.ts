import { userInfo } from "node:os";
import { isCallApprovalId, type Approval, type CallApproval } from "../approvals/index.js";
import { setLine } from "../approvals/resolved-set.js";
import { setTimeout as delay } from "node:timers/promises";
import { openPipgate } from "../app.js";
import type { ApprovalQueue } from "../pipeline/approval-queue.js";
import { approvalStatusJson } from "../server/tools/install-status.js";
import { structuredInstall } from "../server/tools/install-package.js";
import { cliLogger, CliError, EXIT, parseCli, requireConfig, type CliIo, type CommandHelp, type Subcommand } from "./common.js";

const USAGE =
  "usage: pipgate approvals list [--all] [--json]\n" +
  "       pipgate approvals show ID [--json]\n" +
  "       pipgate approvals approve ID --reason TEXT [--as NAME] [--wait SECONDS]\n" +
  "       pipgate approvals deny ID --reason TEXT [--as NAME]";

export const approvalsHelp: CommandHelp = {
  usage: `${USAGE}\n  installs queued for a person (apr_…) and held tool calls (apc_…); --json as install_status answers\n`,
  actions: {
    list: "usage: pipgate approvals list [--all] [--json]\n  what waits for a decision (--all: every request, decided ones too)\n",
    show: "usage: pipgate approvals show ID [--json]\n  one request: for an install, every distribution of the set it is for (version, sha256, each rule's result)\n",
    approve:
      "usage: pipgate approvals approve ID --reason TEXT [--as NAME] [--wait SECONDS] [--json]\n" +
      "  approve and run a queued install here (apr_…), or admit a held tool call once (apc_…). In a fleet, an install\n" +
      "  another broker queued runs on that broker: this waits up to --wait seconds (default 600; 0: not at all) for its result\n",
    deny: "usage: pipgate approvals deny ID --reason TEXT [--as NAME]\n  refuse a queued install or a held tool call; the agent reads the reason\n",
  },
};

function line(approval: Approval): string {
  const decided =
    approval.decidedBy === undefined ? "" : ` by ${approval.decidedBy}${approval.decisionReason === undefined ? "" : ` (${approval.decisionReason})`}`;
  const result = approval.result === undefined ? "" : ` — ${approval.result.message}`;
  const set = approval.request.set === undefined ? "" : `  set of ${approval.request.set.length}: ${setLine(approval.request.set)}`;
  return `${approval.id}  ${approval.state.padEnd(9)}  ${approval.environment}  ${approval.request.requirement}  from ${approval.identity}  [${approval.request.detail}]${set}  expires ${approval.expiresAt.toISOString()}${decided}${result}`;
}

/** One install request in full: what the approver approves is the set, one distribution a block. */
function showInstall(approval: Approval): string {
  const lines = [line(approval)];
  if (approval.request.supersedes !== undefined) lines.push(`replaces ${approval.request.supersedes}, whose set changed before it ran`);
  const set = approval.request.set;
  if (set === undefined) lines.push("no resolved set (queued before sets were bound): deny it and let the agent ask again");
  else {
    lines.push(`the set (${set.length}), approved and installed as one unit, nothing else:`);
    for (const dist of set) {
      lines.push(`  ${dist.name} ${dist.version}  ${dist.needs === undefined ? "allowed" : `needs approval: ${dist.needs}`}`);
      // rules.provenance_change: approval: approving moves the project's record to the publisher seen now
      if (dist.publisher !== undefined) {
        lines.push(`    publisher: recorded ${dist.publisher.recorded}, this release ${dist.publisher.seen ?? "no attestation (the record stays)"}`);
      }
      lines.push(
        `    sha256 ${dist.sha256}${dist.built ? ` (built in the sandbox from ${dist.source.filename}, sha256 ${dist.source.sha256})` : ` (${dist.source.filename})`}`,
      );
      for (const rule of dist.rules) lines.push(`    ${rule.outcome.padEnd(4)} ${rule.rule}: ${rule.detail}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

/** A held tool call: what was called, by whom, which rule held it, and the arguments (cut) the approval binds to. */
function callLine(call: CallApproval): string {
  const decided =
    call.decidedBy === undefined
      ? ""
      : ` by ${call.decidedBy} at ${call.decidedAt?.toISOString() ?? "?"}${call.decisionReason === undefined ? "" : ` (${call.decisionReason})`}`;
  const args = call.arguments.length > 300 ? `${call.arguments.slice(0, 300)}…` : call.arguments;
  return `${call.id}  ${call.state.padEnd(9)}  ${call.tool}  from ${call.identity}  rule ${call.rule}  args ${args}${call.argumentsTruncated ? " (truncated)" : ""}  sha256 ${call.argsSha256.slice(0, 12)}  expires ${call.expiresAt.toISOString()}${decided}`;
}

/** A held tool call for --json, in the snake_case of the MCP tools' structured output. */
function callJson(call: CallApproval): Record<string, unknown> {
  return {
    kind: "tool-call",
    approval_id: call.id,
    state: call.state,
    tool: call.tool,
    identity: call.identity,
    rule: call.rule,
    message: call.message,
    arguments: call.arguments,
    arguments_truncated: call.argumentsTruncated,
    args_sha256: call.argsSha256,
    created_at: call.createdAt.toISOString(),
    expires_at: call.expiresAt.toISOString(),
    ...(call.decidedBy === undefined ? {} : { decided_by: call.decidedBy }),
    ...(call.decidedAt === undefined ? {} : { decided_at: call.decidedAt.toISOString() }),
    ...(call.decisionReason === undefined ? {} : { decision_reason: call.decisionReason }),
    ...(call.usedAt === undefined ? {} : { used_at: call.usedAt.toISOString() }),
  };
}

/** A queued install for --json: what install_status answers the agent, and who asked. */
function toJson(approval: Approval): Record<string, unknown> {
  return { kind: "install", ...approvalStatusJson(approval), identity: approval.identity, detail: approval.request.detail };
}

const DEFAULT_WAIT_SECONDS = 600;
const POLL_MS = 500;

function nonNegativeInteger(option: string, text: string): number {
  if (!/^\d{1,7}$/.test(text)) throw new CliError(`${option} must be a whole number of seconds, not ${JSON.stringify(text)}`);
  return Number(text);
}

/** Polls the shared queue until the broker that owns a scheduled request has run it, or `waitMs` passed. */
async function untilRun(queue: ApprovalQueue, approval: Approval, waitMs: number): Promise<Approval> {
  const deadline = Date.now() + waitMs;
  let current = approval;
  while ((current.state === "scheduled" || current.state === "approved") && Date.now() < deadline) {
    await delay(Math.min(POLL_MS, Math.max(0, deadline - Date.now())));
    current = (await queue.get(current.id)) ?? current;
  }
  return current;
}

/**
 * `pipgate approvals list|approve|deny`: the person's side of the approval queue. `approve` runs the
 * request through the whole pipeline here, in this process, and prints what it installed; the agent
 * reads the same outcome with install_status. A held tool call (id apc_…) is only decided here: once
 * approved, the agent repeats the same call and it is admitted once. The approver is `--as NAME`, else $USER.
 */
export const approvals: Subcommand = async (argv, io: CliIo, context) => {
  const { values, positionals } = parseCli(argv, {
    all: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    reason: { type: "string" },
    as: { type: "string" },
    wait: { type: "string" },
  });
  const [action, id, ...extra] = positionals;
  if (action === undefined || extra.length > 0) throw new CliError(USAGE);
  const config = requireConfig(values.config);
  const log = cliLogger(context, "warn");
  const opened = await openPipgate(config, log);
  if (!opened.ok) throw new CliError(`invalid configuration:\n  ${opened.issues.join("\n  ")}`, EXIT.failure);
  const app = opened.value;
  try {
    const queue = app.control.approvals;
    const calls = app.control.callApprovals;
    const now = new Date();
    const by = values.as ?? (process.env.USER || userInfo().username);
    switch (action) {
      case "list": {
        if (id !== undefined) throw new CliError(USAGE);
        const rows = (await queue?.list(values.all ? undefined : ["pending"])) ?? [];
        const held = await calls.list(now, values.all ? undefined : ["pending"]);
        if (values.json) io.stdout(`${JSON.stringify([...rows.map(toJson), ...held.map(callJson)], null, 2)}\n`);
        else {
          const lines = [...rows.map(line), ...held.map(callLine)];
          io.stdout(lines.length === 0 ? (values.all ? "no approval requests\n" : "nothing pending\n") : `${lines.join("\n")}\n`);
        }
        return EXIT.ok;
      }
      case "show": {
        if (id === undefined) throw new CliError(USAGE);
        if (isCallApprovalId(id)) {
          const call = await calls.get(id, now);
          if (call === undefined) throw new CliError(`no approval request ${JSON.stringify(id)}`, EXIT.failure);
          io.stdout(values.json ? `${JSON.stringify(callJson(call), null, 2)}\n` : `${callLine(call)}\n`);
          return EXIT.ok;
        }
        const found = await queue?.get(id);
        if (found === undefined) throw new CliError(`no approval request ${JSON.stringify(id)}`, EXIT.failure);
        io.stdout(values.json ? `${JSON.stringify(toJson(found), null, 2)}\n` : showInstall(found));
        return EXIT.ok;
      }
      case "approve":
      case "deny": {
        if (id === undefined) throw new CliError(USAGE);
        if (values.reason === undefined || values.reason.trim() === "") throw new CliError(`${action} needs --reason TEXT: the audit log records why`);
        if (by === "") throw new CliError("who is deciding? pass --as NAME (or set $USER)");
        if (isCallApprovalId(id)) {
          const decided = await calls.decide(id, action === "approve" ? "approved" : "denied", by, values.reason, now);
          if (!decided.ok) throw new CliError(decided.error, EXIT.failure);
          const call = decided.approval;
          await app.broker.pipeline.audit.append({
            identity: by,
            tool: `approvals ${action}`,
            outcome: action === "approve" ? "approved" : "rejected",
            arguments: { id, reason: values.reason },
            reason: `${by} ${action === "approve" ? "approved" : "denied"} ${call.tool} for ${call.identity} (rule ${call.rule}): ${values.reason}`,
            approval: {
              id,
              kind: "tool-call",
              tool: call.tool,
              requested_by: call.identity,
              args_sha256: call.argsSha256,
              decided_by: by,
              reason: values.reason,
              expires_at: call.expiresAt.toISOString(),
            },
          });
          if (values.json) io.stdout(`${JSON.stringify({ approval: callJson(call) }, null, 2)}\n`);
          else
            io.stdout(
              action === "approve"
                ? `approved ${id}: ${call.identity} may make this ${call.tool} call once, with the same arguments, before ${call.expiresAt.toISOString()}\n`
                : `denied ${id}: ${call.tool} for ${call.identity}\n`,
            );
          return EXIT.ok;
        }
        if (queue === undefined)
          throw new CliError("the policy has no `approval:` section, so no install is ever queued (held tool calls have ids starting apc_)", EXIT.failure);
        if (action === "deny") {
          const decided = await queue.reject(id, by, values.reason);
          if (!decided.ok) throw new CliError(decided.error, EXIT.failure);
          io.stdout(`denied ${decided.approval.id}: ${decided.approval.request.requirement} for ${decided.approval.identity}\n`);
          return EXIT.ok;
        }
        const waitSeconds = values.wait === undefined ? DEFAULT_WAIT_SECONDS : nonNegativeInteger("--wait", values.wait);
        const decided = await queue.approve(id, by, values.reason, {
          progress: (progress) => io.stderr(`${progress.stage.padEnd(10)} ${progress.message}\n`),
        });
        if (!decided.ok) throw new CliError(decided.error, EXIT.failure);
        const { install } = decided;
        let approval = decided.approval;
        if (approval.state === "scheduled") {
          io.stderr(
            `approved ${approval.id}; it runs on ${approval.owner ?? "its broker"}, the broker that queued it` +
              (waitSeconds === 0 ? "\n" : `: waiting up to ${String(waitSeconds)} s for its result\n`),
          );
          approval = await untilRun(queue, approval, waitSeconds * 1000);
          if (approval.state === "scheduled" || approval.state === "approved") {
            const doing = approval.state === "scheduled" ? "has not taken it yet (is it running?)" : "is running it";
            if (values.json) io.stdout(`${JSON.stringify({ approval: toJson(approval) }, null, 2)}\n`);
            else
              io.stdout(`approved ${approval.id}; ${approval.owner ?? "its broker"} ${doing}. \`pipgate approvals show ${approval.id}\` tells the outcome\n`);
            return EXIT.failure;
          }
        }
        if (values.json)
          io.stdout(`${JSON.stringify({ approval: toJson(approval), ...(install === undefined ? {} : { install: structuredInstall(install) }) }, null, 2)}\n`);
        else
          io.stdout(
            `approved ${approval.id}; ${approval.state}: ${approval.result?.message ?? ""}\naudit ${approval.result?.audit_id ?? "-"}` +
              `${approval.result?.ran_on === undefined ? "" : `\nran on ${approval.result.ran_on}`}\n`,
          );
        if (approval.state === "superseded") return EXIT.denied;
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
