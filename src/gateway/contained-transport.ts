import { hostname } from "node:os";
import { serializeMessage } from "@modelcontextprotocol/sdk/shared/stdio.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import type { ContainedSettings } from "../config/contained-paths.js";
import type { SandboxConfig } from "../config/schema.js";
import { errorMessage, type Result } from "../errors.js";
import type { Logger } from "../log.js";
import { createDemuxer } from "../sandbox/boundary/streams.js";
import { startAttachedContainer, type AttachedContainer } from "../sandbox/docker.js";
import { imageFor } from "../sandbox/spec.js";
import { upstreamContainerSpec, type UpstreamContainerSpec } from "../sandbox/upstream-spec.js";
import { currentProcess, processTag } from "../state/process.js";
import { planContainedMounts, type ContainedMount } from "./contained-mounts.js";
import { MessageFramer } from "./message-framing.js";
import type { UpstreamTransport } from "./process-transport.js";
import { settlesWithin } from "./race-bounds.js";
import { StderrTail } from "./stderr-tail.js";

/** What a contained upstream needs besides its own `upstream:` keys. */
export interface ContainedUpstream {
  settings: ContainedSettings;
  command: readonly string[];
  /** The upstream's whole environment (upstreamEnv): nothing of pipgate's own is added. */
  env: Record<string, string>;
  /** The target environments' interpreters, by name: mounted read-only. */
  environments: Readonly<Record<string, string>>;
  /** The build sandbox's settings: the engine's socket, and the image and runtime a contained upstream defaults to. */
  sandbox: Pick<SandboxConfig, "docker_socket" | "image" | "runtime">;
  stateDir: string;
  maxMessageBytes: number;
}

/** Everything a contained upstream's container is made from, computed once per factory. */
export interface ContainedSetup {
  image: string;
  runtime: "runc" | "runsc";
  user: string;
  mounts: ContainedMount[];
}

/** How long creating, attaching and starting a container may take before the start counts as failed. */
const START_TIMEOUT_MS = 60_000;
/** How long the container gets to end after its stdin closes, and then after SIGTERM, before SIGKILL. */
const GRACE_MS = 1500;

/**
 * The image, runtime, user and mounts of a contained upstream. The image defaults to the build sandbox's
 * for the upstream interpreter's Python (or the first environment's when the upstream is no python); the
 * user is the one running pipgate, so what the upstream writes in its working directory belongs to the
 * operator, and a read-only mount stays read-only whoever the user is (the mount refuses the write, and
 * no capability is left that could lift that).
 */
export async function containedSetup(upstream: ContainedUpstream): Promise<Result<ContainedSetup>> {
  const plan = await planContainedMounts({
    settings: upstream.settings,
    command: upstream.command,
    environments: upstream.environments,
    guard: { stateDir: upstream.stateDir, dockerSocket: upstream.sandbox.docker_socket },
  });
  if (!plan.ok) return plan;
  const configured = upstream.settings.image ?? upstream.sandbox.image;
  if (configured === undefined && plan.value.pythonVersion === undefined) {
    return { ok: false, error: "no interpreter to choose the image by: set upstream.sandbox.image (or upstream.sandbox.python)" };
  }
  const image = configured ?? imageFor(plan.value.pythonVersion ?? "", undefined);
  const uid = process.getuid?.() ?? 65534;
  const gid = process.getgid?.() ?? 65534;
  return { ok: true, value: { image, runtime: upstream.settings.runtime ?? upstream.sandbox.runtime, user: `${uid}:${gid}`, mounts: plan.value.mounts } };
}

/**
 * One contained upstream per call, in a container of its own (see sandbox/upstream-spec.ts). The setup
 * (interpreters asked, mounts checked) is computed on the first start and kept; a failed one is computed
 * again on the next start, so a restart after the operator fixed the cause succeeds.
 */
export function containedTransportFactory(upstream: ContainedUpstream, log: Logger): () => UpstreamTransport {
  let setup: Promise<Result<ContainedSetup>> | undefined;
  const getSetup = () => {
    const pending = (setup ??= containedSetup(upstream));
    void pending.then((result) => {
      if (!result.ok && setup === pending) setup = undefined;
    });
    return pending;
  };
  return () => new ContainedTransport(upstream, getSetup, log);
}

/**
 * An MCP stdio client transport over a contained upstream's container: the same bounded framing and
 * stderr tail as ProcessTransport (MessageFramer, StderrTail), over Docker's demultiplexed attach
 * stream. The container's end is the transport's close, with its exit code in describeEnd(); close()
 * ends its stdin, then kills and removes the container, whatever the upstream started inside it.
 */
export class ContainedTransport implements UpstreamTransport {
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: (<T extends JSONRPCMessage>(message: T) => void) | undefined;

  private container: AttachedContainer | undefined;
  private starting: Promise<AttachedContainer | undefined> | undefined;
  private closing = false;
  private end: string | undefined;
  private readonly stderr = new StderrTail();
  private readonly framer: MessageFramer;
  private readonly demux: (chunk: Buffer) => void;

