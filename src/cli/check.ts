import { loadAllowlist } from "../config/allowlist.js";
import { pythonVersion } from "../config/python.js";
import { indexFromConfig } from "../index/from-config.js";
import { decide } from "../policy/decide.js";
import { formatDecision } from "../policy/format.js";
import { loadPopularNames } from "../policy/popular-names.js";
import { decisionToJson } from "../policy/types.js";
import { parseRequirement } from "../requirement/index.js";
import { openStateDb } from "../state/db.js";
import { osvStatus } from "../osv/status.js";
import { CliError, EXIT, parseCli, requireConfig, type CommandHelp, type Subcommand } from "./common.js";

const USAGE = "usage: pipgate check ENV REQUIREMENT [--json] [--config FILE]";

export const checkHelp: CommandHelp = {
  usage: `${USAGE}\n  the policy decision for REQUIREMENT in ENV, every rule explained; nothing is installed\n  exit 0 allowed, 3 denied; --json prints check_package's structured decision\n`,
};

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

  const db = openStateDb(config.state_dir);
  try {
    const configured = await indexFromConfig(config, { db, python: env.python });
    if (!configured.ok) throw new CliError(configured.error, EXIT.failure);
    const { index } = configured.value;
    const osv = config.osv === undefined ? undefined : (await osvStatus(config.osv, new Date())).view;
    const decision = await decide(
      parsed.requirement,
      { allowlist: allowlist.allowlist, pythonVersion: version.value },
      { index, now: () => new Date(), popularNames: loadPopularNames(), ...(osv === undefined ? {} : { osv: () => osv }) },
    );
    io.stdout(values.json ? `${JSON.stringify(decisionToJson(decision), null, 2)}\n` : formatDecision(decision));
    return decision.allowed ? EXIT.ok : EXIT.denied;
  } finally {
    db.close();
  }
};
