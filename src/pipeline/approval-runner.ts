import { errorMessage } from "../errors.js";
import type { Logger } from "../log.js";
import type { ApprovalQueue } from "./approval-queue.js";

/** How often a fleet broker looks for installs approved elsewhere for it. */
export const SCHEDULED_POLL_MS = 2_000;

/**
 * A fleet broker's side of an approval made on another broker: every `intervalMs` it takes the
 * requests scheduled for it and runs them (ApprovalQueue.runScheduled), one round at a time; the
 * approver's CLI reads the outcome from the shared queue. A round that fails (the database away) is
 * logged and tried again at the next tick: a scheduled request waits, it is not lost. `stop` waits
 * for the round in progress, so serve does not close the stores under a running install.
 */
export function startScheduledRunner(queue: ApprovalQueue, log: Logger, intervalMs = SCHEDULED_POLL_MS): { stop(): Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let round: Promise<void> = Promise.resolve();

  const tick = async (): Promise<void> => {
    try {
      for (const approval of await queue.runScheduled()) {
        log.info(
          { approval: approval.id, state: approval.state, decided_by: approval.decidedBy, audit: approval.result?.audit_id },
          `ran ${approval.request.requirement} for ${approval.identity}, approved on another broker: ${approval.state}`,
        );
      }
    } catch (error) {
      log.warn({ err: errorMessage(error) }, "could not run the installs other brokers approved for this one; trying again");
    }
  };
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      round = tick().finally(schedule);
    }, intervalMs);
    timer.unref();
  };
  round = tick().finally(schedule);

  return {
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await round;
    },
  };
}
