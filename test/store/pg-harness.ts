import { openTestStores, type TestPostgres } from "../support/postgres.js";
import type { FreshHarness, StoreHarness } from "./contracts.js";

/** The contract harness over a throwaway server: each fresh() is a new database, each open() a new pool (a broker). */
export function pgHarness(server: () => TestPostgres): FreshHarness {
  return async (): Promise<StoreHarness> => {
    const pg = server();
    const database = await pg.createDatabase();
    return {
      open: (opts = {}) => openTestStores(pg, database, { poolMax: 4, ...opts }),
    };
  };
}
