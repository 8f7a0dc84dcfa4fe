import { afterAll, beforeAll, describe } from "vitest";
import { canonicalJson } from "../../src/audit/canonical-json.js";
import { silentLogger } from "../../src/log.js";
import { openPgStores } from "../../src/store/postgres/open.js";
import { postgresAvailable, startTestPostgres, type TestPostgres } from "../support/postgres.js";
import { publisherContract } from "./publisher-contract.js";

// The publisher store's contract (repin included) over a real PostgreSQL server, as SQLite runs it.
const available = postgresAvailable();
describe.skipIf(!available.ok)("PostgreSQL publisher store", () => {
  let server: TestPostgres;
  beforeAll(async () => {
    server = await startTestPostgres();
  });
  afterAll(async () => {
    await server?.close();
  });
  publisherContract("postgres", async () => {
    const database = await server.createDatabase();
    const opened = await openPgStores(
      { url: server.url(database), password_env: "PIPGATE_TEST_DB_PASSWORD", pool_max: 2 },
      { log: silentLogger(), env: { PIPGATE_TEST_DB_PASSWORD: server.password }, callApprovals: { canonical: canonicalJson } },
    );
    if (!opened.ok) throw new Error(opened.error);
    return { store: opened.value.publishers, close: () => opened.value.close() };
  });
});
