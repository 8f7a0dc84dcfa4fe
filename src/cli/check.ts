import { loadAllowlist } from "../config/allowlist.js";
import { pythonVersion } from "../config/python.js";
import { createIndexClient, defaultIndexUrl } from "../index/client.js";
import { decide } from "../policy/decide.js";
import { formatDecision } from "../policy/format.js";
import { loadPopularNames } from "../policy/popular-names.js";
import { decisionToJson } from "../policy/types.js";
import { parseRequirement } from "../requirement/index.js";
import { openStateDb } from "../state/db.js";
import { CliError, EXIT, parseCli, requireConfig, type Subcommand } from "./common.js";

const USAGE = "usage: pipgate check ENV REQUIREMENT [--json] [--config FILE]";

/**
 * `pipgate check ENV REQUIREMENT`: the policy decision without installing, with every rule explained,
 * so a maintainer can see what an agent would be told. Exit 0 allowed, 3 denied.
 */
export const check: Subcommand = async (argv, io) => {
  const { values, positionals } = parseCli(argv, { json: { type: "boolean", default: false } });
  if (positionals.length !== 2) throw new CliError(USAGE);
  const [environment, raw] = positionals as [string, string];
  const config = requireConfig(values.config);
  const env = Object.hasOwn(config.environments, environment) ? config.environments[environment] : undefined;
  if (env === undefined) {
    throw new CliError(`no environment named ${JSON.stringify(environment)}; configured: ${Object.keys(config.environments).join(", ")}`);
  }
  const parsed = parseRequirement(raw);
  if (!parsed.ok) throw new CliError(`refused (${parsed.kind}): ${parsed.message}`);
  const allowlist = loadAllowlist(env.allowlist, config.rules);
  if (!allowlist.ok) throw new CliError(`invalid allowlist:\n  ${allowlist.issues.join("\n  ")}`, EXIT.failure);
  const version = await pythonVersion(env.python);
  if (!version.ok) throw new CliError(version.error, EXIT.failure);

  let url = config.index.url;
  if (url === undefined) {
    const found = await defaultIndexUrl(env.python);
    if (!found.ok) throw new CliError(`index.url is not set and pip's default index is unknown: ${found.error}`, EXIT.failure);
    url = found.value;
  }
  const db = openStateDb(config.state_dir);
  try {
    const index = createIndexClient({
      url,
      timeoutMs: config.index.timeout_ms,
      retries: config.index.retries,
      cacheTtlSeconds: config.index.cache_ttl_seconds,
      username: config.index.username,
      password: config.index.password_env === undefined ? undefined : process.env[config.index.password_env],
      db,
    });
    const decision = await decide(
      parsed.requirement,
      { allowlist: allowlist.allowlist, pythonVersion: version.value },
      { index, now: () => new Date(), popularNames: loadPopularNames() },
    );
    io.stdout(values.json ? `${JSON.stringify(decisionToJson(decision), null, 2)}\n` : formatDecision(decision));
    return decision.allowed ? EXIT.ok : EXIT.denied;
  } finally {
    db.close();
  }
};
