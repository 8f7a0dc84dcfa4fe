import { z } from "zod";
import { RulesSchema } from "./allowlist-schema.js";
import { DatabaseSchema } from "./database.js";
import { GrantsSchema } from "./grants-schema.js";
import { DEFAULT_INDEX_NAME, INDEX_NAME } from "./index-names.js";
import { UpstreamSchema } from "./upstream-schema.js";

/** Environment names are identifiers, never paths: they select a configured venv and nothing else. */
export const ENVIRONMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export const EnvironmentSchema = z.strictObject({
  python: z.string().min(1).describe("the target venv's interpreter, e.g. ./venvs/default/bin/python"),
  allowlist: z.string().min(1).describe("the environment's allowlist file (YAML)"),
  description: z.string().optional().describe("shown to agents by list_environments"),
  mode: z
    .enum(["enforce", "shadow"])
    .optional()
    .describe(
      "enforce (the default when absent) or shadow: the allowlist and metadata rules are evaluated and audited as would-deny, and the install goes ahead; " +
        "the deny list, argument checks, limits, the sandbox and verification still refuse",
    ),
});
export type EnvironmentConfig = z.infer<typeof EnvironmentSchema>;

export const SandboxSchema = z.strictObject({
  image: z.string().optional().describe("the sandbox image; default pipgate-sandbox:py3.X for the environment's Python"),
  memory_mb: z.number().int().min(64).max(65536).default(1024).describe("memory limit of a sandbox container"),
  pids: z.number().int().min(16).max(4096).default(256).describe("process limit of a sandbox container"),
  cpus: z.number().min(0.1).max(64).default(1).describe("CPU limit of a sandbox container"),
  timeout_max: z.number().int().min(1).max(3600).default(900).describe("the largest timeout (seconds) an install may ask for"),
  docker_socket: z.string().default("/var/run/docker.sock").describe("the Docker engine's socket"),
  runtime: z
    .enum(["runc", "runsc"])
    .default("runc")
    .describe("the OCI runtime of build containers: runc (default) or runsc (gVisor, registered with the Docker engine)"),
  out_max_mb: z
    .number()
    .int()
    .min(16)
    .max(65536)
    .default(2048)
    .describe("size of the build's /out (a tmpfs inside the container, counted in memory_mb): a build cannot write more"),
  max_wheel_mb: z.number().int().min(1).max(65536).default(512).describe("the largest wheel a build may hand back"),
  output_max_mb: z.number().int().min(1).max(4096).default(32).describe("how much a build may write to its stdout and stderr together before it is stopped"),
  pool: z
    .strictObject({
      size: z
        .number()
        .int()
        .min(0)
        .max(8)
        .default(0)
        .describe("build containers `pipgate serve` keeps created and started per image, each for one request only; 0 (default): none"),
      idle_seconds: z.number().int().min(30).max(86_400).default(600).describe("a pooled container not handed out by then is replaced"),
    })
    .default({ size: 0, idle_seconds: 600 })
    .describe("the warm pool of single-use build containers (serve only)"),
});
export type SandboxConfig = z.infer<typeof SandboxSchema>;

/** A password written into an index URL would sit in a file under version control and in every message naming the URL. */
const noPasswordInUrl = (url: string | undefined): boolean => url === undefined || !URL.canParse(url) || new URL(url).password === "";
const PASSWORD_IN_URL = "the URL carries a password: put the user name in username and the password in the environment variable password_env names";

export const IndexSchema = z.strictObject({
  url: z.string().url().optional().refine(noPasswordInUrl, PASSWORD_IN_URL).describe("a PEP 503 simple index; when absent, pip's own default index"),
  timeout_ms: z.number().int().min(100).max(120_000).default(10_000).describe("per request"),
  retries: z.number().int().min(0).max(5).default(2).describe("retries of a failed request"),
  cache_ttl_seconds: z
    .number()
    .int()
    .min(0)
    .max(86_400 * 7)
    .default(600)
    .describe("how long cached metadata counts as fresh without revalidation"),
  username: z.string().optional().describe("for a private index"),
  password_env: z.string().optional().describe("name of the environment variable holding the private index's password (never logged)"),
});
export type IndexConfig = z.infer<typeof IndexSchema>;

