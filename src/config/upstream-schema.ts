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
    // `sandbox` (a contained stdio upstream) is added here by its own change.
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
    if (!hasUrl && upstream.headers !== undefined) {
      ctx.addIssue({ code: "custom", path: ["headers"], message: "headers apply to an HTTP upstream: they need url" });
    }
  });
export type UpstreamConfig = z.infer<typeof UpstreamSchema>;
