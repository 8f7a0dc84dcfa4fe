import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { createApprovalStore } from "../../src/approvals/store.js";
import { createCallApprovalStore } from "../../src/approvals/call-approvals.js";
import { canonicalJson } from "../../src/audit/canonical-json.js";
import { createAuditLog } from "../../src/audit/store.js";
import { sqliteHttpCache } from "../../src/index/http-cache.js";
import { sqliteResolutionCache } from "../../src/pipeline/resolution-cache.js";
import { createMemorySlotStore } from "../../src/ratelimit/slots.js";
import { createSqliteRateStore } from "../../src/ratelimit/store.js";
import { openStateDb } from "../../src/state/db.js";
import { approvalContract, auditContract, cacheContract, rateContract, slotContract, type FreshHarness } from "./contracts.js";

// The stores' contract over the embedded SQLite file: the same suite PostgreSQL runs (postgres-contract.test.ts).
// Each open() is its own connection to one state.sqlite, as two brokers on one state directory are.
const root = mkdtempSync(join(tmpdir(), "pipgate-sqlite-contract-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let made = 0;
const fresh: FreshHarness = async () => {
  made += 1;
  const stateDir = join(root, String(made));
  return {
    async open(opts = {}) {
      const db = openStateDb(stateDir);
      const now = opts.now ?? (() => new Date());
      return {
        audit: createAuditLog(db, { now }),
        rates: createSqliteRateStore(db),
        // as sqliteState gives it: in memory, this handle's (one broker process's) own
        slots: createMemorySlotStore(),
        approvals: createApprovalStore(db),
        callApprovals: createCallApprovalStore(db, { canonical: canonicalJson }),
        httpCache: sqliteHttpCache(db),
        resolutions: sqliteResolutionCache(db, now),
        close: async () => void db.close(),
      };
    },
  };
};

auditContract("sqlite", fresh);
rateContract("sqlite", fresh);
slotContract("sqlite", fresh, { shared: false });
approvalContract("sqlite", fresh);
cacheContract("sqlite", fresh);
