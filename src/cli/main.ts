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
} from "./options.js";

/** A command's code and help, loaded when it is the one asked for. */
interface Loaded {
  run: Subcommand;
  help: CommandHelp;
}

interface Command {
  load: () => Promise<Loaded>;
  summary: string;
}

// Each command's module (and what it brings: the MCP SDK, undici, the state database …) is loaded only
// when that command runs or prints its help: `pipgate install` does not pay for `serve`'s imports, and
// `pipgate --help` for none of them.
const COMMANDS: Record<string, Command> = {
  serve: { load: () => import("./serve.js").then((m) => ({ run: m.serve, help: m.serveHelp })), summary: "run the MCP server (stdio, or --http HOST:PORT)" },
  check: {
    load: () => import("./check.js").then((m) => ({ run: m.check, help: m.checkHelp })),
    summary: "explain the decision for ENV REQUIREMENT (exit 0 allowed, 3 denied)",
  },
  install: {
    load: () => import("./install.js").then((m) => ({ run: m.install, help: m.installHelp })),
    summary: "install ENV REQUIREMENT through the whole pipeline, as a local operator (no grants, limits or approvals)",
  },
  allowlist: {
    load: () => import("./allowlist.js").then((m) => ({ run: m.allowlist, help: m.allowlistHelp })),
    summary: "add|remove|show|lint|import|sync: maintain allowlist files, comments kept",
  },
  audit: { load: () => import("./audit.js").then((m) => ({ run: m.audit, help: m.auditHelp })), summary: "list|show|tail|export|verify|report the audit log" },
  approvals: {
    load: () => import("./approvals.js").then((m) => ({ run: m.approvals, help: m.approvalsHelp })),
    summary: "list|show|approve|deny installs waiting for a person",
  },
  console: {
    load: () => import("./console.js").then((m) => ({ run: m.webConsole, help: m.consoleHelp })),
    summary: "a web console for auditors and approvers (--http HOST:PORT)",
  },
  sandbox: { load: () => import("./sandbox.js").then((m) => ({ run: m.sandbox, help: m.sandboxHelp })), summary: "build-image: build the sandbox image" },
  grants: {
    load: () => import("./grants.js").then((m) => ({ run: m.grants, help: m.grantsHelp })),
    summary: "new-token NAME | hash-token: bearer tokens for HTTP clients (stored hashed)",
  },
  upstream: {
    load: () => import("./upstream.js").then((m) => ({ run: m.upstream, help: m.upstreamHelp })),
    summary: "show | accept NAME|--all: the gateway upstream's pinned tool definitions and changes",
  },
  osv: {
    load: () => import("./osv.js").then((m) => ({ run: m.osv, help: m.osvHelp })),
    summary: "status: count, age and path of the offline OSV database (rules.osv)",
  },
  provenance: {
    load: () => import("./provenance.js").then((m) => ({ run: m.provenance, help: m.provenanceHelp })),
    summary: "list | forget PROJECT: the Trusted Publishers recorded at first install (rules.provenance)",
  },
  doctor: {
    load: () => import("./doctor.js").then((m) => ({ run: m.doctor, help: m.doctorHelp })),
    summary: "check the engine, image, environments, index, state and audit chain",
  },
  init: {
    load: () => import("./init.js").then((m) => ({ run: m.init, help: m.initHelp })),
    summary: "write a commented pipgate.yaml, policy and allowlist (--from-venv PY: pins what it has)",
  },
};

/** The command names, for tests that run every one of them. */
export const COMMAND_NAMES: readonly string[] = Object.keys(COMMANDS);

/** Each command's actions (audit list, approvals approve …), for the same tests; loads the command. */
export async function commandActions(name: string): Promise<readonly string[]> {
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  return Object.keys((await command?.load())?.help.actions ?? {});
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
function helpText(command: Loaded, argv: readonly string[]): string {
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
  try {
    const loaded = await command.load();
    if (global.help) {
      io.stdout(helpText(loaded, rest));
      return EXIT.ok;
    }
    return await loaded.run(rest, io, { logLevel: global.logLevel });
  } catch (error) {
    if (error instanceof CliError) {
      io.stderr(`pipgate ${name}: ${error.message}\n`);
      return error.exitCode;
    }
    io.stderr(`pipgate ${name}: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.failure;
  }
}