  constructor(
    private readonly upstream: ContainedUpstream,
    private readonly setup: () => Promise<Result<ContainedSetup>>,
    private readonly log: Logger,
  ) {
    this.framer = new MessageFramer(upstream.maxMessageBytes, {
      message: (message) => this.onmessage?.(message),
      error: (error) => this.onerror?.(error),
      overflow: (reason) => {
        void this.container?.kill("SIGKILL");
        this.onerror?.(new Error(`the upstream server ${reason}`));
      },
    });
    this.demux = createDemuxer((stream, bytes) => {
      if (stream === 1) this.framer.push(bytes);
      else if (stream === 2) this.stderr.push(bytes);
    });
  }

  /** Containers have no host pid the gateway could signal. */
  readonly pid = undefined;

  /** The running container's id, for tests and logs. */
  get containerId(): string | undefined {
    return this.container?.id;
  }

  describeEnd(): string | undefined {
    return this.end;
  }

  async start(): Promise<void> {
    if (this.starting !== undefined) throw new Error("ContainedTransport already started");
    let settle: (container: AttachedContainer | undefined) => void = () => undefined;
    this.starting = new Promise((resolve) => (settle = resolve));
    try {
      const container = await this.launch();
      settle(container);
      this.container = container;
      void container.ended.then(({ exitCode, oomKilled }) => this.ended(exitCode, oomKilled));
    } catch (error) {
      settle(undefined);
      this.end ??= `could not be started in its container (${errorMessage(error)})`;
      throw error instanceof Error ? error : new Error(errorMessage(error));
    }
  }

  private async launch(): Promise<AttachedContainer> {
    const setup = await this.setup();
    if (!setup.ok) throw new Error(setup.error);
    if (this.closing) throw new Error("the upstream session closed while its container was being set up");
    const broker = await currentProcess();
    const spec: UpstreamContainerSpec = upstreamContainerSpec({
      image: setup.value.image,
      runtime: setup.value.runtime,
      argv: this.upstream.command,
      env: this.upstream.env,
      user: setup.value.user,
      workdir: this.upstream.settings.workdir,
      mounts: setup.value.mounts.map((mount) => ({ source: mount.source, target: mount.target, readOnly: mount.mode === "ro" })),
      limits: this.upstream.settings,
      owner: { stateDir: this.upstream.stateDir, broker: processTag(broker), host: hostname() },
    });
    const pending = startAttachedContainer(this.upstream.sandbox.docker_socket, spec, (chunk) => this.demux(chunk), this.log);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), START_TIMEOUT_MS);
      timer.unref();
    });
    let outcome: AttachedContainer | "timeout";
    try {
      outcome = await Promise.race([pending, timedOut]);
    } catch (error) {
      throw new Error(startHint(errorMessage(error), spec.image));
    } finally {
      clearTimeout(timer);
    }
    if (outcome === "timeout") {
      void pending.then(
        (late) => late.remove(),
        () => undefined,
      );
      throw new Error(`the Docker engine did not start the container within ${START_TIMEOUT_MS / 1000} s`);
    }
    if (this.closing) {
      await outcome.remove();
      throw new Error("the upstream session closed while its container was starting");
    }
    return outcome;
  }

  private ended(exitCode: number | null, oomKilled: boolean): void {
    const tail = this.stderr.summary();
    const how = [exitCode === null ? "no exit code" : `code ${exitCode}`, ...(oomKilled ? ["out of memory: upstream.sandbox.memory_mb"] : [])].join(", ");
    this.end ??= this.framer.stopped ?? `exited in its container (${how}${tail === "" ? "" : `, last stderr: ${tail}`})`;
    this.framer.stop(this.end);
    void this.container?.remove();
    this.onclose?.();
  }

  send(message: JSONRPCMessage): Promise<void> {
    const container = this.container;
    if (container === undefined || this.end !== undefined) return Promise.reject(new Error("the upstream server is not running"));
    return container.write(serializeMessage(message));
  }

  /** Ends the upstream: stdin closed, then SIGTERM, then SIGKILL; resolves once the container is removed. */
  async close(): Promise<void> {
    this.closing = true;
    const container = this.container ?? (await this.starting);
    if (container === undefined) return;
    if (this.end === undefined) {
      container.endInput();
      if (!(await settlesWithin(container.ended, GRACE_MS))) {
        await container.kill("SIGTERM");
        if (!(await settlesWithin(container.ended, GRACE_MS))) await container.kill("SIGKILL");
      }
    }
    await container.remove();
    await container.ended;
  }
}

/** The engine's error, with what to do about the usual causes. */
function startHint(message: string, image: string): string {
  if (/no such image/i.test(message)) return `${message}: build it with pipgate sandbox build-image, or set upstream.sandbox.image`;
  if (/unknown runtime/i.test(message)) return `${message}: register the runtime with the Docker engine, or set upstream.sandbox.runtime`;
  if (/ENOENT|ECONNREFUSED|connect/i.test(message) && !/image/i.test(message))
    return `cannot reach the Docker engine (${message}); start dockerd (scripts/setup-host.sh) (image ${image})`;
  return message;
}
