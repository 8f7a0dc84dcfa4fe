import type Docker from "dockerode";
import { performance } from "node:perf_hooks";
import { errorMessage } from "../errors.js";
import type { Logger } from "../log.js";
import { createContainerStreams, type StreamLimits, type StreamSummary } from "./boundary/streams.js";
import type { ContainerSpec } from "./spec.js";
import type { UpstreamContainerSpec } from "./upstream-spec.js";

/**
 * Where a container run's time went, in milliseconds, measured by the broker: what the audit record's
 * `sandbox.timings` carries and the bench's stage breakdown splits the sandbox stage into.
 */
export interface SandboxTimings {
  /** creating the container (0 for a pooled one: made before the request) */
  createMs: number;
  /** attaching to its streams and starting it (for a pooled one: handing it its request) */
  startMs: number;
  /** from started to the driver's first event: the runtime, Python and the driver coming up */
  bootMs: number | undefined;
  /** from the driver's first event to its last: pip's own time, with the hand-back */
  pipMs: number | undefined;
  /** from the driver's last event (or the start) to the engine's exit status */
  exitMs: number;
  /** the rest of its output and its state read after the exit */
  readMs: number;
  /** killing (if needed) and removing it */
  teardownMs: number;
}

export interface SandboxRun {
  exitCode: number | null;
  timedOut: boolean;
  aborted: boolean;
  /** The engine's OOMKilled flag: the memory limit ended the build. */
  oomKilled: boolean;
  durationMs: number;
  /** What was kept of the container's streams (bounded tails and counters). */
  output: StreamSummary;
  /** The engine's id of the container that ran: never the same for two runs. */
  containerId: string;
  /** true when the container came from the warm pool (src/sandbox/pool.ts) */
  pooled: boolean;
  timings: SandboxTimings;
}

export interface RunOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  onEvent?: (event: Record<string, unknown>) => void;
  /** Bounds on the container's stdout and stderr; past the total the container is killed. */
  streams: StreamLimits;
  /** Called once the container has ended, before it is removed (the output sink is sealed there). */
  onExit?: () => void;
}

/** A private directory for one request's proxy socket that a ready pooled container already mounts. */
export interface PoolClaim {
  socketDir: string;
  /** Destroys the container if run() never used it, and removes the directory; idempotent. */
  release(): Promise<void>;
}

/** What the pipeline needs from a sandbox backend. Docker is the only one today. */
export interface SandboxRunner {
  run(spec: ContainerSpec, options: RunOptions): Promise<SandboxRun>;
  /** The Python minor version an image carries (its org.pipgate.python label), or undefined if absent. */
  imagePython(image: string): Promise<string | undefined>;
  ping(): Promise<boolean>;
  /** The OCI runtimes the engine has registered (runc, runsc …). */
  runtimes(): Promise<string[]>;
  /**
   * Optional (the warm pool): takes a ready pre-created container for `image` out of the pool, for one
   * request; undefined when there is none (the caller makes its own socket directory, run() a fresh
   * container). A spec whose socket bind names the claim's directory runs in that container.
   */
  claim?(image: string): PoolClaim | undefined;
  /** Optional: removes what the runner keeps between requests (the pool's containers). */
  close?(): Promise<void>;
}

/** A container the broker made, with its streams attached; what superviseContainer runs to its end. */
export interface Supervised {
  container: Docker.Container;
  stream: NodeJS.ReadableStream & { destroy?: () => void };
  /** Routes the attach stream's chunks (from before the start, in order) to the run's bounded consumer. */
  connect(write: (chunk: Buffer) => void): void;
  /** Starts it: container.start() for a fresh one, its request on stdin for a pooled one. */
  start(): Promise<void>;
  createMs: number;
  pooled: boolean;
}

/**
 * Runs a created, attached container to its end under the run's bounds (timeout, abort, output cap),
 * and removes it whatever happens: a container is used for one run only.
 */
