import { allowlist, allowlistHelp } from "./allowlist.js";
import { approvals, approvalsHelp } from "./approvals.js";
import { audit, auditHelp } from "./audit.js";
import { check, checkHelp } from "./check.js";
import { webConsole, consoleHelp } from "./console.js";
import {
  CliError,
  COMMON_OPTIONS_HELP,
  EXIT,
  parseGlobalOptions,
  processIo,
  type CliIo,
  type CommandHelp,
  type GlobalOptions,
  type Subcommand,
} from "./common.js";
import { doctor, doctorHelp } from "./doctor.js";
import { grants, grantsHelp } from "./grants.js";
import { init, initHelp } from "./init.js";
import { install, installHelp } from "./install.js";
import { osv, osvHelp } from "./osv.js";
import { sandbox, sandboxHelp } from "./sandbox.js";
import { serve, serveHelp } from "./serve.js";
import { upstream, upstreamHelp } from "./upstream.js";

interface Command {
  run: Subcommand;
  summary: string;
  help: CommandHelp;
}

const COMMANDS: Record<string, Command> = {
  serve: { run: serve, help: serveHelp, summary: "run the MCP server (stdio, or --http HOST:PORT)" },
  check: { run: check, help: checkHelp, summary: "explain the decision for ENV REQUIREMENT (exit 0 allowed, 3 denied)" },
  install: {
    run: install,
    help: installHelp,
    summary: "install ENV REQUIREMENT through the whole pipeline, as a local operator (no grants, limits or approvals)",
  },
  allowlist: { run: allowlist, help: allowlistHelp, summary: "add|remove|show|lint|import|sync: maintain allowlist files, comments kept" },
  audit: { run: audit, help: auditHelp, summary: "list|show|tail|export|verify|report the audit log" },
  approvals: { run: approvals, help: approvalsHelp, summary: "list|show|approve|deny installs waiting for a person" },
  console: { run: webConsole, help: consoleHelp, summary: "a web console for auditors and approvers (--http HOST:PORT)" },
  sandbox: { run: sandbox, help: sandboxHelp, summary: "build-image: build the sandbox image" },
  grants: { run: grants, help: grantsHelp, summary: "new-token NAME | hash-token: bearer tokens for HTTP clients (stored hashed)" },
  upstream: { run: upstream, help: upstreamHelp, summary: "show | accept NAME|--all: the gateway upstream's pinned tool definitions and changes" },
  osv: { run: osv, help: osvHelp, summary: "status: count, age and path of the offline OSV database (rules.osv)" },
  doctor: { run: doctor, help: doctorHelp, summary: "check the engine, image, environments, index, state and audit chain" },
  init: { run: init, help: initHelp, summary: "write a commented pipgate.yaml, policy and allowlist (--from-venv PY: pins what it has)" },
};

/** The command names, for tests that run every one of them. */
export const COMMAND_NAMES: readonly string[] = Object.keys(COMMANDS);

/** Each command's actions (audit list, approvals approve …), for the same tests. */
export function commandActions(name: string): readonly string[] {
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  return Object.keys(command?.help.actions ?? {});
}

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, { summary }]) => `  ${name.padEnd(width)}  ${summary}`);
  return (
    `usage: pipgate COMMAND [--config FILE] [--log-level LEVEL] ...\n\ncommands:\n${lines.join("\n")}\n\n` +
    `Every command reads ./pipgate.yaml unless --config names another file; pipgate COMMAND --help for its usage.\n${COMMON_OPTIONS_HELP}`
  );
}

/** A command's help: the action's own when the first argument names one (audit list --help), else the command's. */
function helpText(command: Command, argv: readonly string[]): string {
  const [action] = argv;
  const actions = command.help.actions ?? {};
  const text = action !== undefined && Object.hasOwn(actions, action) ? actions[action] : undefined;
  return `${text ?? command.help.usage}\n${COMMON_OPTIONS_HELP}`;
}

/**
 * The CLI: one binary, one subcommand per file; exit codes from cli/common.ts. `--help` and `--log-level`
 * are handled here, once, for every command.
 */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  let global: GlobalOptions;
  try {
    // before or after the command name: `pipgate --log-level debug serve` and `pipgate serve --log-level debug`
    global = parseGlobalOptions(argv);
  } catch (error) {
    io.stderr(`pipgate${argv[0] === undefined || argv[0].startsWith("-") ? "" : ` ${argv[0]}`}: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.usage;
  }
  const [name, ...rest] = global.argv;
  if (name === undefined || name === "help") {
    io.stdout(usage());
    return name === undefined && !global.help ? EXIT.usage : EXIT.ok;
  }
  if (name === "--version") {
    io.stdout("pipgate 0.1.0\n");
    return EXIT.ok;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    io.stderr(`pipgate: unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return EXIT.usage;
  }
  if (global.help) {
    io.stdout(helpText(command, rest));
    return EXIT.ok;
  }
  try {
    return await command.run(rest, io, { logLevel: global.logLevel });
  } catch (error) {
    if (error instanceof CliError) {
      io.stderr(`pipgate ${name}: ${error.message}\n`);
      return error.exitCode;
    }
    io.stderr(`pipgate ${name}: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.failure;
  }
}
