import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { writeAtomically } from "../allowlist-edit/atomic-write.js";
import { removePackage, setPackage, type EditResult } from "../allowlist-edit/edit.js";
import { LINT_WARNINGS, lintAllowlist, lintOnline, type IndexForBinding, type LintFinding } from "../allowlist-edit/lint.js";
import { parseRequirementsFile, pinSpecifier, PIN_STYLES, PinStyleSchema } from "../allowlist-edit/requirements-file.js";
import { formatView, viewAllowlist } from "../allowlist-edit/show.js";
import { parseSource } from "../allowlist-edit/source.js";
import { checkChange } from "../allowlist-edit/validate.js";
import { buildAllowlist } from "../config/allowlist.js";
import { errorMessage } from "../errors.js";
import { indexFromConfig } from "../index/from-config.js";
import type { IndexClient } from "../index/types.js";
import { addWithDeps } from "./allowlist-with-deps.js";
import { lintPython, syncAllowlist, SYNC_USAGE, unusedFindings } from "./allowlist-venv.js";
import { CliError, EXIT, parseCli, requireConfig, type CliContext, type CliIo, type CommandHelp, type Subcommand } from "./common.js";

const USAGE = `usage: pipgate allowlist <command> [--env ENV | --file FILE] [--config FILE]

commands:
  add NAME SPEC [--reason TEXT]   allow NAME at SPEC, a PEP 440 specifier set (">=2.31,<3") or "*" for any
                                  version; an entry that is the same project (Foo_Bar = foo-bar) is updated
                                  in place; --reason is written as a comment beside the entry
      [--with-deps [--ranges]]    also allow everything NAME needs: its tree is resolved in the sandbox and
                                  each missing dependency added pinned (==version; --ranges: the specifiers
                                  its requirers state), commented with who requires it; nothing is written
                                  unless the whole set then passes policy; --json for a structured answer
  remove NAME                     stop allowing NAME
  show [--json]                   entries with their comments, the deny list and the rules
  lint [--online] [--unused [--venv PY]]
                                  one line per problem, with its line number; exit 1 when there are any;
                                  --online also asks the index whether each project exists; --unused warns
                                  (exit stays 0) about entries the environment's venv (or PY) neither has
                                  installed nor requires, and whose comment does not say "requested"
  import FILE [--pin STYLE]       add every requirement of a requirements file or pip freeze output;
                                  STYLE: exact (==1.2.3, the default), compatible (>=1.2.3,<2; for 0.x
                                  releases >=0.4.1,<0.5) or any ("*")
  sync --from-venv PY | --from-lock FILE [--dry-run] [--json]
                                  make the pins match a venv or a lock file (pip-compile, pip freeze):
                                  adds and updates, each change commented; prints every pin's change

The file is the --env environment's allowlist in pipgate.yaml ("default" when --env is absent), or --file.
Edits keep every other byte of the file and replace it atomically, so a running server never reads half a file.
`;

const TARGET = { env: { type: "string" }, file: { type: "string" } } as const;

const TARGET_USAGE = "[--env ENV | --file FILE] [--config FILE]";
const ADD_USAGE = `usage: pipgate allowlist add NAME SPEC [--reason TEXT] [--with-deps [--ranges] [--json]] ${TARGET_USAGE}\n  SPEC is a PEP 440 specifier set (">=2.31,<3") or "*" for any version\n  --with-deps resolves NAME's tree in the sandbox of --env and adds what it needs (pins, or --ranges)`;
const REMOVE_USAGE = `usage: pipgate allowlist remove NAME ${TARGET_USAGE}`;
const SHOW_USAGE = `usage: pipgate allowlist show [--json] ${TARGET_USAGE}`;
const LINT_USAGE = `usage: pipgate allowlist lint [--online] [--unused [--venv PY]] ${TARGET_USAGE}`;
const IMPORT_USAGE = `usage: pipgate allowlist import FILE [--pin exact|compatible|any] ${TARGET_USAGE}`;

export const allowlistHelp: CommandHelp = {
  usage: USAGE,
  actions: {
    add: `${ADD_USAGE}\n`,
    remove: `${REMOVE_USAGE}\n`,
    show: `${SHOW_USAGE}\n`,
    lint: `${LINT_USAGE}\n`,
    import: `${IMPORT_USAGE}\n`,
    sync: `${SYNC_USAGE}\n`,
  },
};

/** What the command runs against; tests inject a clock (for expiry) and an index client. */
export interface AllowlistCommandDeps {
  now?: () => Date;
  index?: IndexClient;
  context?: CliContext;
}

/** `pipgate allowlist …`: maintainers edit allowlist files without hand-editing YAML. */
export const allowlist: Subcommand = (argv, io, context) => runAllowlist(argv, io, { context });