export async function superviseContainer(made: Supervised, options: RunOptions, log: Logger, started: number): Promise<SandboxRun> {
  const { container } = made;
  let timedOut = false;
  let aborted = false;
  const kill = (why: "timeout" | "abort" | "overflow") => {
    if (why === "timeout") timedOut = true;
    else if (why === "abort") aborted = true;
    container.kill({ signal: "SIGKILL" }).catch(() => undefined);
  };
  let firstEvent: number | undefined;
  let lastEvent: number | undefined;
  const streams = createContainerStreams(options.streams, {
    onEvent: (event) => {
      lastEvent = performance.now();
      firstEvent ??= lastEvent;
      options.onEvent?.(event);
    },
    onOverflow: () => kill("overflow"),
  });
  const timer = setTimeout(() => kill("timeout"), options.timeoutMs);
  const onAbort = () => kill("abort");
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const t0 = performance.now();
  let running = t0;
  let exited = t0;
  let read = t0;
  const timings: SandboxTimings = { createMs: made.createMs, startMs: 0, bootMs: undefined, pipMs: undefined, exitMs: 0, readMs: 0, teardownMs: 0 };
  try {
    made.connect((chunk) => streams.write(chunk));
    const ended = new Promise<void>((resolve) => {
      made.stream.on("end", () => resolve());
      made.stream.on("error", () => resolve());
    });
    await made.start();
    running = performance.now();
    if (options.signal?.aborted === true) kill("abort");
    const result = (await container.wait()) as { StatusCode?: number };
    exited = performance.now();
    await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 1000))]);
    made.stream.destroy?.();
    const state = (await container.inspect().catch(() => undefined))?.State;
    read = performance.now();
    return {
      exitCode: typeof result.StatusCode === "number" ? result.StatusCode : null,
      timedOut,
      aborted,
      oomKilled: state?.OOMKilled === true,
      durationMs: Date.now() - started,
      output: streams.summary(),
      containerId: container.id,
      pooled: made.pooled,
      timings,
    };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
    options.onExit?.();
    const teardown = performance.now();
    await container.remove({ force: true, v: true }).catch((error: unknown) => {
      log.error({ err: errorMessage(error), id: container.id }, "could not remove a sandbox container");
    });
    timings.startMs = Math.round(running - t0);
    timings.bootMs = firstEvent === undefined ? undefined : Math.round(firstEvent - running);
    timings.pipMs = firstEvent === undefined || lastEvent === undefined ? undefined : Math.round(lastEvent - firstEvent);
    timings.exitMs = Math.round(exited - (lastEvent ?? running));
    timings.readMs = Math.round(read - exited);
    timings.teardownMs = Math.round(performance.now() - teardown);
  }
}

/** The Engine API's create body for a build container: the spec, stdin open when it is pooled. */
export function createOptions(spec: ContainerSpec, stdin: boolean): Docker.ContainerCreateOptions {
  return {
    Image: spec.image,
    Cmd: spec.cmd,
    Env: spec.env,
    User: spec.user,
    Labels: spec.labels,
    Tty: false,
    ...(stdin ? { OpenStdin: true, StdinOnce: true, AttachStdin: true } : {}),
    AttachStdout: true,
    AttachStderr: true,
    NetworkDisabled: true,
    HostConfig: spec.hostConfig,
  };
}

/**
 * The only module that talks to Docker. Every container it starts is removed, whatever happens; its
 * streams go through the bounded consumer of ./boundary/streams.ts and nowhere else.
 * dockerode (and the SSH and gRPC libraries it brings) is loaded on first use: an idle broker, and every
 * request that is refused before the sandbox, never pays its ~25 MB.
 */
export function createDockerRunner(socketPath: string, log: Logger): SandboxRunner {
  const connect = lazyClient(socketPath);

  async function run(spec: ContainerSpec, options: RunOptions): Promise<SandboxRun> {
    const started = Date.now();
    const docker = await connect();
    const t0 = performance.now();
    const container = await docker.createContainer(createOptions(spec, false));
    const createMs = Math.round(performance.now() - t0);
    let stream: Supervised["stream"];
    try {
      stream = (await container.attach({ stream: true, stdout: true, stderr: true })) as Supervised["stream"];
    } catch (error) {
      await container.remove({ force: true, v: true }).catch(() => undefined);
      throw error;
    }
    return superviseContainer(
      {
        container,
        stream,
        connect: (write) => stream.on("data", (chunk: Buffer) => write(chunk)),
        start: async () => {
          await container.start();
        },
        createMs,
        pooled: false,
      },
      options,
      log,
      started,
    );
  }

  async function imagePython(image: string): Promise<string | undefined> {
    try {
      const info = await (await connect()).getImage(image).inspect();
      return info.Config?.Labels?.["org.pipgate.python"] ?? undefined;
    } catch {
      return undefined;
    }
  }

  async function ping(): Promise<boolean> {
    try {
      await (await connect()).ping();
      return true;
    } catch {
      return false;
    }
  }

  async function runtimes(): Promise<string[]> {
    const info = (await (await connect()).info()) as { Runtimes?: Record<string, unknown> };
    return Object.keys(info.Runtimes ?? {});
  }

  return { run, imagePython, ping, runtimes };
}

