import { afterAll, beforeAll, describe } from "vitest";
import { postgresAvailable, startTestPostgres, type TestPostgres } from "../support/postgres.js";
import { approvalContract, auditContract, cacheContract, rateContract, slotContract } from "./contracts.js";
import { pgHarness } from "./pg-harness.js";

// The stores' contract over a real PostgreSQL server (test/support/postgres.ts), the same suite as SQLite's.
const available = postgresAvailable();
describe.skipIf(!available.ok)("PostgreSQL state stores", () => {
  let server: TestPostgres;
  beforeAll(async () => {
    server = await startTestPostgres();
  });
  afterAll(async () => {
    await server?.close();
  });
  const fresh = pgHarness(() => server);
  auditContract("postgres", fresh);
  rateContract("postgres", fresh);
  slotContract("postgres", fresh, { shared: true });
  approvalContract("postgres", fresh);
  cacheContract("postgres", fresh);
});
