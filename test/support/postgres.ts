import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { execa } from "execa";
import pg from "pg";
import { canonicalJson } from "../../src/audit/canonical-json.js";
import { silentLogger } from "../../src/log.js";
import { openPgStores, type PgStores } from "../../src/store/postgres/open.js";

/**
 * A throwaway PostgreSQL server for the fleet-mode tests: Debian's binaries (scripts/setup-host.sh
 * installs them), a cluster made by initdb in a temporary directory, listening only on a unix socket in
 * that directory (listen_addresses = ''), fsync off. The server refuses to run as root, so under root it
 * runs as the `postgres` OS user (runuser) and owns the directory. The superuser connects by trust over
 * that socket (the directory is 0700, so only root and postgres reach it); every test role needs its
 * password (scram-sha-256), as a real deployment's would.
 */
export interface TestPostgres {
  /** the directory holding the cluster, its socket and its log */
  dir: string;
  /** a connection URL for `role` on `database` over the socket, without its password */
  url(database: string, role?: string): string;
  /** the password of the test role (every database made by createDatabase is owned by it) */
  password: string;
  role: string;
  /** A fresh, empty database owned by the test role. */
  createDatabase(name?: string): Promise<string>;
  /** Runs SQL as the superuser in `database` (for tests that look under the adapters). */
  superQuery(database: string, sql: string, params?: unknown[]): Promise<pg.QueryResult>;
  /** Stops the server at once (connections are cut, as when a database host goes away). */
  stop(): Promise<void>;
  /** Starts it again on the same socket and data. */
  start(): Promise<void>;
  /** Stops it and removes the directory. */
  close(): Promise<void>;
}

/** The directory of Debian's PostgreSQL binaries (the newest installed major), if any. */
export function postgresBinDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((name) => /^\d+$/.test(name) && existsSync(join(root, name, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] === undefined ? undefined : join(root, majors[0], "bin");
}

/**
 * Whether these tests can run here. Under CI=true a missing PostgreSQL throws (a failure, never a quiet
 * skip); elsewhere the caller skips with the reason.
 */
export function postgresAvailable(): { ok: true } | { ok: false; reason: string } {
  if (postgresBinDir() !== undefined) return { ok: true };
  const reason = "these tests need PostgreSQL's server binaries under /usr/lib/postgresql (run scripts/setup-host.sh)";
  if (process.env.CI === "true") throw new Error(reason);
  return { ok: false, reason };
}

const ROLE = "pipgate_test";

export async function startTestPostgres(): Promise<TestPostgres> {
  const bin = postgresBinDir();
  if (bin === undefined) throw new Error("PostgreSQL is not installed (run scripts/setup-host.sh)");
  const asRoot = userInfo().uid === 0;
  const dir = mkdtempSync(join(tmpdir(), "pipgate-pg-"));
  const data = join(dir, "data");
  if (asRoot) {
    const ids = await execa("id", ["-u", "postgres"]);
    const gids = await execa("id", ["-g", "postgres"]);
    chownSync(dir, Number(ids.stdout.trim()), Number(gids.stdout.trim()));
  }
  const run = (command: string, args: string[]) =>
    asRoot ? execa("runuser", ["-u", "postgres", "--", join(bin, command), ...args], { cwd: dir }) : execa(join(bin, command), args, { cwd: dir });

  await run("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"]);
  // Written as the postgres user (the data directory is its own): trust for the superuser on the socket, a password for every other role.
  const hba = ["local all postgres trust", "local all all scram-sha-256", ""].join("\n");
  writeFileSync(join(data, "pg_hba.conf"), hba); // overwritten in place: it stays the postgres user's
  const options = ["-c listen_addresses=''", `-c unix_socket_directories=${dir}`, "-c fsync=off", "-c full_page_writes=off", "-c max_connections=200"];
  const start = async () => {
    await run("pg_ctl", ["-D", data, "-l", join(dir, "server.log"), "-o", options.join(" "), "-w", "-t", "60", "start"]);
  };
  const stop = async () => {
    await run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "-t", "60", "stop"]);
  };
  await start();

  const password = randomBytes(18).toString("base64url");
  const superQuery = async (database: string, sql: string, params: unknown[] = []) => {
    const client = new pg.Client({ host: dir, user: "postgres", database });
    await client.connect();
    try {
      return await client.query(sql, params);
    } finally {
      await client.end();
    }
  };
  await superQuery("postgres", `CREATE ROLE ${ROLE} LOGIN PASSWORD '${password}'`);

  let made = 0;
  return {
    dir,
    password,
    role: ROLE,
    url: (database, role = ROLE) => `postgres://${role}@/${database}?host=${encodeURIComponent(dir)}`,
    async createDatabase(name) {
      made += 1;
      const database = name ?? `pipgate_${made}_${randomBytes(3).toString("hex")}`;
      await superQuery("postgres", `CREATE DATABASE ${database} OWNER ${ROLE}`);
      return database;
    },
    superQuery,
    stop,
    start,
    async close() {
      await stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * One broker's shared stores over a database of the test server, as the test role (its password passed
 * straight to the adapter, never through the process environment); throws when they do not open.
 */
export async function openTestStores(server: TestPostgres, database: string, options: { poolMax?: number; now?: () => Date } = {}): Promise<PgStores> {
  const opened = await openPgStores(
    { url: server.url(database), password_env: "PIPGATE_TEST_DB_PASSWORD", pool_max: options.poolMax ?? 2 },
    {
      log: silentLogger(),
      env: { PIPGATE_TEST_DB_PASSWORD: server.password },
      callApprovals: { canonical: canonicalJson },
      ...(options.now === undefined ? {} : { now: options.now }),
    },
  );
  if (!opened.ok) throw new Error(opened.error);
  return opened.value;
}
