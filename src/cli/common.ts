import { parseArgs, type ParseArgsConfig } from "node:util";
import { loadConfig } from "../config/load.js";
import type { LoadedConfig } from "../config/schema.js";

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

/** Every subcommand's signature: arguments after the subcommand name, and an exit code. */
export type Subcommand = (argv: string[], io: CliIo) => Promise<number>;

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
