import { pino, destination, type Logger } from "pino";

/** The levels pino knows, quietest last; `--log-level` and PIPGATE_LOG_LEVEL take one of these. */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A level named on a command line or in the environment; anything else is refused, not passed to pino (which throws). */
export function parseLogLevel(text: string): { ok: true; value: LogLevel } | { ok: false; error: string } {
  const level = LOG_LEVELS.find((known) => known === text.trim().toLowerCase());
  return level === undefined ? { ok: false, error: `${JSON.stringify(text)} is not a log level; one of ${LOG_LEVELS.join(", ")}` } : { ok: true, value: level };
}

/**
 * Logs go to stderr: in stdio mode stdout belongs to the MCP protocol. Without a level, PIPGATE_LOG_LEVEL
 * if it names one, else info (the CLI refuses a bad value before it gets here).
 */
export function createLogger(level?: LogLevel): Logger {
  const fromEnv = process.env.PIPGATE_LOG_LEVEL === undefined ? undefined : parseLogLevel(process.env.PIPGATE_LOG_LEVEL);
  return pino({ level: level ?? (fromEnv?.ok === true ? fromEnv.value : "info"), base: { app: "pipgate" } }, destination(2));
}

/** A logger that drops everything, for tests and embedded use. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}

export type { Logger };
