import { randomUUID } from "node:crypto";
import { link, mkdir, readFile, rmdir, stat, unlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { ENVIRONMENT_NAME } from "../config/schema.js";
import { PipgateError } from "../errors.js";
import { isProcessAlive, processStart } from "../state/process.js";

/*
 * One pipgate at a time may change an environment, across processes. The lock is a file created
 * atomically with link(2) from a temporary file that already holds the owner (pid, its start time,
 * host), so it is never seen half-written. A lock whose owner process is gone (or whose pid now
 * belongs to a younger process) is stale and is taken over; the takeover itself runs under a
 * short-lived guard directory so two waiters cannot both remove it and remove a fresh lock.
 */

const OwnerSchema = z.object({
  pid: z.number().int().positive(),
  start: z.string().nullable().describe("the process's start time in clock ticks (Linux), against pid reuse"),
  host: z.string(),
  token: z.string(),
});
type Owner = z.infer<typeof OwnerSchema>;

// A guard older than this belongs to a process that died in the microseconds it held it.
const GUARD_STALE_MS = 10_000;

/** In-process FIFO order for waiters; create one per server and pass it to every lock call. */
export interface LockQueue {
  readonly tails: Map<string, Promise<void>>;
}

export function createLockQueue(): LockQueue {
  return { tails: new Map() };
}

export interface LockOptions {
  /** Give up waiting when aborted. */
  signal?: AbortSignal;
  /** Give up after this long; by default wait as long as the holder lives. */
  timeoutMs?: number;
  /** How often a waiter looks at a lock held by another process. */
  pollMs?: number;
  /** In-process queue: waiters in this process go in arrival order instead of polling each other. */
  queue?: LockQueue;
}

/** Runs fn while holding the environment's lock under stateDir/locks/, and always releases it. */
export async function withEnvironmentLock<T>(stateDir: string, environment: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  if (!ENVIRONMENT_NAME.test(environment)) {
    throw new PipgateError("bad-environment", `${JSON.stringify(environment)} is not an environment name`);
  }
  const lockPath = join(resolve(stateDir), "locks", `${environment}.lock`);
  const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
  const queue = opts.queue;
  if (queue === undefined) return holding(lockPath, fn, opts, deadline);

  const previous = queue.tails.get(lockPath) ?? Promise.resolve();
  let release = (): void => {};
  const mine = new Promise<void>((done) => (release = done));
  const tail = previous.then(() => mine);
  queue.tails.set(lockPath, tail);
  try {
    await waitFor(previous, opts.signal, deadline, lockPath);
    return await holding(lockPath, fn, opts, deadline);
  } finally {
    release();
    if (queue.tails.get(lockPath) === tail) queue.tails.delete(lockPath);
  }
}

async function holding<T>(lockPath: string, fn: () => Promise<T>, opts: LockOptions, deadline: number): Promise<T> {
  const owner = await acquire(lockPath, opts, deadline);
  try {
    return await fn();
  } finally {
    await releaseLock(lockPath, owner);
  }
}

async function acquire(lockPath: string, opts: LockOptions, deadline: number): Promise<Owner> {
  await mkdir(join(lockPath, ".."), { recursive: true });
  const owner: Owner = { pid: process.pid, start: await processStart(process.pid), host: hostname(), token: randomUUID() };
  const tmp = `${lockPath}.${owner.token}.tmp`;
  await writeFile(tmp, JSON.stringify(owner));
  try {
    for (;;) {
      try {
        await link(tmp, lockPath);
        return owner;
      } catch (error) {
        if (!isCode(error, "EEXIST")) throw error;
      }
      const current = await readOwner(lockPath);
      if (current !== undefined && !(await isProcessAlive(current))) {
        await removeStale(lockPath, current.token);
        continue;
      }
      if (current === undefined) continue; // released between link and read: try again at once
      if (opts.signal?.aborted) throw aborted(lockPath, opts.signal);
      if (Date.now() >= deadline) {
        throw new PipgateError("lock-timeout", `${lockPath} is held by pid ${current.pid}; gave up waiting`);
      }
      await sleep(Math.min(opts.pollMs ?? 50, Math.max(1, deadline - Date.now())), undefined, {
        signal: opts.signal,
      }).catch(() => undefined);
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

async function releaseLock(lockPath: string, owner: Owner): Promise<void> {
  const current = await readOwner(lockPath);
  if (current?.token === owner.token) await unlink(lockPath).catch(() => undefined);
}

async function removeStale(lockPath: string, staleToken: string): Promise<void> {
  const guard = `${lockPath}.takeover`;
  try {
    await mkdir(guard);
  } catch (error) {
    if (!isCode(error, "EEXIST")) throw error;
    const age = await stat(guard).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    if (age > GUARD_STALE_MS) await rmdir(guard).catch(() => undefined);
    await sleep(5);
    return;
  }
  try {
    const again = await readOwner(lockPath);
    if (again?.token === staleToken) await unlink(lockPath).catch(() => undefined);
  } finally {
    await rmdir(guard).catch(() => undefined);
  }
}

async function readOwner(lockPath: string): Promise<Owner | undefined> {
  let text: string;
  try {
    text = await readFile(lockPath, "utf8");
  } catch (error) {
    if (isCode(error, "ENOENT")) return undefined;
    throw error;
  }
  const parsed = OwnerSchema.safeParse(safeJson(text));
  if (parsed.success) return parsed.data;
  // Not written by this code (link makes ours whole): fail closed, and say where it is.
  throw new PipgateError("lock-corrupt", `${lockPath} does not name an owner; remove it if no pipgate runs`);
}

async function waitFor(previous: Promise<void>, signal: AbortSignal | undefined, deadline: number, lockPath: string) {
  if (signal === undefined && deadline === Infinity) return previous;
  let cleanup = (): void => {};
  const stop = new Promise<never>((_, reject) => {
    const onAbort = (): void => reject(aborted(lockPath, signal));
    signal?.addEventListener("abort", onAbort, { once: true });
    const timer =
      deadline === Infinity
        ? undefined
        : setTimeout(
            () => reject(new PipgateError("lock-timeout", `${lockPath}: gave up waiting in this process's queue`)),
            Math.max(0, deadline - Date.now()),
          );
    cleanup = () => {
      signal?.removeEventListener("abort", onAbort);
      if (timer !== undefined) clearTimeout(timer);
    };
    if (signal?.aborted) onAbort();
  });
  try {
    await Promise.race([previous, stop]);
  } finally {
    cleanup();
  }
}

function aborted(lockPath: string, signal: AbortSignal | undefined): PipgateError {
  return new PipgateError("aborted", `stopped waiting for ${lockPath}`, { cause: signal?.reason });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Node reports file-system failures by errno code; this reads it without trusting the type. */
export function isCode(error: unknown, code: string): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === code;
}