/**
 * A named, private index (`indexes.NAME`). Only names an allowlist binds to it (`index: NAME`) are ever
 * resolved from it; an unbound name it also has is refused as dependency confusion. Its credentials go
 * to its own origin only.
 */
export const NamedIndexSchema = z.strictObject({
  url: z.string().url().refine(noPasswordInUrl, PASSWORD_IN_URL).describe("the private index's PEP 503 simple URL"),
  username: z.string().optional().describe("the user name of its basic auth"),
  password_env: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable's name")
    .optional()
    .describe("name of the environment variable holding its password (never logged; unset at start-up is an error)"),
  timeout_ms: z.number().int().min(100).max(120_000).optional().describe("per request; default index.timeout_ms"),
  retries: z.number().int().min(0).max(5).optional().describe("retries of a failed request; default index.retries"),
  cache_ttl_seconds: z
    .number()
    .int()
    .min(0)
    .max(86_400 * 7)
    .optional()
    .describe("how long cached metadata counts as fresh; default index.cache_ttl_seconds"),
});
export type NamedIndexConfig = z.infer<typeof NamedIndexSchema>;

/** `indexes:`: at most a few private indexes, each asked about every unbound name (the confusion check). */
export const IndexesSchema = z
  .record(
    z
      .string()
      .regex(INDEX_NAME, "index names are letters, digits, - and _")
      .refine((name) => name !== DEFAULT_INDEX_NAME, `"${DEFAULT_INDEX_NAME}" is the name of index: itself; choose another`),
    NamedIndexSchema,
  )
  .refine((indexes) => Object.keys(indexes).length <= 16, "at most 16 named indexes");

export const CommitSchema = z
  .strictObject({
    installer: z
      .enum(["pip", "direct"])
      .default("direct")
      .describe(
        "direct (default): pipgate unpacks the verified wheels itself, no pip start-up, hardlinked backups; " +
          "pip: the venv's own pip installs them, with full-copy backups",
      ),
    backup: z.enum(["copy", "hardlink"]).optional().describe("how the venv is backed up before a commit; default hardlink for direct, copy for pip"),
    store: z
      .boolean()
      .default(true)
      .describe("direct installer: install from the store of unpacked, byte-compiled wheels under state_dir/store (made once per wheel and interpreter)"),
    link: z
      .enum(["copy", "hardlink"])
      .default("copy")
      .describe(
        "how files leave the store: copy (default; reflinked where the file system can, a private inode per environment) or " +
          "hardlink (faster; every environment shares the store's inodes, so a write in place in one changes the others — files are read-only)",
      ),
    store_cold: z
      .enum(["background", "inline"])
      .default("background")
      .describe(
        "a wheel's first install: background (default; installed directly like before the store, its store entry made after the commit, " +
          "off the request's path, by a long-running broker) or inline (the entry is made first and the install links from it)",
      ),
    store_max_mb: z
      .number()
      .int()
      .min(0)
      .max(1_048_576)
      .default(2048)
      .describe("the store's cap in MiB; least recently used entries not in use are evicted beyond it (0 keeps nothing after an install)"),
  })
  .refine((c) => !(c.installer === "pip" && c.backup === "hardlink"), {
    // pip may write into an existing file, which would change a hardlinked backup with it.
    message: "a hardlink backup needs installer: direct (pip may write into existing files)",
    path: ["backup"],
  });
export type CommitConfig = z.infer<typeof CommitSchema>;

