import { spawn, type ChildProcess } from "node:child_process";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { serializeMessage } from "@modelcontextprotocol/sdk/shared/stdio.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { MessageFramer } from "./message-framing.js";
import { settlesWithin } from "./race-bounds.js";
import { StderrTail } from "./stderr-tail.js";

/** What the gateway needs to know of a transport beyond the SDK's interface, when it can say. */
export interface UpstreamTransport extends Transport {
  /** The upstream's process id while it runs (stdio), for tests and logs. */
  readonly pid?: number | undefined;
  /** Why the upstream went away, as a phrase ("exited (code 3, last stderr: …)"); undefined while it runs. */
  describeEnd?(): string | undefined;
}

export interface ProcessSpec {
  command: string;
  args: readonly string[];
  /** The whole environment of the process: nothing of pipgate's own is added. */
  env: Record<string, string>;
  cwd?: string | undefined;
  /** The largest single newline-delimited message accepted on stdout, in bytes. */
  maxMessageBytes: number;
  stderrTailBytes?: number;
}

/** How long a process gets to exit after its stdin closes, and then after SIGTERM, before SIGKILL. */
const GRACE_MS = 1500;

/**
 * An MCP stdio client transport over a child process that pipgate owns. The SDK's StdioClientTransport
 * does not fit a hostile upstream: it drops the exit code (needed to say why a call failed), cannot put
 * the server in its own process group (so the code it runs would outlive it), passes stderr through or
 * unbounded, and caps its read buffer rather than a message. This one spawns the server as the leader of
 * a new process group, frames stdout with a per-message byte cap (MessageFramer: a longer line kills
 * the group and ends the transport with a clear reason), keeps a bounded stderr tail, and on close signals the
 * whole group: stdin closed, then SIGTERM, then SIGKILL.
 */
export class ProcessTransport implements UpstreamTransport {
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: (<T extends JSONRPCMessage>(message: T) => void) | undefined;

  private child: ChildProcess | undefined;
  private readonly stderr: StderrTail;
  private readonly framer: MessageFramer;
  private end: string | undefined;
  private exited: Promise<void> | undefined;

  constructor(private readonly spec: ProcessSpec) {
    this.stderr = new StderrTail(spec.stderrTailBytes);
    this.framer = new MessageFramer(spec.maxMessageBytes, {
      message: (message) => this.onmessage?.(message),
      error: (error) => this.onerror?.(error),
      overflow: (reason) => {
        this.child?.stdout?.destroy();
        this.signalGroup("SIGKILL");
        this.onerror?.(new Error(`the upstream server ${reason}`));
      },
    });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  describeEnd(): string | undefined {
    return this.end;
  }

  /** The last of the upstream's stderr, one line. */
  stderrSummary(max?: number): string {
    return this.stderr.summary(max);
  }

  start(): Promise<void> {
    if (this.child !== undefined) return Promise.reject(new Error("ProcessTransport already started"));
    return new Promise((resolve, reject) => {
      const child = spawn(this.spec.command, [...this.spec.args], {
        env: this.spec.env,
        cwd: this.spec.cwd,
        stdio: ["pipe", "pipe", "pipe"],
        detached: true, // its own process group, so close() reaches everything it started
        shell: false,
      });
      this.child = child;
      this.exited = new Promise((done) => child.once("close", () => done()));
      child.once("error", (error) => {
        this.end ??= `could not be started (${error.message})`;
        reject(error);
        this.onerror?.(error);
      });
      child.once("spawn", () => resolve());
      child.once("close", (code, signal) => {
        const tail = this.stderr.summary();
        const how = code !== null ? `code ${code}` : `signal ${signal ?? "unknown"}`;
        this.end ??= this.framer.stopped ?? `exited (${how}${tail === "" ? "" : `, last stderr: ${tail}`})`;
        this.onclose?.();
      });
      child.stdin?.on("error", (error) => this.onerror?.(error));
      child.stdout?.on("error", (error) => this.onerror?.(error));
      child.stdout?.on("data", (chunk: Buffer) => this.framer.push(chunk));
      child.stderr?.on("data", (chunk: Buffer) => this.stderr.push(chunk));
    });
  }

  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.child?.stdin;
    if (stdin === undefined || stdin === null || stdin.destroyed || this.end !== undefined)
      return Promise.reject(new Error("the upstream server is not running"));
    return new Promise((resolve) => {
      if (stdin.write(serializeMessage(message))) resolve();
      else stdin.once("drain", resolve);
    });
  }

  /** Ends the upstream and everything in its process group; resolves once the process is gone. */
  async close(): Promise<void> {
    const child = this.child;
    if (child === undefined || this.exited === undefined || child.pid === undefined) return;
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin?.end();
      if (!(await settlesWithin(this.exited, GRACE_MS))) {
        this.signalGroup("SIGTERM");
        if (!(await settlesWithin(this.exited, GRACE_MS))) this.signalGroup("SIGKILL");
      }
    }
    // The leader may be gone while what it started lives on in the group.
    this.signalGroup("SIGKILL");
    await this.exited;
  }

  private signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // the group is already gone
    }
  }
}
