import type { ElicitRequestFormParams, ElicitResult } from "@modelcontextprotocol/sdk/types.js";
import type { InstallHooks, InstallResult } from "../pipeline/install.js";
import type { ApprovalQueue } from "../pipeline/approval-queue.js";

/** The client side of one session, for an in-client confirmation: whether it can be asked, and asking it. */
export interface InClient {
  canElicit(): boolean;
  elicit(params: ElicitRequestFormParams, signal: AbortSignal | undefined): Promise<ElicitResult>;
}

/**
 * The question: one yes/no field. Nothing else is ever asked this way — never a secret, a token or a
 * free-text answer — so what the client's user types cannot carry anything but the decision.
 */
function question(result: InstallResult): ElicitRequestFormParams {
  const set = result.resolved.map((dist) => `  ${dist.name} ${dist.version}  sha256 ${dist.sha256}`).join("\n");
  return {
    mode: "form",
    message: `pipgate: install into ${result.environment} needs your approval for the whole set it resolved to:\n${set}\n${result.message}`,
    requestedSchema: {
      type: "object",
      properties: {
        approve: { type: "boolean", title: "Install exactly this set", description: "yes: install these distributions, and nothing else, now" },
      },
      required: ["approve"],
    },
  };
}

/**
 * In-client confirmation of a queued set (the approval policy's `elicitation`, off by default): when
 * the client declared the elicitation capability, its user is asked; yes approves and runs the set now
 * (audited as the grant's identity via elicitation), no rejects it, anything else (cancel, no answer,
 * an error) leaves it pending for an approver at the CLI.
 */
export async function confirmInClient(
  queue: ApprovalQueue,
  client: InClient,
  identity: string,
  result: InstallResult,
  hooks: InstallHooks,
): Promise<InstallResult> {
  if (!queue.elicitation || result.status !== "pending" || result.approval === undefined || result.refusedAt !== undefined) return result;
  if (!client.canElicit()) return result;
  const id = result.approval.id;
  let answer: ElicitResult;
  try {
    answer = await client.elicit(question(result), hooks.signal);
  } catch {
    return result;
  }
  if (answer.action === "accept" && answer.content?.approve === true) {
    const decided = await queue.approve(id, identity, "confirmed in the client", hooks, "elicitation");
    return decided.ok && decided.install !== undefined ? decided.install : result;
  }
  if (answer.action === "decline" || (answer.action === "accept" && answer.content?.approve === false)) {
    const decided = await queue.reject(id, identity, "declined in the client", "elicitation");
    if (!decided.ok) return result;
    return {
      ...result,
      status: "rejected",
      message: `declined in the client: ${id} was rejected and nothing was installed`,
      hint: "ask the user before requesting it again",
    };
  }
  return result;
}
