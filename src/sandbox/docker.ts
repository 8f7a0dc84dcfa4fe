import type Docker from "dockerode";
import { errorMessage } from "../errors.js";
import type { Logger } from "../log.js";
import { createContainerStreams, type StreamLimits, type StreamSummary } from "./boundary/streams.js";
import type { ContainerSpec } from "./spec.js";

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
  let client: Promise<Docker> | undefined;
  const connect = () => (client ??= import("dockerode").then(({ default: Dockerode }) => new Dockerode({ socketPath })));

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
