import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { z } from "zod";
import { errorMessage, type Result } from "../errors.js";
import { INSPECT_WORKER, InterpreterInfoSchema, inspectOnce, parseJson, type InterpreterInfo, type Inspector } from "./interpreter.js";
import { isolatedEnv } from "./pip-command.js";

/*
 * Inspections from interpreters that are already running: a broker that stays up (serve) asks each
 * environment's interpreter what it holds twice per install (the pipeline's early check, the commit's
 * under the lock), and an interpreter start with importlib.metadata's imports is most of each. An
 * inspector keeps one `python -I` per interpreter running INSPECT_WORKER and asks it one line at a time.
 *
 * It answers as a fresh interpreter would (the worker drops its path caches before each inspection and
 * restarts itself when a .pth file changed); anything unexpected from it (an exit, a line that is not
 * the answer, a line over the cap, no answer in time) ends that worker and the inspection is made the
 * one-shot way instead, so a worker can cost time but never change an answer. The worker's output is
 * read as untrusted: bounded, parsed through the same schema as the one-shot answer.
 */

/** An answer line larger than this ends the worker (the one-shot inspection is bounded by execa's buffer). */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;
/** A worker that has not answered in this long is ended. */
const ANSWER_TIMEOUT_MS = 60_000;
/** A worker with nothing to do for this long exits; the next inspection starts a new one. */
const DEFAULT_IDLE_MS = 60_000;

const WorkerAnswerSchema = z.union([
  z.strictObject({ ok: z.unknown() }),
  z.strictObject({ error: z.string().max(4096) }),
  z.strictObject({ restart: z.literal(true) }),
]);

interface Worker {
  child: ChildProcessWithoutNullStreams;
  /** the inspection in flight answers through this; undefined when idle */
  pending: ((line: Result<string>) => void) | undefined;
  buffered: Buffer[];
  bufferedBytes: number;
  idle: NodeJS.Timeout | undefined;
}

export interface InspectorOptions {
  idleMs?: number;
  /** Test-only: what runs the worker (default the interpreter itself, isolated). */
  spawnWorker?: (python: string) => ChildProcessWithoutNullStreams;
}

export function createInspector(options: InspectorOptions = {}): Inspector & { workers(): number } {
  const idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
  const workers = new Map<string, Worker>();
  const queues = new Map<string, Promise<void>>();
  let closed = false;

  const end = (python: string, worker: Worker, why: string): void => {
    if (workers.get(python) === worker) workers.delete(python);
    if (worker.idle !== undefined) clearTimeout(worker.idle);
    worker.child.kill("SIGKILL");
    const pending = worker.pending;
    worker.pending = undefined;
    pending?.({ ok: false, error: why });
  };

  const start = (python: string): Worker => {
    const child =
      options.spawnWorker?.(python) ?? spawn(python, ["-I", "-c", INSPECT_WORKER], { env: isolatedEnv(process.env), stdio: ["pipe", "pipe", "pipe"] });
    const worker: Worker = { child, pending: undefined, buffered: [], bufferedBytes: 0, idle: undefined };
    child.stdout.on("data", (chunk: Buffer) => {
      let rest = chunk;
      for (let newline = rest.indexOf(10); newline >= 0; newline = rest.indexOf(10)) {
        const line = Buffer.concat([...worker.buffered, rest.subarray(0, newline)]).toString("utf8");
        worker.buffered = [];
        worker.bufferedBytes = 0;
        rest = rest.subarray(newline + 1);
        const pending = worker.pending;
        worker.pending = undefined;
        if (pending === undefined) return end(python, worker, "the inspector wrote when nothing was asked");
        pending({ ok: true, value: line });
      }
      worker.buffered.push(rest);
      worker.bufferedBytes += rest.length;
      if (worker.bufferedBytes > MAX_ANSWER_BYTES) end(python, worker, `the inspector's answer exceeded ${String(MAX_ANSWER_BYTES)} bytes`);
    });
    // stderr is drained and dropped: the one-shot fallback reports an interpreter's own errors.
    child.stderr.resume();
    child.on("error", (error) => end(python, worker, `the inspector failed: ${errorMessage(error)}`));
    child.on("exit", () => end(python, worker, "the inspector exited"));
    child.stdin.on("error", () => undefined);
    workers.set(python, worker);
    return worker;
  };

  const ask = (worker: Worker, python: string, wheelFiles: readonly string[]): Promise<Result<string>> =>
    new Promise((resolve) => {
      // Ended already (it exited while idle): nothing would ever answer.
      if (workers.get(python) !== worker) return resolve({ ok: false, error: "the inspector had ended" });
      const timer = setTimeout(() => end(python, worker, "the inspector did not answer in time"), ANSWER_TIMEOUT_MS);
      worker.pending = (line) => {
        clearTimeout(timer);
        resolve(line);
      };
      worker.child.stdin.write(`${JSON.stringify(wheelFiles)}\n`);
    });

  const once = async (python: string, wheelFiles: readonly string[]): Promise<Result<InterpreterInfo>> => {
    let worker = workers.get(python) ?? start(python);
    if (worker.idle !== undefined) clearTimeout(worker.idle);
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const line = await ask(worker, python, wheelFiles);
      const answer = line.ok ? parseJson(line.value, WorkerAnswerSchema, python) : line;
      if (answer.ok && "restart" in answer.value) {
        end(python, worker, "restarted");
        worker = start(python);
        continue;
      }
      if (answer.ok && "ok" in answer.value) {
        const info = InterpreterInfoSchema.safeParse(answer.value.ok);
        if (info.success) {
          if (workers.get(python) === worker) worker.idle = setTimeout(() => end(python, worker, "idle"), idleMs).unref();
          return { ok: true, value: info.data };
        }
      }
      break;
    }
    // Whatever went wrong, the answer is the one a fresh interpreter gives.
    end(python, worker, "replaced by a one-shot inspection");
    return inspectOnce(python, wheelFiles);
  };

  return {
    workers: () => workers.size,
    inspect(python, wheelFiles) {
      if (closed) return inspectOnce(python, wheelFiles);
      // One inspection at a time per interpreter: its worker answers one line at a time.
      const run = (queues.get(python) ?? Promise.resolve()).then(() => once(python, wheelFiles));
      const settled = run.then(
        () => undefined,
        () => undefined,
      );
      queues.set(python, settled);
      void settled.then(() => {
        if (queues.get(python) === settled) queues.delete(python);
      });
      return run;
    },
    close() {
      closed = true;
      for (const [python, worker] of [...workers]) end(python, worker, "the broker closed");
    },
  };
}
