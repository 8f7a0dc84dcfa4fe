import { PassThrough } from "node:stream";
import type Docker from "dockerode";
import { errorMessage } from "../errors.js";
import type { Logger } from "../log.js";
import { parseDriverEvent, type ContainerSpec } from "./spec.js";

export interface SandboxRun {
  exitCode: number | null;
  timedOut: boolean;
  aborted: boolean;
  durationMs: number;
  stdout: string;
  stderr: string;
  events: Array<Record<string, unknown>>;
}

export interface RunOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  onEvent?: (event: Record<string, unknown>) => void;
}

/** What the pipeline needs from a sandbox backend. Docker is the only one today. */
export interface SandboxRunner {
  run(spec: ContainerSpec, options: RunOptions): Promise<SandboxRun>;
  /** The Python minor version an image carries (its org.pipgate.python label), or undefined if absent. */
  imagePython(image: string): Promise<string | undefined>;
  ping(): Promise<boolean>;
}

const OUTPUT_CAP = 256 * 1024;

/**
 * The only module that talks to Docker. Every container it starts is removed, whatever happens.
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
    let stdout = "";
    let stderr = "";
    const events: Array<Record<string, unknown>> = [];
    let pending = "";
    let timedOut = false;
    let aborted = false;
    const out = new PassThrough();
    const err = new PassThrough();
    out.on("data", (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      if (stdout.length < OUTPUT_CAP) stdout += text;
      pending += text;
      let newline = pending.indexOf("\n");
      while (newline >= 0) {
        const event = parseDriverEvent(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
        if (event !== undefined) {
          events.push(event);
          options.onEvent?.(event);
        }
        newline = pending.indexOf("\n");
      }
    });
    err.on("data", (chunk: Buffer) => {
      if (stderr.length < OUTPUT_CAP) stderr += chunk.toString("utf8");
    });
    const kill = (why: "timeout" | "abort") => {
      if (why === "timeout") timedOut = true;
      else aborted = true;
      container.kill({ signal: "SIGKILL" }).catch(() => undefined);
    };
    const timer = setTimeout(() => kill("timeout"), options.timeoutMs);
    const onAbort = () => kill("abort");
    options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const stream = await container.attach({ stream: true, stdout: true, stderr: true });
      docker.modem.demuxStream(stream, out, err);
      const ended = new Promise<void>((resolve) => stream.on("end", () => resolve()));
      await container.start();
      if (options.signal?.aborted === true) kill("abort");
      const result = (await container.wait()) as { StatusCode?: number };
      await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 1000))]);
      return {
        exitCode: typeof result.StatusCode === "number" ? result.StatusCode : null,
        timedOut,
        aborted,
        durationMs: Date.now() - started,
        stdout,
        stderr,
        events,
      };
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
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

  return { run, imagePython, ping };
}
