import { osvStatus, osvStatusLine } from "../osv/status.js";
import { CliError, EXIT, parseCli, requireConfig, type CommandHelp, type Subcommand } from "./common.js";

const USAGE = "usage: pipgate osv status [--json] [--config FILE]";
const STATUS_HELP =
  `${USAGE}\n` +
  "  the offline OSV database of rules.osv: how many records it holds, how old its newest record is, and\n" +
  "  where it is read from; exit 1 when it cannot be loaded or is older than rules.osv.max_age_hours\n" +
  "  (a server would then refuse every install)\n";

export const osvHelp: CommandHelp = {
  usage: "usage: pipgate osv ACTION\n  status: count, age and path of the offline OSV database (rules.osv)\n",
  actions: { status: STATUS_HELP },
};

/** `pipgate osv status`: what a server would make of the OSV database right now. */
export const osv: Subcommand = async (argv, io) => {
  const { values, positionals } = parseCli(argv, { json: { type: "boolean", default: false } });
  if (positionals.length !== 1 || positionals[0] !== "status") throw new CliError(USAGE);
  const config = requireConfig(values.config);
  if (config.osv === undefined) {
    throw new CliError(`no OSV database is configured: set rules.osv.path in ${config.file} (a directory of OSV records, or the PyPI all.zip)`, EXIT.failure);
  }
  const now = new Date();
  const { status, view } = await osvStatus(config.osv, now);
  if (values.json) io.stdout(`${JSON.stringify(status, null, 2)}\n`);
  else {
    io.stdout(`${status.ok ? "ok  " : "FAIL"}  osv database: ${osvStatusLine(status, now, view)}\n`);
    for (const warning of status.warnings) io.stdout(`  skipped ${warning}\n`);
  }
  return status.ok ? EXIT.ok : EXIT.failure;
};
