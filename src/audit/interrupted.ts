import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { JournalRow } from "../commit/journal.js";
import { processStart } from "../state/process.js";
import type { Recovery } from "../commit/recover.js";
import type { AuditLog } from "./store.js";
import { BrokerProcessSchema, type AuditInput, type AuditRecord, type BrokerProcess, type RecoveryFinding } from "./types.js";

/** This process as an intent names it: pid and start time, as the environment lock names its owner. */
export async function currentBroker(): Promise<BrokerProcess> {
  return { pid: process.pid, start: await processStart(process.pid), host: hostname() };
}

export interface InterruptedDeps {
  audit: AuditLog;
  /** The commit journal's entries for a request id, oldest first. */
  journalsOf: (requestId: string) => ReadonlyArray<Pick<JournalRow, "id" | "state">>;
  /** Whether the broker that wrote an intent still runs (then its request is in flight, not interrupted). */
  isAlive: (broker: BrokerProcess) => Promise<boolean>;
  /**
   * This broker's id. An intent naming another broker's id is that broker's to close when it starts again:
   * in a fleet the chain holds every broker's intents, and a pid and host name (two containers may share
   * one) cannot prove a process on another machine dead. Intents without an id are judged by isAlive.
   */
  brokerId?: string;
}

/**
 * Run at start-up after commit recovery: every intent whose broker is gone gets its one outcome,
 * "interrupted", saying what recovery found; a recovered commit whose request has no open intent still
 * gets one record, so every restore is in the log and no request gets two outcomes. Intents of live
 * brokers (another `pipgate serve` or `install` on this state directory) are left open. Returns the
 * records written.
 */
export async function closeInterrupted(deps: InterruptedDeps, recoveries: readonly Recovery[]): Promise<AuditRecord[]> {
  const { audit } = deps;
  const written: AuditRecord[] = [];
  const byRequest = new Map(recoveries.map((r) => [r.auditId, r] as const));
  const handled = new Set<string>();

  for (const intent of await audit.openIntents()) {
    const requestId = requestIdOf(intent);
    if (requestId === undefined) continue;
    handled.add(requestId);
    const broker = BrokerProcessSchema.safeParse(intent.broker);
    // An intent that does not name its broker cannot be proved dead: fail closed, leave it open.
    if (!broker.success) continue;
    if (broker.data.id !== undefined && broker.data.id !== deps.brokerId) continue;
    if (await deps.isAlive(broker.data)) continue;
    const finding = findingFor(byRequest.get(requestId), deps.journalsOf(requestId).at(-1));
    const record = await audit.appendOutcomeOnce(requestId, {
      identity: intent.identity,
      tool: intent.tool,
      ...(intent.environment === undefined ? {} : { environment: intent.environment }),
      ...(intent.package === undefined ? {} : { package: intent.package }),
      outcome: "interrupted",
      arguments: intent.arguments,
      reason: `interrupted: broker pid ${broker.data.pid} ended before the request did; recovery found: ${finding.found}${finding.detail === undefined ? "" : ` (${finding.detail})`}`,
      request: { requestId, intent: intent.id },
      recovery: finding,
    });
    if (record !== undefined) written.push(record);
  }

  for (const recovery of recoveries) {
    if (handled.has(recovery.auditId)) continue;
    const finding = findingFor(recovery, undefined);
    const input: Omit<AuditInput, "outcome" | "request"> = {
      identity: "pipgate",
      tool: "recovery",
      environment: recovery.environment,
      arguments: { journal: recovery.journalId, request: recovery.auditId },
      reason: `an unfinished commit (request ${recovery.auditId}) was found at start-up: ${finding.found}${finding.detail === undefined ? "" : ` (${finding.detail})`}`,
      recovery: finding,
    };
    // A commit whose request left no intent (written before intents existed) ends here, once.
    const closed = await audit.appendOutcomeOnce(recovery.auditId, { ...input, outcome: "interrupted", request: { requestId: recovery.auditId } });
    if (closed !== undefined) {
      written.push(closed);
      continue;
    }
    // Its request already has its outcome (a commit that could not be rolled back said so): the restore
    // is recovery's own request, with its own id.
    written.push(
      await audit.append({
        ...input,
        outcome: recovery.restored ? "rolled-back" : "failed",
        request: { requestId: `rec_${randomUUID()}`, recovers: recovery.auditId },
      }),
    );
  }
  return written;
}

function requestIdOf(record: AuditRecord): string | undefined {
  const request = record.request;
  if (typeof request !== "object" || request === null) return undefined;
  const id = (request as { requestId?: unknown }).requestId;
  return typeof id === "string" ? id : undefined;
}

/** What recovery found: this start-up's own restore first, else the journal's last word, else no commit. */
export function findingFor(recovery: Recovery | undefined, journal: Pick<JournalRow, "id" | "state"> | undefined): RecoveryFinding {
  if (recovery !== undefined) {
    const journalId = { journal: recovery.journalId };
    if (!recovery.restored) {
      return { found: "not restored", ...journalId, detail: `${recovery.error ?? "unknown error"}; it is tried again at the next start` };
    }
    if (recovery.action === "abandoned") {
      return { found: "nothing to do", ...journalId, detail: "the commit was still backing up: the venv was not touched, the partial backup was dropped" };
    }
    return { found: "rolled back", ...journalId, detail: "an unfinished commit was restored from its backup" };
  }
  if (journal === undefined) return { found: "nothing to do", detail: "no commit had started: the venv was not touched" };
  switch (journal.state) {
    case "done":
      return { found: "completed", journal: journal.id, detail: "the commit had finished: the venv holds the verified set" };
    case "rolled-back":
      return { found: "rolled back", journal: journal.id, detail: "the commit had failed and was rolled back before the broker ended" };
    case "abandoned":
      return { found: "nothing to do", journal: journal.id, detail: "the commit's backup had failed: the venv was not touched" };
    case "preparing":
    case "started":
      return { found: "not restored", journal: journal.id, detail: "the commit is still unfinished in the journal; it is rolled back at the next start" };
  }
}
