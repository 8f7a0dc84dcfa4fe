import { HEADER_VARIABLE, type UpstreamConfig } from "./upstream-schema.js";

export type UpstreamResult = { ok: true; value: UpstreamConfig } | { ok: false; issues: string[] };

/**
 * The upstream as the gateway uses it: `cwd` absolute (relative to the config file, like every path in
 * it), and every `${NAME}` in a header value replaced by that environment variable. An unset variable is
 * an error naming it and the header (fail closed: a request must not go out with the literal `${TOKEN}`
 * or an empty credential); the value itself is never echoed.
 */
export function resolveUpstream(
  upstream: UpstreamConfig,
  abs: (path: string) => string,
  env: Readonly<Record<string, string | undefined>>,
  prefix = "",
): UpstreamResult {
  const issues: string[] = [];
  let headers: Record<string, string> | undefined;
  if (upstream.headers !== undefined) {
    headers = {};
    for (const [name, template] of Object.entries(upstream.headers)) {
      const value = template.replace(HEADER_VARIABLE, (_match, variable: string) => {
        const found = env[variable];
        if (found === undefined) {
          issues.push(
            `${prefix}upstream.headers.${name}: names the environment variable ${variable}, which is unset; export it before starting pipgate, or write the value in the file`,
          );
          return "";
        }
        if (/[\r\n\0]/.test(found)) {
          issues.push(`${prefix}upstream.headers.${name}: the environment variable ${variable} holds CR, LF or NUL, which a header value may not`);
          return "";
        }
        return found;
      });
      headers[name] = value;
    }
  }
  if (issues.length > 0) return { ok: false, issues };
  return {
    ok: true,
    value: {
      ...upstream,
      ...(upstream.cwd === undefined ? {} : { cwd: abs(upstream.cwd) }),
      ...(headers === undefined ? {} : { headers }),
    },
  };
}
