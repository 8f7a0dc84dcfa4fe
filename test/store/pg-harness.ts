import { silentLogger } from "../../src/log.js";
import { openPgStores } from "../../src/store/postgres/open.js";
import { canonicalJson } from "../../src/audit/canonical-json.js";
import type { TestPostgres } from "../support/postgres.js";
import type { FreshHarness, StoreHarness } from "./contracts.js";

/** The contract harness over a throwaway server: each fresh() is a new database, each open() a new pool (a broker). */
export function pgHarness(server: () => TestPostgres): FreshHarness {
  return async (): Promise<StoreHarness> => {
    const pg = server();
    const database = await pg.createDatabase();
    return {
      async open(opts = {}) {
        const opened = await openPgStores(
          { url: pg.url(database), password_env: "PIPGATE_TEST_DB_PASSWORD", pool_max: 4 },
          {
            log: silentLogger(),
            env: { PIPGATE_TEST_DB_PASSWORD: pg.password },
            callApprovals: { canonical: canonicalJson },
            ...(opts.now === undefined ? {} : { now: opts.now }),
          },
        );
        if (!opened.ok) throw new Error(opened.error);
        return opened.value;
      },
    };
  };
}
