import { chmod, rm } from "node:fs/promises";
import { performance } from "node:perf_hooks";
import { isDeepStrictEqual } from "node:util";
import type Docker from "dockerode";
import { errorMessage } from "../errors.js";
import type { Logger } from "../log.js";
import { createOwnedDir } from "../state/leftovers.js";
import {
  createOptions,
  lazyClient,
  superviseContainer,
  type PoolClaim,
  type RunOptions,
  type SandboxRun,
  type SandboxRunner,
  type Supervised,
} from "./docker.js";
import { LABELS } from "./reaper.js";
import { CONTAINER, type ContainerSpec } from "./spec.js";

/*
 * The warm pool: build containers created and started before a request needs one, each blocked in
 * sandbox/runtime/pooled.py reading its stdin. A request claims one, its proxy listens in that
 * container's private socket directory, and its command goes in on stdin; the container then runs
 * exactly as a fresh one would and is removed after, whatever happens. Never reused: an entry leaves
 * the pool when it is claimed, and a claimed entry that did not run is destroyed on release.
 *
 * Safe per request because nothing per-request is decided at create time: the image, environment,
 * user, limits, runtime, tmpfs and binds are those resolveSpec gives every request (run() checks they
 * are equal, and runs a fresh container when they are not), the socket directory is the entry's own,
 * and the command (requirement, driver config, the container's own deadline) arrives with the request.
 * The labels are the pool's (role "pool", the broker, a deadline covering idle time plus the longest
 * timeout), which the reaper reads like any other: a dead broker's pool is removed at start-up.
 */

export interface PoolOptions {
  /** ready containers kept per image; 0 turns the pool off */
  size: number;
  /** an entry older than this is not handed out (pooled.py ends itself then too) */
  idleSeconds: number;
  /** the pooled container for an image, its socket directory and its deadline (spec.ts poolSpec) */
  template: (image: string, socketDir: string, deadline: number) => ContainerSpec;
  /** milliseconds past idle time a pooled container may live: the longest request timeout and the reaper's grace */
  lifetimeMs: number;
  /** where the entries' socket directories are made, and their prefix (swept at start-up when their broker is dead) */
  socketRoot: string;
  socketPrefix: string;
}

/** What a pooled container may print before it is handed a request (pooled.py prints nothing). */
const MAX_IDLE_OUTPUT = 64 * 1024;
/** An entry this close to its idle end is not handed out. */
const IDLE_MARGIN_MS = 10_000;
/** Containers that end within this of their start, this many times in a row, stop the pool for an image. */
const EARLY_EXIT_MS = 5_000;
const EARLY_EXITS_MAX = 3;
/** Images the pool keeps containers for, at most (learnt from claims). */
const MAX_IMAGES = 4;

type EntryState = "filling" | "ready" | "claimed" | "running" | "gone";

interface Entry {
  image: string;
  socketDir: string;
  spec: ContainerSpec;
  deadline: number;
  readyAt: number;
  state: EntryState;
  container?: Docker.Container;
  stream?: Supervised["stream"];
  buffered: Buffer[];
  bufferedBytes: number;
  sink?: (chunk: Buffer) => void;
}

/** What a pool-backed runner adds: figures for tests and the bench. */
export interface PooledRunner extends SandboxRunner {
  /** Resolves once every image asked for has `size` ready containers (or the pool gave up on it). */
  ready(): Promise<void>;
  /** Starts filling for these images now (the environments' images at start-up). */
  warm(images: readonly string[]): void;
  /** Ready containers per image. */
  readyCount(image: string): number;
}

