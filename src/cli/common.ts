import { parseArgs, type ParseArgsConfig } from "node:util";
import { loadConfig } from "../config/load.js";
import type { LoadedConfig } from "../config/schema.js";
import { createLogger, type Logger, type LogLevel } from "../log.js";
import { CliError, EXIT, type CliContext } from "./options.js";

export {
  CliError,
  COMMON_OPTIONS_HELP,
  EXIT,
  parseGlobalOptions,
  processIo,
  type CliContext,
  type CliIo,
  type CommandHelp,
  type GlobalOptions,
  type Subcommand,
} from "./options.js";

/** The logger a command writes with: the level asked for, else the command's own default. */
export function cliLogger(context: CliContext | undefined, fallback: LogLevel): Logger {
  return createLogger(context?.logLevel ?? fallback);
}

export const CONFIG_OPTION = { config: { type: "string", short: "c", default: "pipgate.yaml" } } as const;

/** parseArgs with `--config` added and unknown options refused with a usage error. */
export function parseCli<T extends ParseArgsConfig["options"]>(argv: string[], options: T, allowPositionals = true) {
  try {
    return parseArgs({ args: argv, options: { ...CONFIG_OPTION, ...options }, allowPositionals, strict: true });
  } catch (error) {
    throw new CliError(error instanceof Error ? error.message : String(error));
  }
}

/** Loads the configuration or fails with one readable line per problem. */
export function requireConfig(file: string): LoadedConfig {
  const result = loadConfig(file);
  if (!result.ok) throw new CliError(`invalid configuration:\n  ${result.issues.join("\n  ")}`, EXIT.failure);
  return result.config;
}
