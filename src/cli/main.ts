import { allowlist } from "./allowlist.js";
import { approvals } from "./approvals.js";
import { audit } from "./audit.js";
import { check } from "./check.js";
import { CliError, EXIT, processIo, type CliIo, type Subcommand } from "./common.js";
import { doctor } from "./doctor.js";
import { grants } from "./grants.js";
import { install } from "./install.js";
import { sandbox } from "./sandbox.js";
import { serve } from "./serve.js";
import { upstream } from "./upstream.js";

const COMMANDS: Record<string, { run: Subcommand; summary: string }> = {
  serve: { run: serve, summary: "run the MCP server (stdio, or --http HOST:PORT)" },
  check: { run: check, summary: "explain the decision for ENV REQUIREMENT (exit 0 allowed, 3 denied)" },
  install: { run: install, summary: "install ENV REQUIREMENT through the whole pipeline, as a local operator (no grants, limits or approvals)" },
  allowlist: { run: allowlist, summary: "add|remove|show|lint|import: maintain allowlist files, comments kept" },
  audit: { run: audit, summary: "list|show|tail|export|verify|report the audit log" },
  approvals: { run: approvals, summary: "list|approve|deny installs waiting for a person" },
  sandbox: { run: sandbox, summary: "build-image: build the sandbox image" },
  grants: { run: grants, summary: "new-token NAME | hash-token: bearer tokens for HTTP clients (stored hashed)" },
  upstream: { run: upstream, summary: "show | accept NAME|--all: the gateway upstream's pinned tool definitions and changes" },
  doctor: { run: doctor, summary: "check the engine, image, environments, index, state and audit chain" },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, { summary }]) => `  ${name.padEnd(width)}  ${summary}`);
  return `usage: pipgate COMMAND [--config FILE] ...\n\ncommands:\n${lines.join("\n")}\n\nEvery command reads ./pipgate.yaml unless --config names another file.\n`;
}

/** The CLI: one binary, one subcommand per file; exit codes from cli/common.ts. */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    io.stdout(usage());
    return name === undefined ? EXIT.usage : EXIT.ok;
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
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof CliError) {
      io.stderr(`pipgate ${name}: ${error.message}\n`);
      return error.exitCode;
    }
    io.stderr(`pipgate ${name}: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.failure;
  }
}