export const HttpSchema = z.strictObject({
  session_idle_seconds: z
    .number()
    .int()
    .min(1)
    .max(86_400)
    .default(300)
    .describe("an HTTP session without a request for this long is closed; its id then gets 404 and the client initializes anew"),
  max_sessions_per_grant: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(32)
    .describe(
      "open HTTP sessions one grant may hold; at the cap, a new initialize closes that grant's least recently used idle session, or is refused (429) when all are busy",
    ),
  max_sessions: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(256)
    .describe(
      "open HTTP sessions in all; at the cap, a new initialize closes its own grant's least recently used idle session, or is refused (503); another grant's session is never closed for it",
    ),
  max_body_bytes: z
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .default(1024 * 1024)
    .describe("largest HTTP request body; a larger one is refused with 413 before it is read further"),
});
export type HttpConfig = z.infer<typeof HttpSchema>;

/**
 * rules.osv: the offline OSV database. Set in pipgate.yaml only (one database serves every environment),
 * so an allowlist naming it is refused as an unknown key.
 */
export const OsvConfigSchema = z.strictObject({
  path: z.string().min(1).describe("a directory of OSV JSON records, or a zip of them such as the PyPI ecosystem's all.zip (relative to the config file)"),
  max_age_hours: z
    .number()
    .positive()
    .max(24 * 365)
    .optional()
    .describe("refuse every install (fail closed) while the database's newest record was modified longer ago than this; absent: no bound"),
});
export type OsvConfig = z.infer<typeof OsvConfigSchema>;

/** pipgate.yaml's `rules`: the allowlist rule defaults, plus the server-wide OSV database. */
export const ConfigRulesSchema = RulesSchema.partial().extend({
  osv: OsvConfigSchema.optional().describe("the offline OSV database: MAL-* reports deny outright, other advisories feed the vulnerability rule"),
  provenance_trust_root: z
    .string()
    .min(1)
    .optional()
    .describe("a Sigstore trusted_root.json the provenance rule verifies against instead of Sigstore's public-good root (relative to the config file)"),
});

/** pipgate.yaml. Every object in it is strict: an unknown key (a typo like `sandboxx:`) is an error, never ignored. */
export const ConfigSchema = z.strictObject({
  index: IndexSchema.default(IndexSchema.parse({})),
  indexes: IndexesSchema.default({}).describe(
    "named private indexes, each with its credentials: an allowlist binds a name to one with `index: NAME`; an unbound name found on one of them and on index: is refused (dependency-confusion)",
  ),
  state_dir: z.string().default(".pipgate").describe("audit log, counters, caches (relative to the config file)"),
  identity: z.string().min(1).default("local").describe("who a stdio client is, for audit and grants"),
  policy: z.string().optional().describe("a policy file (JSON or YAML): tool limits and approvals; none means no limits"),
  grants: GrantsSchema.describe("who may use which environments: HTTP bearer tokens (stored as sha256) and per-grant limits"),
  sandbox: SandboxSchema.default(SandboxSchema.parse({})),
  commit: CommitSchema.default(CommitSchema.parse({})).describe("how verified wheels are installed into an environment"),
  http: HttpSchema.default(HttpSchema.parse({})).describe("limits of `serve --http`: session idle time, session caps, request body size"),
  rules: ConfigRulesSchema.default({}).describe("rule defaults for every allowlist, and the OSV database"),
  environments: z
    .record(z.string().regex(ENVIRONMENT_NAME, "environment names are letters, digits, - and _"), EnvironmentSchema)
    .refine((envs) => Object.keys(envs).length > 0, "configure at least one environment"),
  upstream: UpstreamSchema.optional().describe("gateway mode: the MCP server pipgate fronts (a stdio command or a Streamable HTTP url)"),
  database: DatabaseSchema.optional().describe(
    "fleet mode: audit log, limits, approvals and caches in a PostgreSQL database shared by several brokers; absent, the embedded SQLite file under state_dir",
  ),
});
export type Config = z.infer<typeof ConfigSchema>;

/** The resolved form the rest of pipgate uses: every path absolute. */
export interface LoadedConfig extends Config {
  file: string;
  dir: string;
  /** rules.osv with its path made absolute (and removed from `rules`, which holds allowlist defaults only) */
  osv?: OsvConfig | undefined;
  /** rules.provenance_trust_root, absolute (and removed from `rules`); undefined: Sigstore's public-good root */
  provenanceTrustRoot?: string | undefined;
}
