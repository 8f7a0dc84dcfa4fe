import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { writeAtomically } from "../allowlist-edit/atomic-write.js";
import { createAtomically } from "../allowlist-edit/create-file.js";
import { checkInit, renderInit, type InitPlan } from "../allowlist-edit/init-files.js";
import { pinsFromEnvironment, type SourcePin } from "../allowlist-edit/venv-pins.js";
import { inspectEnvironment } from "../commit/interpreter.js";
import { loadConfig } from "../config/load.js";
import { ENVIRONMENT_NAME } from "../config/schema.js";
import { CliError, EXIT, parseCli, type CommandHelp, type Subcommand } from "./common.js";

const USAGE =
  "usage: pipgate init [--from-venv PY] [--env NAME] [--index-url URL] [--dir D] [--force] [--config FILE]\n" +
  "                    [--upstream-url URL | --upstream CMD [ARG...]]";

export const initHelp: CommandHelp = {
  usage:
    `${USAGE}\n` +
    "  writes a commented pipgate.yaml, its policy file (policy.yaml: the seed policy) and the environment's\n" +
    "  allowlist (allowlists/NAME.yaml), ready for `pipgate serve`:\n" +
    "  --from-venv PY     the environment is that venv (PY its interpreter, or the venv's directory), and the\n" +
    "                     allowlist pins every distribution installed there, each line saying where it came from\n" +
    '  --env NAME         the environment\'s name (default "default", the name agents use when they give none)\n' +
    "  --index-url URL    the PEP 503 simple index (default: pip's own default index)\n" +
    "  --upstream CMD ... gateway mode: the stdio MCP server pipgate fronts; everything after --upstream is its\n" +
    "                     argv, so it comes last (put -- after --upstream when an argument is --help or --log-level)\n" +
    "  --upstream-url URL gateway mode: a Streamable HTTP MCP server instead\n" +
    "  --dir D            where the files go (default: the directory of --config, else .); pipgate.yaml is\n" +
    "                     D/pipgate.yaml unless --config names the file\n" +
    "  --force            replace files that exist (otherwise nothing is written when any of them does)\n" +
    "  Every file is written atomically and checked against the schema the server loads it with.\n",
};

/** `pipgate init`: a working set-up from nothing, or from the venv agents will install into. */
export const init: Subcommand = async (argv, io) => {
  const at = argv.indexOf("--upstream");
  const own = at < 0 ? argv : argv.slice(0, at);
  const command = at < 0 ? undefined : argv.slice(at + 1);
  if (command?.[0] === "--") command.shift();
  const { values, positionals } = parseCli(own, {
    "from-venv": { type: "string" },
    env: { type: "string", default: "default" },
    "index-url": { type: "string" },
    "upstream-url": { type: "string" },
    dir: { type: "string" },
    force: { type: "boolean", default: false },
  });
  if (positionals.length > 0) throw new CliError(`unexpected ${JSON.stringify(positionals[0])}\n${USAGE}`);
  if (command !== undefined && command.length === 0) throw new CliError(`--upstream needs the server's command: --upstream CMD [ARG...]\n${USAGE}`);
  if (command !== undefined && values["upstream-url"] !== undefined) throw new CliError("give --upstream or --upstream-url, not both");
  if (!ENVIRONMENT_NAME.test(values.env)) throw new CliError(`--env ${JSON.stringify(values.env)}: environment names are letters, digits, - and _`);

  const configGiven = own.some((arg) => arg === "--config" || arg === "-c" || arg.startsWith("--config="));
  const configFile = configGiven ? resolve(values.config) : resolve(values.dir ?? ".", "pipgate.yaml");
  const dir = values.dir === undefined ? dirname(configFile) : resolve(values.dir);
  const configDir = dirname(configFile);
  const files = { config: configFile, allowlist: join(dir, "allowlists", `${values.env}.yaml`), policy: join(dir, "policy.yaml") };
  const asWritten = (path: string) => {
    const rel = relative(configDir, path);
    return rel === "" || rel.startsWith("..") || isAbsolute(rel) ? path : rel;
  };

  let venv: string | undefined;
  let pins: SourcePin[] = [];
  const fromVenv = values["from-venv"];
  if (fromVenv !== undefined) {
    venv = venvPython(fromVenv);
    const state = await inspectEnvironment(venv);
    if (!state.ok) throw new CliError(`--from-venv: ${state.error}`, EXIT.failure);
    const found = pinsFromEnvironment(state.value, venv);
    for (const skipped of found.skipped) io.stderr(`warning: ${venv} has ${skipped}, which an allowlist cannot pin; skipped\n`);
    pins = found.pins;
  }
  const upstream = command !== undefined ? { command } : values["upstream-url"] !== undefined ? { url: values["upstream-url"] } : undefined;
  const plan: InitPlan = {
    environment: values.env,
    python: venv === undefined ? join("venvs", values.env, "bin", "python") : asWritten(venv),
    venv,
    pins,
    allowlist: asWritten(files.allowlist),
    policy: asWritten(files.policy),
    indexUrl: values["index-url"],
    upstream,
  };
  const texts = renderInit(plan);
  const issues = checkInit(texts, upstream !== undefined);
  if (issues.length > 0) throw new CliError(`the files would not load, nothing written:\n  ${issues.join("\n  ")}`);

  const order = [files.policy, files.allowlist, files.config];
  const existing = order.filter((path) => existsSync(path));
  if (existing.length > 0 && !values.force) {
    throw new CliError(`${existing.join(", ")} ${existing.length === 1 ? "exists" : "exist"}; nothing written (--force replaces them)`, EXIT.failure);
  }
  const text: Record<string, string> = { [files.policy]: texts.policy, [files.allowlist]: texts.allowlist, [files.config]: texts.config };
  for (const path of order) {
    mkdirSync(dirname(path), { recursive: true });
    const written = values.force ? writeAtomically(path, text[path] ?? "") : createAtomically(path, text[path] ?? "");
    if (!written.ok) throw new CliError(written.error, EXIT.failure);
    io.stdout(`wrote ${path}\n`);
  }
  // What the server will do with them: the same loader, paths and all.
  const loaded = loadConfig(configFile);
  if (!loaded.ok) throw new CliError(`the written configuration does not load:\n  ${loaded.issues.join("\n  ")}`, EXIT.failure);

  const requested = pins.filter((pin) => pin.requested).length;
  const config = configGiven || values.dir !== undefined ? ` --config ${configFile}` : "";
  io.stdout(
    (venv === undefined
      ? `environment ${values.env}: ${plan.python} (create it: python3 -m venv ${dirname(dirname(resolve(configDir, plan.python)))}); the allowlist is empty\n`
      : `environment ${values.env}: ${venv}; ${pins.length} distribution(s) pinned, ${requested} marked requested\n`) +
      (upstream === undefined ? "" : "gateway mode: name the upstream's tools in the policy file for agents to see them\n") +
      `next: pipgate doctor${config}   then: pipgate serve${config}\n`,
  );
  return EXIT.ok;
};

/** A venv's interpreter, given it or the venv's directory. */
function venvPython(path: string): string {
  const full = resolve(path);
  try {
    if (statSync(full).isDirectory()) return join(full, "bin", "python");
  } catch {
    // not there: inspecting it says so
  }
  return full;
}
