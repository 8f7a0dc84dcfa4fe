import { loadAllowlist } from "../config/allowlist.js";
import { pythonVersion } from "../config/python.js";
import { indexFromConfig } from "../index/from-config.js";
import { decide } from "../policy/decide.js";
import { formatDecision } from "../policy/format.js";
import { loadPopularNames } from "../policy/popular-names.js";
import { decisionToJson } from "../policy/types.js";
import { parseRequirement } from "../requirement/index.js";
import { provenanceFromConfig } from "../provenance/index.js";
import { openSqliteState } from "../store/sqlite.js";
import { openPipgate } from "../app.js";
import type { LoadedConfig } from "../config/schema.js";
import { checkTree } from "../pipeline/check-tree.js";
import { unlistedHint } from "../pipeline/tree.js";
import type { Requirement } from "../requirement/index.js";
import { DEFAULT_TIMEOUT_SECONDS } from "../validate/tool-arguments.js";
import { cliLogger, CliError, EXIT, parseCli, requireConfig, type CliContext, type CliIo, type CommandHelp, type Subcommand } from "./common.js";
import { osvStatus } from "../osv/status.js";

const USAGE = "usage: pipgate check ENV REQUIREMENT [--resolve] [--json] [--config FILE]";

export const checkHelp: CommandHelp = {
  usage:
    `${USAGE}\n  the policy decision for REQUIREMENT in ENV, every rule explained; nothing is installed\n` +
    "  --resolve also resolves its whole tree in the sandbox (one container run) and reports every\n" +
    "  distribution policy refuses, with who requires it, and the allowlist command that allows them\n" +
    "  exit 0 allowed, 3 denied; --json prints check_package's structured decision ({environment, decision, tree} with --resolve)\n",
};

/**
 * `pipgate check ENV REQUIREMENT`: the policy decision without installing, with every rule explained,
 * so a maintainer can see what an agent would be told. Exit 0 allowed, 3 denied.
 */
export const check: Subcommand = async (argv, io, context) => {
  const { values, positionals } = parseCli(argv, { json: { type: "boolean", default: false }, resolve: { type: "boolean", default: false } });
  if (positionals.length !== 2) throw new CliError(USAGE);
  const [environment, raw] = positionals as [string, string];
  const config = requireConfig(values.config);
  const env = Object.hasOwn(config.environments, environment) ? config.environments[environment] : undefined;
  if (env === undefined) {
    throw new CliError(`no environment named ${JSON.stringify(environment)}; configured: ${Object.keys(config.environments).join(", ")}`);
  }
  const parsed = parseRequirement(raw);
  if (!parsed.ok) throw new CliError(`refused (${parsed.kind}): ${parsed.message}`);
  if (values.resolve) return checkResolved(config, environment, parsed.requirement, values.json, io, context);
  const allowlist = loadAllowlist(env.allowlist, config.rules, { indexes: Object.keys(config.indexes) });
  if (!allowlist.ok) throw new CliError(`invalid allowlist:\n  ${allowlist.issues.join("\n  ")}`, EXIT.failure);
  const version = await pythonVersion(env.python);
  if (!version.ok) throw new CliError(version.error, EXIT.failure);

  const state = openSqliteState(config.state_dir);
  try {
    const configured = await indexFromConfig(config, { cache: state.httpCache, python: env.python });
    if (!configured.ok) throw new CliError(configured.error, EXIT.failure);
    const { index, indexes } = configured.value;
    const osv = config.osv === undefined ? undefined : (await osvStatus(config.osv, new Date())).view;
    const provenance = await provenanceFromConfig(config, state.publishers);
    if (!provenance.ok) throw new CliError(provenance.error, EXIT.failure);
    const decision = await decide(
      parsed.requirement,
      { allowlist: allowlist.allowlist, pythonVersion: version.value },
      {
        index,
        indexes,
        now: () => new Date(),
        popularNames: loadPopularNames(),
        ...(osv === undefined ? {} : { osv: () => osv }),
        provenance: provenance.value,
      },
    );
    const hint = unlistedHint(decision, parsed.requirement, environment);
    const note = decision.allowed ? `only ${decision.name} itself was decided; --resolve also checks everything it needs (a sandbox run)\n` : "";
    io.stdout(
      values.json
        ? `${JSON.stringify(decisionToJson(decision), null, 2)}\n`
        : `${formatDecision(decision)}${hint === undefined ? "" : `hint: ${hint}\n`}${note}`,
    );
    return decision.allowed ? EXIT.ok : EXIT.denied;
  } finally {
    await state.close();
  }
};

/** `check --resolve`: the decision and the whole tree, through the broker's own policy, index and sandbox. */
async function checkResolved(
  config: LoadedConfig,
  environment: string,
  requirement: Requirement,
  json: boolean,
  io: CliIo,
  context: CliContext | undefined,
): Promise<number> {
  const opened = await openPipgate(config, cliLogger(context, "warn"));
  if (!opened.ok) throw new CliError(`invalid configuration:\n  ${opened.issues.join("\n  ")}`, EXIT.failure);
  const app = opened.value;
  try {
    const pipeline = app.broker.pipeline;
    const loaded = await pipeline.environments.get(environment);
    if (!loaded.ok) throw new CliError(loaded.error, EXIT.failure);
    const decision = await decide(requirement, loaded.env, pipeline.policyDeps);
    const timeout = Math.min(DEFAULT_TIMEOUT_SECONDS, pipeline.sandboxConfig.timeout_max);
    const tree = decision.allowed ? await checkTree(pipeline, loaded.env, decision, requirement, timeout) : undefined;
    const allowed = decision.allowed && tree?.json.allowed === true;
    if (json) {
      io.stdout(`${JSON.stringify({ environment, decision: decisionToJson(decision), ...(tree === undefined ? {} : { tree: tree.json }) }, null, 2)}\n`);
    } else {
      const hint = unlistedHint(decision, requirement, environment);
      io.stdout(`${formatDecision(decision)}${hint === undefined ? "" : `hint: ${hint}\n`}${tree === undefined ? "" : `${tree.text}\n`}`);
    }
    return allowed ? EXIT.ok : EXIT.denied;
  } finally {
    app.close();
  }
}
