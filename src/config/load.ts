import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { errorMessage } from "../errors.js";
import { containedPathIssues } from "./contained-paths.js";
import { formatIssues } from "./issues.js";
import { gatewayConfigured, toolNameIssues } from "./policy-tools.js";
import { ConfigSchema, type LoadedConfig } from "./schema.js";
import { resolveUpstream } from "./upstream.js";

export type ConfigResult = { ok: true; config: LoadedConfig } | { ok: false; issues: string[] };

/**
 * Reads pipgate.yaml; every relative path in it is taken relative to the file. `env` supplies the
 * variables that upstream header values name (`${NAME}`).
 */
export function loadConfig(file: string, env: Readonly<Record<string, string | undefined>> = process.env): ConfigResult {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    return { ok: false, issues: [`${path}: cannot read the configuration: ${errorMessage(error)}`] };
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    return { ok: false, issues: [`${path}: not valid YAML: ${errorMessage(error)}`] };
  }
  const parsed = ConfigSchema.safeParse(raw ?? {});
  const names = grantToolIssues(raw).map((issue) => `${path}: ${issue}`);
  if (!parsed.success) return { ok: false, issues: [...formatIssues(parsed.error, `${path}: `, ConfigSchema), ...names] };
  if (names.length > 0) return { ok: false, issues: names };
  const dir = dirname(path);
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(dir, p));
  const config = parsed.data;
  const environments = Object.fromEntries(
    Object.entries(config.environments).map(([name, env]) => [name, { ...env, python: abs(env.python), allowlist: abs(env.allowlist) }]),
  );
  const upstream = config.upstream === undefined ? undefined : resolveUpstream(config.upstream, abs, env, `${path}: `);
  if (upstream !== undefined && !upstream.ok) return { ok: false, issues: upstream.issues };
  const stateDir = abs(config.state_dir);
  const mounts = containedPathIssues(upstream?.value, { stateDir, dockerSocket: config.sandbox.docker_socket }, `${path}: `);
  if (mounts.length > 0) return { ok: false, issues: mounts };
  const { osv, provenance_trust_root: trustRoot, ...rules } = config.rules;
  return {
    ok: true,
    config: {
      ...config,
      rules,
      osv: osv === undefined ? undefined : { ...osv, path: abs(osv.path) },
      provenanceTrustRoot: trustRoot === undefined ? undefined : abs(trustRoot),
      file: path,
      dir,
      state_dir: stateDir,
      policy: config.policy === undefined ? undefined : abs(config.policy),
      environments,
      upstream: upstream?.value,
    },
  };
}

/** Grants' `limits` may name upstream tools only when pipgate.yaml configures an `upstream:` (gateway mode). */
function grantToolIssues(raw: unknown): string[] {
  if (typeof raw !== "object" || raw === null) return [];
  const grants = (raw as { grants?: unknown }).grants;
  if (typeof grants !== "object" || grants === null) return [];
  const gateway = gatewayConfigured(raw);
  return Object.entries(grants).flatMap(([name, grant]) =>
    typeof grant === "object" && grant !== null ? toolNameIssues((grant as { limits?: unknown }).limits, `grants.${name}.limits`, { gateway }) : [],
  );
}
