import { deserializeMessage } from "@modelcontextprotocol/sdk/shared/stdio.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";

export interface FramingHooks {
  message(message: JSONRPCMessage): void;
  /** A line that is not a JSON-RPC message: reported, and the stream goes on. */
  error(error: Error): void;
  /** A message longer than the cap: nothing more is parsed; the owner ends the upstream. */
  overflow(reason: string): void;
}

/**
 * The upstream's stdout as newline-delimited JSON-RPC messages, with a byte cap per message: a line
 * longer than `maxMessageBytes` (or a partial line past it) stops the parsing for good, and the
 * transport that owns the stream ends the upstream. One framing for every stdio transport, a process
 * or a container, so both refuse the same things in the same words.
 */
export class MessageFramer {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private stoppedWith: string | undefined;

  constructor(
    private readonly maxMessageBytes: number,
    private readonly hooks: FramingHooks,
  ) {}

  /** Why the framing stopped (an oversized message), or undefined while it runs. */
  get stopped(): string | undefined {
    return this.stoppedWith;
  }

  /** Stops parsing without an overflow (the owner is closing the stream). */
  stop(reason: string): void {
    this.stoppedWith ??= reason;
    this.pending = [];
    this.pendingBytes = 0;
  }

  push(chunk: Buffer): void {
    if (this.stoppedWith !== undefined) return;
    let rest = chunk;
    for (let newline = rest.indexOf(0x0a); newline !== -1; newline = rest.indexOf(0x0a)) {
      const lineBytes = this.pendingBytes + newline;
      if (lineBytes > this.maxMessageBytes) return this.overflow(lineBytes);
      const line = Buffer.concat([...this.pending, rest.subarray(0, newline)]);
      this.pending = [];
      this.pendingBytes = 0;
      rest = rest.subarray(newline + 1);
      this.deliver(line);
      if (this.stoppedWith !== undefined) return;
    }
    if (rest.length === 0) return;
    this.pendingBytes += rest.length;
    if (this.pendingBytes > this.maxMessageBytes) return this.overflow(this.pendingBytes);
    this.pending.push(Buffer.from(rest));
  }

  private deliver(line: Buffer): void {
    const text = line.toString("utf8").replace(/\r$/, "");
    if (text.trim() === "") return;
    let message: JSONRPCMessage;
    try {
      message = deserializeMessage(text);
    } catch (error) {
      this.hooks.error(
        new Error(
          `the upstream wrote a line to stdout that is not a JSON-RPC message (${text.length} characters): ${error instanceof Error ? error.message.slice(0, 200) : "parse error"}`,
        ),
      );
      return;
    }
    this.hooks.message(message);
  }

  private overflow(bytes: number): void {
    const limitKb = Math.floor(this.maxMessageBytes / 1024);
    const reason = `was stopped: it sent a message of more than ${limitKb} KB (${bytes} bytes read so far; the limit is upstream.max_message_kb)`;
    this.stop(reason);
    this.hooks.overflow(reason);
  }
}
