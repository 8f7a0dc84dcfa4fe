/** The one error class for the truly exceptional: expected failures are result values instead. */
export class PipgateError extends Error {
  readonly code: string;
  readonly data: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options: { cause?: unknown; data?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "PipgateError";
    this.code = code;
    this.data = options.data;
  }
}

/** A value-or-failure result, for everything that can fail in an expected way. */
export type Result<T, E = string> = { ok: true; value: T } | { ok: false; error: E };

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
