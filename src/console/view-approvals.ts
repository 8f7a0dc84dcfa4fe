import { escapeHtml as esc } from "../audit/html.js";
import type { Approval } from "../approvals/store.js";
import type { ConsoleDeps } from "./deps.js";
import { csrfField, notice, time, type Viewer } from "./layout.js";

/** Whether a viewer may decide queued installs: approvers only; auditors read. */
export const mayDecide = (viewer: Viewer): boolean => viewer.role === "approver";

function decisionForm(approval: Approval, viewer: Viewer): string {
  if (approval.state !== "pending") return "";
  if (!mayDecide(viewer)) return `<p class="muted">An approver decides this request.</p>`;
  const action = `/approvals/${encodeURIComponent(approval.id)}`;
  return (
    `<form method="post" action="${esc(action)}" class="decide">${csrfField(viewer)}` +
    `<label>Reason (required, recorded and shown to the agent)<textarea name="reason" required maxlength="1000" rows="2"></textarea></label>` +
    `<button type="submit" name="decision" value="approve" class="approve">Approve and install</button> ` +
    `<button type="submit" name="decision" value="deny" class="deny">Deny</button></form>`
  );
}

function card(approval: Approval, viewer: Viewer): string {
  const decided =
    approval.decidedBy === undefined
      ? ""
      : `<tr><th scope="row">decided</th><td>by ${esc(approval.decidedBy)}${approval.decidedAt === undefined ? "" : ` at ${time(approval.decidedAt.toISOString())}`}: ${esc(approval.decisionReason ?? "")}</td></tr>`;
  const result =
    approval.result === undefined
      ? approval.state === "approved"
        ? `<tr><th scope="row">result</th><td>running through the pipeline…</td></tr>`
        : approval.state === "scheduled"
          ? `<tr><th scope="row">result</th><td>waiting for ${esc(approval.owner ?? "its broker")}, the broker that queued it, to run it…</td></tr>`
          : ""
      : `<tr><th scope="row">result</th><td>${esc(approval.result.message)} (<a href="/records/${encodeURIComponent(approval.result.audit_id)}">record</a>)</td></tr>`;
  return (
    `<article class="approval state-${esc(approval.state)}" id="${esc(approval.id)}" data-state="${esc(approval.state)}">` +
    `<h2>${esc(approval.request.requirement)} <span class="state">${esc(approval.state)}</span></h2>` +
    `<table><tbody>` +
    `<tr><th scope="row">id</th><td><code>${esc(approval.id)}</code></td></tr>` +
    `<tr><th scope="row">requested by</th><td>${esc(approval.identity)} at ${time(approval.createdAt.toISOString())} (<a href="/records/${encodeURIComponent(approval.auditId)}">record</a>)</td></tr>` +
    `<tr><th scope="row">environment</th><td>${esc(approval.environment)}</td></tr>` +
    `<tr><th scope="row">why queued</th><td>${esc(approval.request.detail)}</td></tr>` +
    `<tr><th scope="row">expires</th><td>${time(approval.expiresAt.toISOString())}</td></tr>` +
    decided +
    result +
    `</tbody></table>${setTable(approval)}${decisionForm(approval, viewer)}</article>`
  );
}

/** Every distribution the approval covers, and nothing else: what the approver approves as a unit. */
function setTable(approval: Approval): string {
  const set = approval.request.set;
  if (set === undefined) return `<p class="set">No resolved set is bound to this request; approving it is refused.</p>`;
  const rows = set
    .map((dist) => {
      const failed = dist.rules.filter((rule) => rule.outcome === "fail").map((rule) => `${rule.rule}: ${rule.detail}`);
      return (
        `<tr><td>${esc(dist.name)}</td><td>${esc(dist.version)}</td><td><code title="${esc(dist.sha256)}">${esc(dist.sha256.slice(0, 16))}…</code></td>` +
        `<td>${esc(dist.needs ?? "allowed")}${dist.built ? " (built from sdist)" : ""}</td><td>${esc(failed.join("; ") || "every rule passes")}</td></tr>`
      );
    })
    .join("");
  return (
    `<table class="set"><caption>the resolved set (${set.length} distribution${set.length === 1 ? "" : "s"}), approved as a unit</caption>` +
    `<thead><tr><th scope="col">name</th><th scope="col">version</th><th scope="col">sha256</th><th scope="col">needs</th><th scope="col">rules</th></tr></thead>` +
    `<tbody>${rows}</tbody></table>`
  );
}

/** The approval queue: pending requests first, each with approve/deny for an approver; decided ones below. */
export async function renderApprovals(
  deps: ConsoleDeps,
  viewer: Viewer,
  message?: { kind: "error" | "ok"; text: string },
): Promise<{ body: string; running: boolean }> {
  const top = message === undefined ? "" : notice(message.kind, message.text);
  if (deps.approvals === undefined) {
    return { body: `${top}<p>The policy has no <code>approval:</code> section, so no install is ever queued for a person.</p>`, running: false };
  }
  const all = (await deps.approvals.list()).slice(0, 500);
  const order = (a: Approval) => (a.state === "pending" ? 0 : a.state === "approved" || a.state === "scheduled" ? 1 : 2);
  all.sort((a, b) => order(a) - order(b) || b.createdAt.getTime() - a.createdAt.getTime());
  const pending = all.filter((a) => a.state === "pending").length;
  const running = all.some((a) => a.state === "approved" || a.state === "scheduled");
  const summary = `<p id="queue-summary">${pending} waiting for a decision${running ? "; approved installs are running (this page refreshes)" : ""}.</p>`;
  return { body: top + summary + (all.length === 0 ? "<p>Nothing has been queued.</p>" : all.map((a) => card(a, viewer)).join("")), running };
}
