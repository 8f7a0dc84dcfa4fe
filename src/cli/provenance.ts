import { normalizeName } from "../requirement/name.js";
import { openSqliteState } from "../store/sqlite.js";
import { CliError, EXIT, parseCli, requireConfig, type CommandHelp, type Subcommand } from "./common.js";

const LIST_USAGE = "usage: pipgate provenance list [--json] [--config FILE]";
const FORGET_USAGE = "usage: pipgate provenance forget PROJECT [--config FILE]";

export const provenanceHelp: CommandHelp = {
  usage:
    "usage: pipgate provenance ACTION\n" +
    "  list: the Trusted Publisher each project was first installed from (rules.provenance)\n" +
    "  forget PROJECT: drop a project's record, so its next install records the publisher afresh\n",
  actions: {
    list: `${LIST_USAGE}\n  every recorded publisher: index, project, publisher identity, first version, when\n`,
    forget: `${FORGET_USAGE}\n  after confirming that a project's new publisher is genuine: its next verified install records that one\n`,
  },
};

/** `pipgate provenance list|forget`: the first-install records the provenance rule holds projects to. */
export const provenance: Subcommand = async (argv, io) => {
  const { values, positionals } = parseCli(argv, { json: { type: "boolean", default: false } });
  const [action, project, ...rest] = positionals;
  if (action === "list" ? project !== undefined : action !== "forget" || project === undefined || rest.length > 0) {
    throw new CliError(action === "forget" ? FORGET_USAGE : `${LIST_USAGE}\n${FORGET_USAGE}`);
  }
  const config = requireConfig(values.config);
  const state = openSqliteState(config.state_dir);
  try {
    const store = state.publishers;
    const records = await store.list();
    if (action === "list") {
      if (values.json) io.stdout(`${JSON.stringify(records, null, 2)}\n`);
      else if (records.length === 0) io.stdout("no publishers recorded\n");
      else for (const r of records) io.stdout(`${r.project}  ${r.publisher}  first ${r.firstVersion} at ${r.recordedAt.toISOString()}  (${r.indexUrl})\n`);
      return EXIT.ok;
    }
    const name = normalizeName(project ?? "");
    const matching = records.filter((record) => record.project === name);
    if (matching.length === 0) throw new CliError(`no publisher is recorded for ${name}`, EXIT.failure);
    for (const record of matching) {
      await store.forget(record.indexUrl, record.project);
      io.stdout(`forgot ${record.project}: ${record.publisher} (first ${record.firstVersion}, ${record.indexUrl})\n`);
    }
    return EXIT.ok;
  } finally {
    await state.close();
  }
};
