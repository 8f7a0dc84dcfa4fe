import { errorMessage, type Result } from "../errors.js";
import { isolatedEnv } from "./pip-command.js";

export interface RunPipOptions {
  signal?: AbortSignal;
  /** Called with the child's pid once it runs; a rejection kills pip. The run waits for it to settle. */
  onSpawn?: (pid: number) => Promise<void> | void;
}

/**
 * Runs the venv's pip, isolated, and reports its failure as a value: non-zero exit, death by a signal,
 * or cancellation (pip is SIGKILLed: the caller restores the backup, so nothing graceful is needed).
 */
export async function runPip(python: string, args: readonly string[], opts: RunPipOptions = {}): Promise<Result<string>> {
  const { execa } = await import("execa"); // on first use: start-up (pipgate install) does not load it
  const child = execa(python, args, {
    env: isolatedEnv(process.env),
    extendEnv: false,
    reject: false,
    stdin: "ignore",
    all: true,
    killSignal: "SIGKILL",
    ...(opts.signal === undefined ? {} : { cancelSignal: opts.signal }),
  });
  const pid = child.pid;
  let hookError: unknown;
  const hook =
    opts.onSpawn === undefined || pid === undefined
      ? Promise.resolve()
      : Promise.resolve()
          .then(() => opts.onSpawn?.(pid))
          .catch((error: unknown) => {
            hookError = error ?? new Error("hook failed");
            child.kill("SIGKILL");
          });
  const result = await child;
  await hook;
  if (hookError !== undefined) return { ok: false, error: `failure during pip: ${errorMessage(hookError)}` };
  if (result.isCanceled) return { ok: false, error: "the install was cancelled while pip ran" };
  if (result.signal !== undefined) return { ok: false, error: `pip was killed by ${result.signal}` };
  if (result.failed) return { ok: false, error: `pip failed (exit ${result.exitCode ?? "?"}): ${pipError(result.all ?? "")}` };
  return { ok: true, value: result.all ?? "" };
}

/** pip's own ERROR: lines are what a reader needs; otherwise the last line. */
export function pipError(output: string): string {
  const lines = output
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const errors = lines.filter((l) => l.startsWith("ERROR:"));
  return (errors.length > 0 ? errors.join(" ") : (lines[lines.length - 1] ?? "no output")).slice(0, 2000);
}