/** The command with its collaborators injectable. */
export async function runAllowlist(argv: string[], io: CliIo, deps: AllowlistCommandDeps = {}): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case "help":
    case "--help":
    case "-h":
      io.stdout(USAGE);
      return command === undefined ? EXIT.usage : EXIT.ok;
    case "add":
      return add(rest, io, deps);
    case "remove":
      return remove(rest, io);
    case "show":
      return show(rest, io);
    case "lint":
      return lint(rest, io, deps);
    case "import":
      return importFile(rest, io);
    case "sync":
      return syncAllowlist(rest, io, { targetFile, readText, commit });
    default:
      throw new CliError(`unknown allowlist command ${JSON.stringify(command)}\n\n${USAGE}`);
  }
}

/** The allowlist file a command works on: --file, or the --env environment's (default "default"). */
function targetFile(values: { config: string; env?: string | undefined; file?: string | undefined }): string {
  if (values.file !== undefined && values.env !== undefined) throw new CliError("give --env or --file, not both");
  if (values.file !== undefined) return resolve(values.file);
  const config = requireConfig(values.config);
  const name = values.env ?? "default";
  const env = Object.hasOwn(config.environments, name) ? config.environments[name] : undefined;
  if (env === undefined) {
    throw new CliError(`no environment named ${JSON.stringify(name)} in ${config.file}; configured: ${Object.keys(config.environments).join(", ")}`);
  }
  return env.allowlist;
}

function readText(path: string, missingAsEmpty = false): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    if (missingAsEmpty && (error as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw new CliError(`cannot read ${path}: ${errorMessage(error)}`, EXIT.failure);
  }
}

/** Whether the server would accept the text (schema, names, specifiers), for the safety check after an edit. */
function loads(text: string, path: string): string[] {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    return [errorMessage(error)];
  }
  const built = buildAllowlist(raw ?? {}, {}, path);
  return built.ok ? [] : built.issues;
}

/** Writes an edit, refusing one that would turn a file the server accepts into one it refuses. */
function commit(path: string, before: string, after: string, io: CliIo): boolean {
  const issuesBefore = loads(before, path);
  const issuesAfter = loads(after, path);
  if (issuesBefore.length === 0 && issuesAfter.length > 0) {
    io.stderr(`pipgate allowlist: the edit would make the file invalid, nothing written:\n  ${issuesAfter.join("\n  ")}\n`);
    return false;
  }
  const written = writeAtomically(path, after, before);
  if (!written.ok) {
    io.stderr(`pipgate allowlist: ${written.error}\n`);
    return false;
  }
  if (issuesAfter.length > 0) io.stderr(`warning: ${path} still has problems the server refuses; run pipgate allowlist lint\n`);
  return true;
}

function describe(result: Extract<EditResult, { ok: true }>, specifier: string | undefined, path: string): string {
  switch (result.action) {
    case "added":
      return `added ${result.name} ${JSON.stringify(specifier)} to ${path}`;
    case "updated":
      return `updated ${result.name}: ${JSON.stringify(result.previous)} -> ${JSON.stringify(specifier)} in ${path}`;
    case "unchanged":
      return `${result.name} is already allowed at ${JSON.stringify(result.previous)} in ${path}; nothing changed`;
    case "removed":
      return `removed ${result.name} (was ${JSON.stringify(result.previous)}) from ${path}`;
  }
}

async function add(argv: string[], io: CliIo, deps: AllowlistCommandDeps): Promise<number> {
  const { values, positionals } = parseCli(argv, {
    ...TARGET,
    reason: { type: "string" },
    "with-deps": { type: "boolean", default: false },
    ranges: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  });
  const [name, specifier, ...extra] = positionals;
  if (name === undefined || specifier === undefined || extra.length > 0) throw new CliError(ADD_USAGE);
  const change = checkChange(name, specifier, values.reason);
  if (!change.ok) throw new CliError(change.error);
  if (values["with-deps"]) {
    if (values.file !== undefined) throw new CliError('--with-deps resolves in an environment\'s sandbox: give --env ENV (default "default"), not --file');
    return addWithDeps(
      { config: values.config, env: values.env ?? "default", change: change.value, ranges: values.ranges, json: values.json },
      io,
      deps.context,
      {
        readText,
        commit,
      },
    );
  }
  if (values.ranges || values.json) throw new CliError("--ranges and --json go with --with-deps");
  const path = targetFile(values);
  const before = readText(path, true);
  const result = setPackage(before, change.value);
  if (!result.ok) {
    io.stderr(`pipgate allowlist add: ${result.error}\n`);
    return EXIT.failure;
  }
  if (result.action !== "unchanged") {
    if (result.reformatted) io.stderr(`warning: ${path} has an unusual layout; it was rewritten with its comments kept but spacing normalised\n`);
    if (!commit(path, before, result.text, io)) return EXIT.failure;
  }
  io.stdout(`${describe(result, change.value.specifier, path)}\n`);
  return EXIT.ok;
}

async function remove(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCli(argv, TARGET);
  const [name, ...extra] = positionals;
  if (name === undefined || extra.length > 0) throw new CliError(REMOVE_USAGE);
  const path = targetFile(values);
  const before = readText(path);
  const result = removePackage(before, name);
  if (!result.ok) {
    io.stderr(`pipgate allowlist remove: ${result.error} (${path})\n`);
    return EXIT.failure;
  }
  if (result.reformatted) io.stderr(`warning: ${path} has an unusual layout; it was rewritten with its comments kept but spacing normalised\n`);
  if (!commit(path, before, result.text, io)) return EXIT.failure;
  io.stdout(`${describe(result, undefined, path)}\n`);
  return EXIT.ok;
}

