import { z } from "zod";
import type { Result } from "../errors.js";

/**
 * Fleet mode's `database:` (issue 17): where the shared state lives when several brokers share it. The
 * URL names the server, the database and the role, never the password: that comes from the variable
 * `password_env` names, so pipgate.yaml can sit in version control and the URL can be logged as it is.
 * Absent, each broker keeps its state in the embedded SQLite file under state_dir, as before.
 */

/** Where a PostgreSQL database is, as node-postgres wants it; `host` is a directory for a unix socket. */
export interface DatabaseTarget {
  host: string;
  port: number;
  database: string;
  /** absent: node-postgres's default (PGUSER, else the OS user), as psql would */
  user: string | undefined;
  ssl: "disable" | "require" | "verify-full";
  /** host:port/database (or socket-dir/database), never credentials: what errors and logs name */
  display: string;
}

const QUERY_KEYS = ["host", "port", "sslmode"] as const;
const SSL_MODES = ["disable", "require", "verify-full"] as const;
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.$-]{0,62}$/;

/**
 * Parses `postgres://user@host[:port]/db` or `postgresql://…`, with `?host=/dir` for a unix socket
 * (`postgres:///db?host=/run/postgresql`). A password in the URL is refused: it would land in every
 * copy of the config and in any message that shows the URL.
 */
export function parseDatabaseUrl(text: string): Result<DatabaseTarget> {
  // `postgres://user@/db?host=/dir` is what libpq accepts for a socket, but WHATWG URLs refuse credentials without a host.
  const socketUser = /^(postgres(?:ql)?:\/\/)([^@/?#]*)@\//.exec(text);
  let url: URL;
  try {
    url = new URL(socketUser === null ? text : `${socketUser[1]}/${text.slice(socketUser[0].length)}`);
  } catch {
    return { ok: false, error: "not a URL: write postgres://USER@HOST[:PORT]/DATABASE (or postgres:///DATABASE?host=/socket/dir)" };
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    return { ok: false, error: `unsupported scheme ${JSON.stringify(url.protocol)}: database.url must start with postgres:// or postgresql://` };
  }
  const [socketName, socketPassword] = (socketUser?.[2] ?? "").split(":");
  if (url.password !== "" || socketPassword !== undefined) {
    return {
      ok: false,
      error: "database.url must not contain a password: remove it from the URL and put it in an environment variable named by database.password_env",
    };
  }
  if (url.hash !== "") return { ok: false, error: "database.url has a #fragment, which means nothing here: remove it" };
  for (const key of url.searchParams.keys()) {
    if (!(QUERY_KEYS as readonly string[]).includes(key)) {
      return { ok: false, error: `database.url has an unknown parameter ${JSON.stringify(key)} (known: ${QUERY_KEYS.join(", ")})` };
    }
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ""));
  if (!NAME.test(database)) return { ok: false, error: "database.url must name the database as its path, e.g. postgres://pipgate@db.example/pipgate" };
  const user = decodeURIComponent(socketUser === null ? url.username : (socketName ?? ""));
  if (user !== "" && !NAME.test(user)) return { ok: false, error: `database.url's user ${JSON.stringify(user)} is not a plain role name` };
  const socketDir = url.searchParams.get("host");
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (socketDir !== null && hostname !== "") return { ok: false, error: "database.url names a host twice: either HOST in the URL or ?host=/socket/dir" };
  if (socketDir !== null && !socketDir.startsWith("/"))
    return { ok: false, error: "database.url's ?host= must be an absolute directory holding the server's unix socket" };
  const host = socketDir ?? hostname;
  if (host === "") return { ok: false, error: "database.url names no host: write postgres://USER@HOST/DATABASE or postgres:///DATABASE?host=/socket/dir" };
  const portText = url.searchParams.get("port") ?? (url.port === "" ? "5432" : url.port);
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return { ok: false, error: `database.url's port ${JSON.stringify(portText)} is not a port number` };
  const sslmode =
    url.searchParams.get("sslmode") ??
    (socketDir === null && hostname !== "localhost" && hostname !== "127.0.0.1" && hostname !== "::1" ? "verify-full" : "disable");
  const ssl = SSL_MODES.find((mode) => mode === sslmode);
  if (ssl === undefined) return { ok: false, error: `database.url's sslmode ${JSON.stringify(sslmode)} is not one of ${SSL_MODES.join(", ")}` };
  const where = socketDir === null ? `${host.includes(":") ? `[${host}]` : host}:${port}` : `${host} (unix socket, port ${port})`;
  return { ok: true, value: { host, port, database, user: user === "" ? undefined : user, ssl, display: `${where}/${database}` } };
}

/** pipgate.yaml's `database`. */
export const DatabaseSchema = z.strictObject({
  url: z
    .string()
    .min(1)
    .superRefine((text, ctx) => {
      const parsed = parseDatabaseUrl(text);
      if (!parsed.ok) ctx.addIssue({ code: z.ZodIssueCode.custom, message: parsed.error });
    })
    .describe(
      "a contract key: the PostgreSQL database every broker of the fleet shares, postgres://USER@HOST[:PORT]/DATABASE or postgres:///DATABASE?host=/socket/dir; " +
        "never with a password (use password_env)",
    ),
  password_env: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable's name: letters, digits and _")
    .optional()
    .describe("name of the environment variable holding the database role's password (never logged); absent: no password (trust or peer authentication)"),
  pool_max: z.number().int().min(1).max(100).default(10).describe("connections this broker keeps to the database at most"),
});
export type DatabaseConfig = z.infer<typeof DatabaseSchema>;