/** A dockerode client for the socket, loaded and made on first use. */
export function lazyClient(socketPath: string): () => Promise<Docker> {
  let client: Promise<Docker> | undefined;
  return () => (client ??= import("dockerode").then(({ default: Dockerode }) => new Dockerode({ socketPath })));
}

/** A running container with its stdin and its multiplexed stdout/stderr attached. */
export interface AttachedContainer {
  id: string;
  /** Writes to the container's stdin. */
  write(bytes: string): Promise<void>;
  /** Closes its stdin (StdinOnce: the process sees end of file). */
  endInput(): void;
  /** Settles once the container has ended; never rejects. */
  readonly ended: Promise<{ exitCode: number | null; oomKilled: boolean }>;
  kill(signal: "SIGTERM" | "SIGKILL"): Promise<void>;
  /** Kills (if needed) and removes the container; idempotent. */
  remove(): Promise<void>;
}

/**
 * Creates, attaches and starts a long-running container that speaks over its stdin and stdout (a
 * contained upstream MCP server). Attached before it starts, so nothing it writes is missed; a failure
 * to start removes what was created. The caller bounds what it reads (createDemuxer, MessageFramer).
 */
export async function startAttachedContainer(
  socketPath: string,
  spec: UpstreamContainerSpec,
  /** Raw attach-stream chunks (8-byte framed: boundary/streams.ts createDemuxer), in order, from before the start. */
  onOutput: (chunk: Buffer) => void,
  log: Logger,
): Promise<AttachedContainer> {
  const docker = await lazyClient(socketPath)();
  const container = await docker.createContainer({
    Image: spec.image,
    Cmd: spec.cmd,
    Env: spec.env,
    User: spec.user,
    WorkingDir: spec.workingDir,
    Labels: spec.labels,
    Tty: false,
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    NetworkDisabled: true,
    HostConfig: spec.hostConfig as Docker.HostConfig,
  });
  let removed: Promise<void> | undefined;
  const remove = () =>
    (removed ??= container.remove({ force: true, v: true }).catch((error: unknown) => {
      if (!/no such container|is already in progress/i.test(errorMessage(error)))
        log.error({ err: errorMessage(error), id: container.id }, "could not remove an upstream container");
    }));
  try {
    const stream = (await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as NodeJS.ReadWriteStream & {
      destroy?: () => void;
    };
    stream.on("data", (chunk: Buffer) => onOutput(chunk));
    stream.on("error", () => undefined);
    const streamEnded = new Promise<void>((resolve) => {
      stream.on("end", () => resolve());
      stream.on("close", () => resolve());
      stream.on("error", () => resolve());
    });
    await container.start();
    const ended = container
      .wait()
      .then(async (result: { StatusCode?: number }) => {
        // What it wrote just before it ended may still be on its way.
        await Promise.race([streamEnded, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
        const state = (await container.inspect().catch(() => undefined))?.State;
        return { exitCode: typeof result.StatusCode === "number" ? result.StatusCode : null, oomKilled: state?.OOMKilled === true };
      })
      .catch(() => ({ exitCode: null, oomKilled: false }))
      .finally(() => stream.destroy?.());
    return {
      id: container.id,
      write: (bytes) =>
        new Promise((resolve, reject) => {
          if (!stream.write(bytes, (error) => (error === null || error === undefined ? undefined : reject(error)))) stream.once("drain", () => resolve());
          else resolve();
        }),
      endInput: () => {
        stream.end();
      },
      ended,
      kill: (signal) =>
        container.kill({ signal }).then(
          () => undefined,
          () => undefined,
        ),
      remove,
    };
  } catch (error) {
    await remove();
    throw error;
  }
}
