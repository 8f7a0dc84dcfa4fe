import { pino, destination, type Logger } from "pino";

/** Logs go to stderr: in stdio mode stdout belongs to the MCP protocol. */
export function createLogger(level: string = process.env.PIPGATE_LOG_LEVEL ?? "info"): Logger {
  return pino({ level, base: { app: "pipgate" } }, destination(2));
}

/** A logger that drops everything, for tests and embedded use. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}

export type { Logger };
