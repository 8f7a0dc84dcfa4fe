import type { AuditLog } from "../audit/store.js";
import type { GrantRole } from "../config/grants-schema.js";
import type { Logger } from "../log.js";
import type { ApprovalQueue } from "../pipeline/approval-queue.js";

/** What the console reads and decides through: the audit log, the approval queue, the grants. Nothing else. */
export interface ConsoleDeps {
  audit: AuditLog;
  /** absent when the policy has no `approval:` section */
  approvals: ApprovalQueue | undefined;
  environments: readonly string[];
  grantForToken(token: string): string | undefined;
  roleFor(grant: string): GrantRole | undefined;
  now: () => Date;
  log: Logger;
}

/** The most records a view counts or scans: a summary over more says it stopped there. */
export const SCAN_CAP = 20_000;
/** The most rows a log view lists, and a tail poll returns. */
export const ROW_CAP = 200;