/** `inner` with a warm pool in front: a spec that binds a claimed entry's socket directory runs in it. */
export function withPool(inner: SandboxRunner, socketPath: string, options: PoolOptions, log: Logger): PooledRunner {
  const connect = lazyClient(socketPath);
  const entries = new Set<Entry>();
  const images = new Set<string>();
  const earlyExits = new Map<string, number>();
  let closed = false;
  let closing: Promise<void> | undefined;
  let filling: Promise<void> = Promise.resolve();

  const live = (image: string, states: readonly EntryState[]) => [...entries].filter((entry) => entry.image === image && states.includes(entry.state));

  async function destroy(entry: Entry, keepDir = false): Promise<void> {
    const wasLive = entry.state !== "gone";
    entry.state = "gone";
    entries.delete(entry);
    entry.stream?.destroy?.();
    if (wasLive && entry.container !== undefined) {
      await entry.container.remove({ force: true, v: true }).catch((error: unknown) => {
        if (!/no such container|is already in progress/i.test(errorMessage(error)))
          log.error({ err: errorMessage(error), id: entry.container?.id }, "could not remove a pooled sandbox container");
      });
    }
    if (!keepDir) await rm(entry.socketDir, { recursive: true, force: true });
  }

  /** Creates, attaches and starts one pooled container for `image`; it then waits for its request. */
  async function makeOne(image: string): Promise<void> {
    const begun = performance.now();
    const socketDir = await createOwnedDir(options.socketRoot, options.socketPrefix);
    await chmod(socketDir, 0o755);
    const deadline = Date.now() + options.idleSeconds * 1000 + options.lifetimeMs;
    const spec = options.template(image, socketDir, deadline);
    const entry: Entry = { image, socketDir, spec, deadline, readyAt: 0, state: "filling", buffered: [], bufferedBytes: 0 };
    entries.add(entry);
    try {
      const docker = await connect();
      entry.container = await docker.createContainer(createOptions(spec, true));
      const stream = (await entry.container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as Supervised["stream"];
      entry.stream = stream;
      stream.on("error", () => undefined);
      stream.on("data", (chunk: Buffer) => {
        if (entry.sink !== undefined) return entry.sink(chunk);
        entry.buffered.push(chunk);
        entry.bufferedBytes += chunk.length;
        // It printed before it was handed a request: not the container pooled.py makes. Not used.
        if (entry.bufferedBytes > MAX_IDLE_OUTPUT && entry.state === "ready") void destroy(entry);
      });
      await entry.container.start();
      const startedAt = Date.now();
      void entry.container.wait().then(
        () => onExit(entry, startedAt),
        () => onExit(entry, startedAt),
      );
      if (closed || (entry.state as EntryState) === "gone") {
        await destroy(entry);
        return;
      }
      entry.readyAt = Date.now();
      entry.state = "ready";
      log.debug({ image, id: entry.container.id, ms: Math.round(performance.now() - begun) }, "a pooled sandbox container is ready");
    } catch (error) {
      log.warn({ err: errorMessage(error), image }, "could not make a pooled sandbox container; requests get fresh ones");
      noteEarlyExit(image);
      await destroy(entry);
    }
  }

  function noteEarlyExit(image: string): void {
    const count = (earlyExits.get(image) ?? 0) + 1;
    earlyExits.set(image, count);
    if (count === EARLY_EXITS_MAX) log.warn({ image }, "pooled sandbox containers keep ending at once; the pool stops for this image");
  }

  function onExit(entry: Entry, startedAt: number): void {
    if (entry.state !== "ready" && entry.state !== "filling") return; // claimed: the request's run sees it end
    if (Date.now() - startedAt < EARLY_EXIT_MS) noteEarlyExit(entry.image);
    else earlyExits.delete(entry.image);
    void destroy(entry).then(() => refill(entry.image));
  }

  /** Tops `image` up to `size`, one container at a time, in the background. */
  function refill(image: string): Promise<void> {
    filling = filling.then(async () => {
      while (!closed && (earlyExits.get(image) ?? 0) < EARLY_EXITS_MAX && live(image, ["filling", "ready"]).length < options.size) await makeOne(image);
    });
    return filling;
  }

  function learn(image: string): boolean {
    if (images.has(image)) return true;
    if (images.size >= MAX_IMAGES) return false;
    images.add(image);
    return true;
  }

  function claim(image: string): PoolClaim | undefined {
    if (closed || options.size === 0) return undefined;
    if (!learn(image)) return undefined;
    const now = Date.now();
    for (const stale of live(image, ["ready"]).filter((entry) => now > entry.readyAt + options.idleSeconds * 1000 - IDLE_MARGIN_MS)) void destroy(stale);
    const entry = live(image, ["ready"])[0];
    if (entry === undefined) {
      void refill(image);
      return undefined;
    }
    entry.state = "claimed";
    let released: Promise<void> | undefined;
    return {
      socketDir: entry.socketDir,
      release: () =>
        (released ??= (async () => {
          if (entry.state === "claimed") await destroy(entry);
          else await rm(entry.socketDir, { recursive: true, force: true });
          entries.delete(entry);
          // Refilled once the request is done with the machine, not beside it.
          if (!closed) void refill(image);
        })()),
    };
  }

  async function run(spec: ContainerSpec, runOptions: RunOptions): Promise<SandboxRun> {
    const bind = `:${CONTAINER.socketDir}:ro`;
    const entry = [...entries].find((candidate) => candidate.state === "claimed" && spec.hostConfig.Binds.includes(`${candidate.socketDir}${bind}`));
    if (entry === undefined) return inner.run(spec, runOptions);
    const mismatch = differs(entry, spec);
    if (mismatch !== undefined || entry.container === undefined || entry.stream === undefined) {
      // Something bound at create time is not what this request needs: it gets a fresh container.
      log.info({ id: entry.container?.id, differs: mismatch }, "the pooled sandbox container does not fit this request; a fresh one runs it");
      await destroy(entry, true);
      return inner.run(spec, runOptions);
    }
    entry.state = "running";
    const { container, stream } = entry;
    const started = Date.now();
    return superviseContainer(
      {
        container,
        stream,
        connect: (write) => {
          for (const chunk of entry.buffered) write(chunk);
          entry.buffered = [];
          entry.sink = write;
        },
        start: () =>
          new Promise<void>((resolve, reject) => {
            const line = `${JSON.stringify(spec.cmd)}\n`;
            (stream as unknown as NodeJS.WritableStream).write(line, (error) => (error === null || error === undefined ? resolve() : reject(error)));
          }),
        createMs: 0,
        pooled: true,
      },
      runOptions,
      log,
      started,
    ).finally(() => {
      entry.state = "gone";
      entries.delete(entry);
    });
  }

  return {
    run,
    imagePython: (image) => inner.imagePython(image),
    ping: () => inner.ping(),
    runtimes: () => inner.runtimes(),
    claim,
    warm(list) {
      for (const image of list) if (options.size > 0 && learn(image)) void refill(image);
    },
    async ready() {
      let before: Promise<void> | undefined;
      while (before !== filling) {
        before = filling;
        await filling;
      }
    },
    readyCount: (image) => live(image, ["ready"]).length,
    close: () =>
      (closing ??= (async () => {
        closed = true;
        await filling.catch(() => undefined);
        await Promise.all([...entries].filter((entry) => entry.state !== "running").map((entry) => destroy(entry)));
        await inner.close?.();
      })()),
  };
}

/**
 * Why a pooled container is not the container `spec` asks for, or undefined when it is: everything
 * fixed at create time must be equal; only the command (sent on stdin) and the request's own labels
 * differ, and the request's deadline must fall within the pooled container's.
 */
export function differs(entry: { spec: ContainerSpec; deadline: number }, spec: ContainerSpec): string | undefined {
  if (entry.spec.image !== spec.image) return "image";
  if (!isDeepStrictEqual(entry.spec.env, spec.env)) return "env";
  if (entry.spec.user !== spec.user) return "user";
  if (!isDeepStrictEqual(entry.spec.hostConfig, spec.hostConfig)) return "hostConfig";
  const deadline = Number(spec.labels[LABELS.deadline]);
  if (!Number.isFinite(deadline) || deadline > entry.deadline) return "deadline";
  return undefined;
}
