import pg from "pg";
import { PipgateError, errorMessage, type Result } from "../../errors.js";
import type { Logger } from "../../log.js";
import type { DatabaseTarget } from "../../config/database.js";

/**
 * The connection pool of fleet mode, and the one place that talks to node-postgres. Every query and
 * transaction goes through `query`/`tx`, which (1) get a connection with bounded back-off when the
 * server is away (a restart, a fail-over), (2) never retry once a statement was sent — an audit append
 * whose COMMIT may or may not have landed is not sent twice — and (3) turn every failure into a
 * PipgateError "database-unavailable" or "database-error" that names the server as `display` does,
 * never a credential. A request that meets one fails closed: it is refused before any work starts,
 * because its intent could not be written.
 */
export interface PgPool {
  /** host:port/database, for messages and logs */
  display: string;
  query<R extends object = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /**
   * Runs `work` in one transaction: BEGIN, then `pg_advisory_xact_lock` on each of `locks` in a fixed
   * order (so two transactions never wait on each other in a cycle), then the work, then COMMIT. Any
   * error rolls back; a broker killed meanwhile leaves nothing behind (the server rolls back a
   * transaction whose connection went away).
   */
  tx<T>(
    work: (q: TxQuery) => Promise<T>,
    opts?: { locks?: readonly string[]; isolation?: "repeatable read"; readOnly?: boolean; syncCommit?: boolean },
  ): Promise<T>;
  close(): Promise<void>;
}

export type TxQuery = <R extends object = Record<string, unknown>>(sql: string, params?: readonly unknown[]) => Promise<R[]>;

export interface PgPoolOptions {
  target: DatabaseTarget;
  password: string | undefined;
  max: number;
  log: Logger;
  /** how many times a connection is tried before a call fails (each wait doubles from 100 ms, capped at 2 s) */
  connectAttempts?: number;
}

/** BIGINT (int8) columns hold milliseconds and sequence numbers, all well inside 2^53: read them as numbers. */
const INT8_OID = 20;
const TYPES = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID && format !== "binary"
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format ?? "text")) as typeof pg.types.getTypeParser,
};

/** SQLSTATEs and socket errors that mean "the server is not there (now)", as opposed to a bad statement. */
function unreachable(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== "string") return /Connection terminated|timeout exceeded when trying to connect|connection timeout/i.test(errorMessage(error));
  return (
    ["ECONNREFUSED", "ECONNRESET", "ENOENT", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN", "ENOTFOUND", "EPIPE"].includes(code) ||
    code.startsWith("08") || // connection exceptions
    code === "57P01" || // admin_shutdown
    code === "57P02" || // crash_shutdown
    code === "57P03" // cannot_connect_now (starting up, shutting down)
  );
}

/** A server message never carries the password; the connection string never reaches it. Scrubbed anyway. */
function describe(error: unknown, password: string | undefined): string {
  const text = errorMessage(error);
  return password === undefined || password === "" ? text : text.split(password).join("***");
}

export function createPgPool(options: PgPoolOptions): PgPool {
  const { target, password, log } = options;
  const attempts = options.connectAttempts ?? 5;
  const pool = new pg.Pool({
    host: target.host,
    port: target.port,
    database: target.database,
    ...(target.user === undefined ? {} : { user: target.user }),
    ...(password === undefined ? {} : { password }),
    ssl: target.ssl === "disable" ? false : target.ssl === "require" ? { rejectUnauthorized: false } : true,
    max: options.max,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    application_name: "pipgate",
    types: TYPES,
  });
  // An idle connection the server drops (restart, fail-over) emits here; without a listener it would crash the broker.
  pool.on("error", (error) =>
    log.warn({ database: target.display, err: describe(error, password) }, "a database connection was lost; the pool reconnects on next use"),
  );

  const unavailable = (error: unknown) =>
    new PipgateError(
      "database-unavailable",
      `the state database ${target.display} is unreachable (${describe(error, password)}); nothing was done — retry when it is back`,
      { cause: error },
    );
  const failed = (error: unknown) => {
    if (error instanceof PipgateError) return error;
    if (unreachable(error)) return unavailable(error);
    return new PipgateError("database-error", `the state database ${target.display} refused a statement: ${describe(error, password)}`, { cause: error });
  };

  async function connect(): Promise<pg.PoolClient> {
    let wait = 100;
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await pool.connect();
      } catch (error) {
        if (!unreachable(error) || attempt >= attempts) throw failed(error);
        log.warn({ database: target.display, attempt, err: describe(error, password) }, "the state database is unreachable; retrying");
        await new Promise((resolve) => setTimeout(resolve, wait));
        wait = Math.min(wait * 2, 2_000);
      }
    }
  }

  return {
    display: target.display,
    async query<R extends object>(sql: string, params: readonly unknown[] = []) {
      const client = await connect();
      try {
        const result = await client.query<R>(sql, params as unknown[]);
        client.release();
        return result.rows;
      } catch (error) {
        // A connection that failed is destroyed, not handed to the next caller.
        client.release(unreachable(error) ? (error as Error) : undefined);
        throw failed(error);
      }
    },
    async tx(work, opts = {}) {
      const client = await connect();
      const q: TxQuery = async <R extends object>(sql: string, params: readonly unknown[] = []) => (await client.query<R>(sql, params as unknown[])).rows;
      let broken: Error | undefined;
      try {
        const mode = [opts.isolation === undefined ? "" : `ISOLATION LEVEL ${opts.isolation.toUpperCase()}`, opts.readOnly === true ? "READ ONLY" : ""].filter(
          (s) => s !== "",
        );
        await client.query(`BEGIN ${mode.join(" ")}`);
        if (opts.syncCommit === true) await client.query("SET LOCAL synchronous_commit = on");
        for (const key of [...new Set(opts.locks ?? [])].sort()) await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [key]);
        const value = await work(q);
        await client.query("COMMIT");
        return value;
      } catch (error) {
        if (unreachable(error)) broken = error as Error;
        else await client.query("ROLLBACK").catch((rollbackError: unknown) => (broken = rollbackError as Error));
        throw failed(error);
      } finally {
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
}

/**
 * The pool of `database:` in pipgate.yaml, checked by one round trip: a broker whose database is away
 * at start-up refuses to start (and says which server), rather than failing every request later.
 */
export async function openPgPool(options: PgPoolOptions): Promise<Result<PgPool>> {
  const pool = createPgPool({ ...options, connectAttempts: options.connectAttempts ?? 3 });
  try {
    await pool.query("SELECT 1");
    return { ok: true, value: pool };
  } catch (error) {
    await pool.close().catch(() => undefined);
    return { ok: false, error: errorMessage(error) };
  }
}
