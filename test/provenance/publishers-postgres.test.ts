import { afterAll, beforeAll, describe } from "vitest";
import { openTestStores, postgresAvailable, startTestPostgres, type TestPostgres } from "../support/postgres.js";
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
    const stores = await openTestStores(server, database);
    return { store: stores.publishers, close: () => stores.close() };
  });
});
