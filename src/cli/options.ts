import { LOG_LEVELS, parseLogLevel, type LogLevel } from "../log.js";

// What main needs before it knows the command: exit codes, the global options, the output. Nothing here
// loads the configuration's schemas, so `pipgate --help` and a usage error stay cheap.

/** Exit codes shared by every subcommand. */
export const EXIT = { ok: 0, failure: 1, usage: 2, denied: 3 } as const;

/** Thrown by subcommands for a usage or configuration problem; main prints it and exits. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.usage,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** Where a subcommand writes; tests pass their own to capture output. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** What main parses once for every command, so no subcommand reads the environment for it. */
export interface CliContext {
  /** `--log-level`, else PIPGATE_LOG_LEVEL; undefined leaves each command its own default. */
  logLevel: LogLevel | undefined;
}

/** Every subcommand's signature: arguments after the subcommand name, and an exit code. */
export type Subcommand = (argv: string[], io: CliIo, context?: CliContext) => Promise<number>;

/** What `--help` prints for a command: its usage, and for a command with actions each action's own. */
export interface CommandHelp {
  usage: string;
  actions?: Readonly<Record<string, string>>;
}

/** The options every command takes, said once in every help text. */
export const COMMON_OPTIONS_HELP =
  `common options: --config FILE (default ./pipgate.yaml), --log-level LEVEL (${LOG_LEVELS.join("|")}; ` +
  `else $PIPGATE_LOG_LEVEL; logs go to stderr), --help\n`;

/** The arguments with the options main handles for every command taken out. */
export interface GlobalOptions {
  argv: string[];
  help: boolean;
  logLevel: LogLevel | undefined;
}

/**
 * Takes `--help`/`-h` and `--log-level LEVEL` (or `=LEVEL`) out of a command's arguments, up to a `--`,
 * so every command has them without declaring them. PIPGATE_LOG_LEVEL is the fallback; a bad level from
 * either is a usage error rather than pino's crash.
 */
export function parseGlobalOptions(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): GlobalOptions {
  const rest: string[] = [];
  let help = false;
  let flag: string | undefined;
  for (let i = 0; i < argv.length; i += 1) {
    const token = argv[i] ?? "";
    if (token === "--") {
      rest.push(...argv.slice(i));
      break;
    }
    if (token === "--help" || token === "-h") help = true;
    else if (token === "--log-level") {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith("-")) throw new CliError(`--log-level needs a LEVEL: one of ${LOG_LEVELS.join(", ")}`);
      flag = value;
      i += 1;
    } else if (token.startsWith("--log-level=")) flag = token.slice("--log-level=".length);
    else rest.push(token);
  }
  let logLevel: LogLevel | undefined;
  if (flag !== undefined) {
    const parsed = parseLogLevel(flag);
    if (!parsed.ok) throw new CliError(`--log-level: ${parsed.error}`);
    logLevel = parsed.value;
  } else if (env.PIPGATE_LOG_LEVEL !== undefined && env.PIPGATE_LOG_LEVEL !== "") {
    const parsed = parseLogLevel(env.PIPGATE_LOG_LEVEL);
    if (!parsed.ok) throw new CliError(`PIPGATE_LOG_LEVEL: ${parsed.error} (or pass --log-level LEVEL)`);
    logLevel = parsed.value;
  }
  return { argv: rest, help, logLevel };
}
