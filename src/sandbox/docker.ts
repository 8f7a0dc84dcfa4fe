import type Docker from "dockerode";
import { errorMessage } from "../errors.js";
import type { Logger } from "../log.js";
import { createContainerStreams, type StreamLimits, type StreamSummary } from "./boundary/streams.js";
import type { ContainerSpec } from "./spec.js";
import type { UpstreamContainerSpec } from "./upstream-spec.js";

export interface SandboxRun {
  exitCode: number | null;
  timedOut: boolean;
  aborted: boolean;
  /** The engine's OOMKilled flag: the memory limit ended the build. */
  oomKilled: boolean;
  durationMs: number;
  /** What was kept of the container's streams (bounded tails and counters). */
  output: StreamSummary;
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

/** What the pipeline needs from a sandbox backend. Docker is the only one today. */
export interface SandboxRunner {
  run(spec: ContainerSpec, options: RunOptions): Promise<SandboxRun>;
  /** The Python minor version an image carries (its org.pipgate.python label), or undefined if absent. */
  imagePython(image: string): Promise<string | undefined>;
  ping(): Promise<boolean>;
  /** The OCI runtimes the engine has registered (runc, runsc …). */
  runtimes(): Promise<string[]>;
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
    const container = await docker.createContainer({
      Image: spec.image,
      Cmd: spec.cmd,
      Env: spec.env,
      User: spec.user,
      Labels: spec.labels,
      Tty: false,
      AttachStdout: true,
      AttachStderr: true,
      NetworkDisabled: true,
      HostConfig: spec.hostConfig,
    });
    let timedOut = false;
    let aborted = false;
    const kill = (why: "timeout" | "abort" | "overflow") => {
      if (why === "timeout") timedOut = true;
      else if (why === "abort") aborted = true;
      container.kill({ signal: "SIGKILL" }).catch(() => undefined);
    };
    const streams = createContainerStreams(options.streams, {
      ...(options.onEvent === undefined ? {} : { onEvent: options.onEvent }),
      onOverflow: () => kill("overflow"),
    });
    const timer = setTimeout(() => kill("timeout"), options.timeoutMs);
    const onAbort = () => kill("abort");
    options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const stream = await container.attach({ stream: true, stdout: true, stderr: true });
      stream.on("data", (chunk: Buffer) => streams.write(chunk));
      const ended = new Promise<void>((resolve) => {
        stream.on("end", () => resolve());
        stream.on("error", () => resolve());
      });
      await container.start();
      if (options.signal?.aborted === true) kill("abort");
      const result = (await container.wait()) as { StatusCode?: number };
      await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 1000))]);
      (stream as NodeJS.ReadWriteStream & { destroy?: () => void }).destroy?.();
      const state = (await container.inspect().catch(() => undefined))?.State;
      return {
        exitCode: typeof result.StatusCode === "number" ? result.StatusCode : null,
        timedOut,
        aborted,
        oomKilled: state?.OOMKilled === true,
        durationMs: Date.now() - started,
        output: streams.summary(),
      };
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      options.onExit?.();
      await container.remove({ force: true, v: true }).catch((error: unknown) => {
        log.error({ err: errorMessage(error), id: container.id }, "could not remove a sandbox container");
      });
    }
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
function lazyClient(socketPath: string): () => Promise<Docker> {
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
