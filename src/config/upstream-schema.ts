import { isAbsolute, normalize } from "node:path";
import { z } from "zod";

/**
 * The names pipgate accepts for an upstream's tools, resources' and prompts' names: plain identifiers, so
 * a name can neither smuggle text into a client's tool list nor collide with pipgate's own by case games.
 */
export const UPSTREAM_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

/** Always pipgate's own tool: the upstream's same-named tool is never reachable (DESIGN property 11). */
export const OWN_INSTALL_TOOL = "install_package";

/**
 * The names under which the policy file admits an upstream's resources and prompts: they are not tools,
 * but pass the same admission, so `"default": "deny"` hides them unless the policy names these.
 */
export const RESOURCES_TOOL = "mcp.resources";
export const PROMPTS_TOOL = "mcp.prompts";

/** `${NAME}` in a header value: the value of environment variable NAME, read when the configuration loads. */
export const HEADER_VARIABLE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** An HTTP field name (RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export const RestartSchema = z
  .strictObject({
    initial_ms: z.number().int().min(10).max(600_000).default(500).describe("the first wait before a crashed stdio upstream is started again"),
    max_ms: z.number().int().min(10).max(3_600_000).default(30_000).describe("the wait doubles after each crash up to this"),
  })
  .refine((r) => r.initial_ms <= r.max_ms, { message: "initial_ms must not exceed max_ms", path: ["initial_ms"] });
export type RestartConfig = z.infer<typeof RestartSchema>;

/** An absolute, normalised host path: what a mount names, so the checks against it see what Docker sees. */
const HostPath = z
  .string()
  .min(1)
  .refine((path) => isAbsolute(path), "must be an absolute path (mounts appear at their host path inside the container)")
  .refine(
    (path) => !isAbsolute(path) || (normalize(path) === path && !path.endsWith("/")) || path === "/",
    "must be normalised: no '.', '..', '//' or trailing '/'",
  )
  .refine((path) => !/[\0\n]/.test(path), "may not hold NUL or a newline");

/**
 * `upstream.sandbox` as an object: the container a contained upstream runs in. Paths are checked against
 * the rest of the configuration (Docker socket, state directory) when it loads: see config/contained-paths.ts.
 */
export const UpstreamSandboxSchema = z.strictObject({
  image: z.string().min(1).optional().describe("the container image; default the build sandbox's, pipgate-sandbox:py3.X for the upstream interpreter's Python"),
  runtime: z.enum(["runc", "runsc"]).optional().describe("the OCI runtime; default sandbox.runtime"),
  memory_mb: z.number().int().min(64).max(65536).default(1024).describe("memory limit of the upstream's container (its /tmp counts in it)"),
  pids: z.number().int().min(16).max(4096).default(256).describe("process (and thread) limit of the upstream's container"),
  cpus: z.number().min(0.1).max(64).default(1).describe("CPU limit of the upstream's container"),
  tmp_mb: z.number().int().min(1).max(65536).default(256).describe("size of the container's /tmp (a tmpfs)"),
  workdir: HostPath.optional().describe("the host directory mounted read-write at the same path, the upstream's working directory; default upstream.cwd"),
  mounts: z
    .strictObject({
      read_only: z
        .array(HostPath)
        .max(64)
        .default([])
        .describe("further host paths the upstream may read (what its command needs to run), at their host paths"),
      read_write: z.array(HostPath).max(16).default([]).describe("further host paths the upstream may write; never an environment"),
    })
    .default({ read_only: [], read_write: [] })
    .describe("host paths mounted besides the interpreters, the environments and the working directory; empty (default): none"),
  python: HostPath.optional().describe("the upstream's own interpreter on the host, mounted read-only; default argv[0] of command when it is a python"),
});
export type UpstreamSandboxConfig = z.infer<typeof UpstreamSandboxSchema>;

/**
 * `upstream:` of pipgate.yaml: the MCP server gateway mode fronts. A stdio `command` pipgate starts and
 * owns (one process per client session), or a Streamable HTTP `url`; never both.
 */
export const UpstreamSchema = z
  .strictObject({
    command: z
      .array(z.string().min(1, "an argument of upstream.command is empty"))
      .min(1, "upstream.command is the server's argv: at least the program")
      .optional()
      .describe("argv of a stdio MCP server pipgate starts, one process per client session, e.g. [python, -m, mcp_python_interpreter]"),
    env: z
      .record(z.string().regex(ENV_NAME, "environment variable names are letters, digits and _"), z.string())
      .optional()
      .describe("variables for the stdio upstream, on top of a minimal environment (PATH, HOME, LANG); pipgate's own environment is not passed on"),
    cwd: z.string().min(1).optional().describe("the stdio upstream's working directory (relative to the config file)"),
    url: z
      .string()
      .url()
      .refine((url) => /^https?:\/\//i.test(url), "upstream.url must be an http:// or https:// URL (Streamable HTTP)")
      .optional()
      .describe("a Streamable HTTP MCP server's endpoint; pipgate opens one HTTP session per client session"),
    headers: z
      .record(
        z.string().regex(HEADER_NAME, "header names are HTTP tokens"),
        z.string().refine((value) => !/[\r\n\0]/.test(value), "a header value may not hold CR, LF or NUL"),
      )
      .optional()
      .describe("headers sent to upstream.url; ${NAME} in a value is environment variable NAME (unset is an error)"),
    serve_upstream: z
      .array(z.string().regex(UPSTREAM_NAME, "tool names are 1-128 letters, digits, '_', '.' and '-'"))
      .default([])
      .refine((names) => !names.includes(OWN_INSTALL_TOOL), {
        message: `${OWN_INSTALL_TOOL} is always pipgate's own (it runs the vetted install pipeline); the upstream's is never reachable: remove it from serve_upstream`,
      })
      .describe("tools whose upstream version is served instead of pipgate's same-named one; empty (default): pipgate's wins"),
    restart: RestartSchema.default(RestartSchema.parse({})).describe("back-off for restarting a crashed stdio upstream"),
    max_message_kb: z
      .number()
      .int()
      .min(16)
      .max(1024 * 1024)
      .default(4096)
      .describe("the largest single message accepted from the upstream; a larger one closes its session with an error"),
    sandbox: z
      .union([z.boolean(), UpstreamSandboxSchema])
      .default(false)
      .describe(
        "run the stdio upstream in a container of its own: no network, read-only root, the environments read-only, a working directory read-write (true: all defaults)",
      ),
  })
  .superRefine((upstream, ctx) => {
    const hasCommand = upstream.command !== undefined;
    const hasUrl = upstream.url !== undefined;
    if (hasCommand === hasUrl) {
      ctx.addIssue({
        code: "custom",
        message: hasCommand
          ? "give either command (a stdio server pipgate starts) or url (a Streamable HTTP server), not both"
          : "give command (a stdio server pipgate starts, as an argv list) or url (a Streamable HTTP server)",
      });
    }
    if (!hasCommand) {
      for (const key of ["env", "cwd"] as const) {
        if (upstream[key] !== undefined) ctx.addIssue({ code: "custom", path: [key], message: `${key} applies to a stdio upstream: it needs command` });
      }
    }
    if (!hasCommand && upstream.sandbox !== false) {
      ctx.addIssue({
        code: "custom",
        path: ["sandbox"],
        message: "a url upstream runs elsewhere and cannot be contained: sandbox needs command (a stdio server pipgate starts)",
      });
    }
    if (hasCommand && upstream.sandbox !== false && upstream.cwd === undefined && (upstream.sandbox === true || upstream.sandbox.workdir === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: ["sandbox"],
        message: "a contained upstream needs a working directory it may write: set upstream.sandbox.workdir or upstream.cwd",
      });
    }
    if (!hasUrl && upstream.headers !== undefined) {
      ctx.addIssue({ code: "custom", path: ["headers"], message: "headers apply to an HTTP upstream: they need url" });
    }
  });
export type UpstreamConfig = z.infer<typeof UpstreamSchema>;
