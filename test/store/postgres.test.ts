import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { canonicalJson } from "../../src/audit/canonical-json.js";
import { createAuditLog } from "../../src/audit/index.js";
import type { StoredRow } from "../../src/audit/chain.js";
import { PipgateError } from "../../src/errors.js";
import { silentLogger } from "../../src/log.js";
import { openMemoryDb } from "../../src/state/db.js";
import { AUDIT_LOCK } from "../../src/store/postgres/audit.js";
import { PG_MIGRATIONS } from "../../src/store/postgres/migrations.js";
import { openPgStores, type PgStores } from "../../src/store/postgres/open.js";
import { SAMPLE_INPUTS } from "../audit/seed.js";
import { postgresAvailable, startTestPostgres, type TestPostgres } from "../support/postgres.js";

const available = postgresAvailable();
const CALLS = { canonical: canonicalJson };

async function open(server: TestPostgres, database: string, env: Record<string, string> = { PW: server.password }): Promise<PgStores> {
  const opened = await openPgStores({ url: server.url(database), password_env: "PW", pool_max: 4 }, { log: silentLogger(), env, callApprovals: CALLS });
  if (!opened.ok) throw new Error(opened.error);
  return opened.value;
}

describe.skipIf(!available.ok)("PostgreSQL state store", () => {
  let server: TestPostgres;
  beforeAll(async () => {
    server = await startTestPostgres();
  });
  afterAll(async () => {
    await server?.close();
  });

  it("migrates once when three brokers start on an empty database at the same moment", async () => {
    const database = await server.createDatabase();
    const brokers = await Promise.all([open(server, database), open(server, database), open(server, database)]);
    const versions = await server.superQuery(database, "SELECT version FROM pipgate_schema ORDER BY version");
    expect(versions.rows.map((row: { version: number }) => row.version)).toEqual(PG_MIGRATIONS.map((_, i) => i + 1));
    await brokers[0]!.audit.append(SAMPLE_INPUTS[0]!);
    expect(await brokers[2]!.audit.count()).toBe(1);
    await Promise.all(brokers.map((stores) => stores.close()));
  });

  it("refuses a database that a newer pipgate migrated", async () => {
    const database = await server.createDatabase();
    await (await open(server, database)).close();
    await server.superQuery(database, "INSERT INTO pipgate_schema (version) VALUES (999)");
    const opened = await openPgStores(
      { url: server.url(database), password_env: "PW", pool_max: 2 },
      { log: silentLogger(), env: { PW: server.password }, callApprovals: CALLS },
    );
    expect(opened.ok).toBe(false);
    expect(opened.ok ? "" : opened.error).toMatch(/schema version 999, newer than this pipgate knows .*upgrade this broker/);
  });

  it("leaves no half record when the appending connection dies mid-transaction, and the next append chains on", async () => {
    const database = await server.createDatabase();
    const stores = await open(server, database);
    try {
      for (const input of SAMPLE_INPUTS.slice(0, 3)) await stores.audit.append(input);
      const head = (await stores.audit.list()).at(-1)!;
      // A "broker" takes the append lock and inserts its row, then dies before COMMIT.
      const dying = new pg.Client({ host: server.dir, user: server.role, database, password: server.password });
      await dying.connect();
      dying.on("error", () => undefined);
      const [{ pid }] = (await dying.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows as [{ pid: number }];
      await dying.query("BEGIN");
      await dying.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [AUDIT_LOCK]);
      await dying.query(
        `INSERT INTO audit (seq, id, time, identity, tool, environment, package, outcome, body, prev_hash, hash)
         VALUES ($1, 'aud_half', $2, 'dying', 'install_package', NULL, NULL, 'installed', '{}', $3, $4)`,
        [head.seq + 1, new Date().toISOString(), head.hash, "f".repeat(64)],
      );
      // Another broker's append waits for the lock meanwhile …
      const waiting = stores.audit.append(SAMPLE_INPUTS[3]!);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await server.superQuery(database, "SELECT pg_terminate_backend($1)", [pid]);
      // … and, once the dead transaction is rolled back, takes the place the half record would have had.
      const next = await waiting;
      expect(next.seq).toBe(head.seq + 1);
      expect(next.prevHash).toBe(head.hash);
      expect((await server.superQuery(database, "SELECT count(*)::int AS n FROM audit WHERE id = 'aud_half'")).rows[0]).toEqual({ n: 0 });
      expect(await stores.audit.verify()).toMatchObject({ ok: true, count: 4 });
      await dying.end().catch(() => undefined);
    } finally {
      await stores.close();
    }
  });

  it("refuses a second record on the same predecessor even without the lock (UNIQUE prev_hash, UNIQUE seq)", async () => {
    const database = await server.createDatabase();
    const stores = await open(server, database);
    try {
      const first = await stores.audit.append(SAMPLE_INPUTS[0]!);
      const insert = (seq: number, id: string) =>
        server.superQuery(
          database,
          `INSERT INTO audit (seq, id, time, identity, tool, outcome, body, prev_hash, hash) VALUES ($1, $2, 't', 'x', 'y', 'installed', '{}', $3, $4)`,
          [seq, id, first.prevHash, "e".repeat(64)],
        );
      await expect(insert(2, "aud_fork")).rejects.toThrow(/audit_prev_hash_key/);
      await expect(insert(1, "aud_dup")).rejects.toThrow(/audit_pkey|audit_prev_hash_key/);
    } finally {
      await stores.close();
    }
  });

  it("writes the chain SQLite's verify accepts: the same rows, the same hash", async () => {
    const database = await server.createDatabase();
    const stores = await open(server, database);
    try {
      for (const input of SAMPLE_INPUTS) await stores.audit.append(input);
      const rows = (
        await server.superQuery(
          database,
          "SELECT seq::int AS seq, id, time, identity, tool, environment, package, outcome, body, prev_hash, hash FROM audit ORDER BY seq",
        )
      ).rows as StoredRow[];
      const db = openMemoryDb();
      const insert = db.prepare("INSERT INTO audit VALUES (@seq, @id, @time, @identity, @tool, @environment, @package, @outcome, @body, @prev_hash, @hash)");
      for (const row of rows) insert.run(row);
      const sqlite = createAuditLog(db);
      expect(await sqlite.verify()).toEqual(await stores.audit.verify());
      expect(await sqlite.list()).toEqual(await stores.audit.list());
    } finally {
      await stores.close();
    }
  });

  it("caps concurrency across brokers with leased slots; a dead broker's slot frees when its lease ends", async () => {
    const database = await server.createDatabase();
    const brokers = await Promise.all([open(server, database), open(server, database), open(server, database)]);
    try {
      const now = 1_700_000_000_000;
      const got = await Promise.all(
        brokers.flatMap((b, i) => [0, 1].map((j) => b.slots.acquire("install_package|grant=a", 2, `broker-${i}-${j}`, 10_000, now))),
      );
      const won = got.filter((r) => r.ok);
      expect(won).toHaveLength(2);
      expect(got.filter((r) => !r.ok)).toEqual(Array.from({ length: 4 }, () => ({ ok: false, running: 2 })));
      const [first, second] = won.map((r) => (r.ok ? r.id : ""));
      // The first is released; the second's broker "dies" and stops renewing.
      await brokers[0]!.slots.release(first!);
      expect(await brokers[1]!.slots.acquire("install_package|grant=a", 2, "broker-x", 10_000, now + 1)).toMatchObject({ ok: true });
      expect(await brokers[1]!.slots.acquire("install_package|grant=a", 2, "broker-y", 10_000, now + 2)).toEqual({ ok: false, running: 2 });
      expect(await brokers[2]!.slots.renew(second!, 10_000, now + 5_000)).toBe(true);
      // broker-x's lease (to now + 10 s) ran out: its slot no longer counts.
      expect(await brokers[2]!.slots.acquire("install_package|grant=a", 2, "broker-y", 10_000, now + 12_000)).toMatchObject({ ok: true });
      expect(await brokers[2]!.slots.acquire("install_package|grant=a", 2, "broker-y", 10_000, now + 12_001)).toEqual({ ok: false, running: 2 });
      // Past the renewed lease (now + 15 s) the dead broker's slot is gone, and renewing it fails.
      expect(await brokers[2]!.slots.renew(second!, 10_000, now + 15_001)).toBe(false);
      expect(await brokers[0]!.slots.acquire("install_package|grant=a", 2, "broker-z", 10_000, now + 15_001)).toMatchObject({ ok: true });
    } finally {
      await Promise.all(brokers.map((b) => b.close()));
    }
  });

  it("names the server and never the password when the password is wrong or missing", async () => {
    const database = await server.createDatabase();
    const wrong = await openPgStores(
      { url: server.url(database), password_env: "PW", pool_max: 1 },
      { log: silentLogger(), env: { PW: "not-the-password-123" }, callApprovals: CALLS },
    );
    expect(wrong.ok).toBe(false);
    const text = wrong.ok ? "" : wrong.error;
    expect(text).toContain(server.dir);
    expect(text).toMatch(/password authentication failed/);
    expect(text).not.toContain("not-the-password-123");
    const missing = await openPgStores({ url: server.url(database), password_env: "PW", pool_max: 1 }, { log: silentLogger(), env: {}, callApprovals: CALLS });
    expect(missing).toEqual({ ok: false, error: "database.password_env names PW, which is not set: export the password of the database role there" });
  });
});