async function show(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCli(argv, { ...TARGET, json: { type: "boolean", default: false } });
  if (positionals.length > 0) throw new CliError(SHOW_USAGE);
  const path = targetFile(values);
  const parsed = parseSource(readText(path));
  if (!parsed.ok) {
    for (const error of parsed.errors) io.stderr(`${path}:${error.line ?? "?"}: yaml: ${error.message}\n`);
    return EXIT.failure;
  }
  const view = viewAllowlist(parsed.source);
  io.stdout(values.json ? `${JSON.stringify({ file: path, ...view }, null, 2)}\n` : `${path}\n\n${formatView(view)}`);
  return EXIT.ok;
}

async function lint(argv: string[], io: CliIo, deps: AllowlistCommandDeps): Promise<number> {
  const { values, positionals } = parseCli(argv, {
    ...TARGET,
    online: { type: "boolean", default: false },
    unused: { type: "boolean", default: false },
    venv: { type: "string" },
  });
  if (positionals.length > 0) throw new CliError(LINT_USAGE);
  if (values.venv !== undefined && !values.unused) throw new CliError(`--venv goes with --unused\n${LINT_USAGE}`);
  const path = targetFile(values);
  const text = readText(path);
  const findings: LintFinding[] = lintAllowlist(text, { now: (deps.now ?? (() => new Date()))() });
  if (values.online && !findings.some((finding) => finding.kind === "yaml")) {
    const index = deps.index;
    findings.push(
      ...(await lintOnline(text, index === undefined ? await onlineIndexes(values.config) : (binding) => (binding === undefined ? index : undefined))),
    );
  }
  if (values.unused && !findings.some((finding) => finding.kind === "yaml")) findings.push(...(await unusedFindings(text, lintPython(values))));
  findings.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  for (const finding of findings) io.stdout(`${path}:${finding.line ?? "?"}: ${finding.kind}: ${finding.message}\n`);
  const problems = findings.filter((finding) => !LINT_WARNINGS.includes(finding.kind)).length;
  if (problems > 0) {
    io.stderr(`${problems} problem(s) in ${path}\n`);
    return EXIT.failure;
  }
  if (findings.length > 0) {
    io.stderr(`${findings.length} warning(s) in ${path}\n`);
    return EXIT.ok;
  }
  io.stdout(`${path}: no problems found${values.online ? " (every project is known to the index)" : ""}\n`);
  return EXIT.ok;
}

/** The configured indexes, as the broker reaches them (credentials included), without a cache: a lint asks them as they are now. */
async function onlineIndexes(configFile: string): Promise<IndexForBinding> {
  const configured = await indexFromConfig(requireConfig(configFile), { cacheTtlSeconds: 0 });
  if (!configured.ok) throw new CliError(`--online needs the index: ${configured.error}`, EXIT.failure);
  const { index, indexes } = configured.value;
  return (binding) => (binding === undefined ? index : indexes.named.get(binding)?.client);
}

async function importFile(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCli(argv, { ...TARGET, pin: { type: "string", default: "exact" } });
  const [file, ...extra] = positionals;
  if (file === undefined || extra.length > 0) throw new CliError(IMPORT_USAGE);
  const parsedPin = PinStyleSchema.safeParse(values.pin);
  if (!parsedPin.success) throw new CliError(`--pin must be one of ${PIN_STYLES.join(", ")}, not ${JSON.stringify(values.pin)}`);
  const pin = parsedPin.data;
  const path = targetFile(values);
  const requirements = parseRequirementsFile(readText(resolve(file)));
  for (const warning of requirements.warnings) io.stderr(`${file}:${warning.line}: warning: ${warning.message}\n`);
  const errors = requirements.errors.map((error) => ({ line: error.line, text: `${file}:${error.line}: ${error.message}` }));

  const before = readText(path, true);
  let text = before;
  const done: string[] = [];
  for (const requirement of requirements.requirements) {
    const specifier = pinSpecifier(requirement, pin);
    const change = checkChange(requirement.name, specifier);
    const result = change.ok ? setPackage(text, change.value) : { ok: false as const, error: change.error };
    if (!result.ok) {
      errors.push({ line: requirement.line, text: `${file}:${requirement.line}: ${result.error}` });
      continue;
    }
    text = result.text;
    done.push(describe(result, specifier, path));
  }
  if (errors.length > 0) {
    const lines = errors.sort((a, b) => a.line - b.line).map((error) => error.text);
    io.stderr(`${lines.join("\n")}\nnothing written: fix or remove these ${errors.length} line(s) and import again\n`);
    return EXIT.failure;
  }
  if (text !== before && !commit(path, before, text, io)) return EXIT.failure;
  io.stdout(`${done.join("\n")}${done.length > 0 ? "\n" : ""}imported ${done.length} requirement(s) from ${file}\n`);
  return EXIT.ok;
}