describe.skipIf(!available.ok)("PostgreSQL going away", () => {
  let server: TestPostgres;
  beforeAll(async () => {
    server = await startTestPostgres();
  });
  afterAll(async () => {
    await server?.close();
  });

  it("fails a call closed while the server is down, naming it, and reconnects when it is back", async () => {
    const database = await server.createDatabase();
    const stores = await open(server, database);
    try {
      const first = await stores.audit.append(SAMPLE_INPUTS[0]!);
      await server.stop();
      const refused = await stores.audit.append(SAMPLE_INPUTS[1]!).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(PipgateError);
      expect((refused as PipgateError).code).toBe("database-unavailable");
      expect((refused as PipgateError).message).toContain(server.dir);
      expect((refused as PipgateError).message).not.toContain(server.password);
      await expect(stores.rates.take([{ key: "k", windowMs: 60_000, max: 1 }], Date.now())).rejects.toMatchObject({ code: "database-unavailable" });
      await server.start();
      const next = await stores.audit.append(SAMPLE_INPUTS[2]!);
      expect(next.seq).toBe(first.seq + 1);
      expect(await stores.audit.verify()).toMatchObject({ ok: true, count: 2 });
    } finally {
      await stores.close();
    }
  });

  it("refuses to open, naming the server, when it is down at start-up", async () => {
    const database = await server.createDatabase();
    await server.stop();
    try {
      const opened = await openPgStores(
        { url: server.url(database), password_env: "PW", pool_max: 1 },
        { log: silentLogger(), env: { PW: server.password }, callApprovals: CALLS },
      );
      expect(opened.ok).toBe(false);
      expect(opened.ok ? "" : opened.error).toMatch(
        new RegExp(`cannot open the state database ${server.dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(unix socket, port 5432\\)/${database}`),
      );
    } finally {
      await server.start();
    }
  });
});
