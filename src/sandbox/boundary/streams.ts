/**
 * The container's stdout and stderr, as Docker multiplexes them on an attach stream (an 8-byte header —
 * stream, 0, 0, 0, big-endian length — before each frame), consumed with fixed memory whatever the
 * build writes: a ring of the last bytes of each stream for messages, a cap on line length and on the
 * number of progress events, and a cap on the total after which the container must be stopped.
 */
import { ByteTail } from "./tail.js";

/** Bounds on what the broker keeps of a container's output; every one is a fixed amount of memory. */
export interface StreamLimits {
  /** Bytes of each stream's tail kept for messages and diagnostics. */
  tailBytes: number;
  /** A longer line is not an event; it still counts toward the total and the tail. */
  maxLineBytes: number;
  /** Progress events delivered; later ones are counted and dropped. */
  maxEvents: number;
  /** Bytes of both streams together; past it `onOverflow` fires once. */
  maxTotalBytes: number;
}

export const DEFAULT_STREAM_LIMITS: StreamLimits = {
  tailBytes: 256 * 1024,
  maxLineBytes: 64 * 1024,
  maxEvents: 1000,
  maxTotalBytes: 32 * 1024 * 1024,
};

/** What was kept of the output when the container ended. */
export interface StreamSummary {
  stdoutTail: string;
  stderrTail: string;
  totalBytes: number;
  events: number;
  droppedEvents: number;
  longLines: number;
  overflowed: boolean;
}

export interface ContainerStreams {
  /** Feed raw bytes of the multiplexed attach stream, in order. */
  write(chunk: Buffer): void;
  summary(): StreamSummary;
}

const EVENT_PREFIX = "@@pipgate ";
const HEADER_SIZE = 8;

/**
 * Splits Docker's multiplexed attach stream into its frames' payloads, in fixed memory: a frame's
 * payload is handed on as it arrives (never gathered), so a header claiming 4 GB costs nothing.
 * Stream 1 is stdout, 2 stderr; the caller decides what to keep.
 */
export function createDemuxer(onPayload: (stream: number, bytes: Buffer) => void): (chunk: Buffer) => void {
  // The header being read, then how much of the current frame's payload is left.
  const header = Buffer.alloc(HEADER_SIZE);
  let headerFill = 0;
  let stream = 0;
  let remaining = 0;
  return (chunk) => {
    let offset = 0;
    while (offset < chunk.length) {
      if (remaining === 0) {
        const take = Math.min(HEADER_SIZE - headerFill, chunk.length - offset);
        chunk.copy(header, headerFill, offset, offset + take);
        headerFill += take;
        offset += take;
        if (headerFill < HEADER_SIZE) return;
        stream = header[0]!;
        remaining = header.readUInt32BE(4);
        headerFill = 0;
        continue;
      }
      const take = Math.min(remaining, chunk.length - offset);
      onPayload(stream, chunk.subarray(offset, offset + take));
      remaining -= take;
      offset += take;
    }
  };
}

/** A progress line from the driver: `@@pipgate {json}` holding an object; anything else is not an event. */
export function parseDriverEvent(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith(EVENT_PREFIX)) return undefined;
  try {
    const value: unknown = JSON.parse(line.slice(EVENT_PREFIX.length));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Splits one stream into lines of at most `maxLine` bytes; longer lines are reported as too long. */
class Lines {
  private pending: Buffer[] = [];
  private pendingSize = 0;
  private overlong = false;
  constructor(
    private readonly maxLine: number,
    private readonly onLine: (line: Buffer) => void,
    private readonly onLongLine: () => void,
  ) {}

  push(bytes: Buffer): void {
    let start = 0;
    for (let newline = bytes.indexOf(10, start); newline >= 0; newline = bytes.indexOf(10, start)) {
      this.append(bytes.subarray(start, newline));
      if (this.overlong) this.onLongLine();
      else this.onLine(Buffer.concat(this.pending));
      this.pending = [];
      this.pendingSize = 0;
      this.overlong = false;
      start = newline + 1;
    }
    this.append(bytes.subarray(start));
  }

  private append(bytes: Buffer): void {
    if (this.overlong || bytes.length === 0) return;
    if (this.pendingSize + bytes.length > this.maxLine) {
      this.overlong = true;
      this.pending = [];
      this.pendingSize = 0;
      return;
    }
    this.pending.push(Buffer.from(bytes));
    this.pendingSize += bytes.length;
  }
}

/**
 * Consumes a multiplexed attach stream. `onEvent` sees at most `maxEvents` driver events from stdout;
 * `onOverflow` fires once when the total passes `maxTotalBytes` (the caller kills the container), and
 * nothing more is kept or parsed after it.
 */
export function createContainerStreams(
  limits: StreamLimits,
  hooks: { onEvent?: (event: Record<string, unknown>) => void; onOverflow?: () => void } = {},
): ContainerStreams {
  const tails = { 1: new ByteTail(limits.tailBytes), 2: new ByteTail(limits.tailBytes) };
  let totalBytes = 0;
  let events = 0;
  let droppedEvents = 0;
  let longLines = 0;
  let overflowed = false;
  const stdoutLines = new Lines(
    limits.maxLineBytes,
    (line) => {
      if (line.length < EVENT_PREFIX.length) return;
      const event = parseDriverEvent(line.toString("utf8"));
      if (event === undefined) return;
      if (events >= limits.maxEvents) {
        droppedEvents += 1;
        return;
      }
      events += 1;
      hooks.onEvent?.(event);
    },
    () => (longLines += 1),
  );
  const stderrLines = new Lines(
    limits.maxLineBytes,
    () => undefined,
    () => (longLines += 1),
  );

  const demux = createDemuxer((stream, bytes) => {
    if (overflowed || (stream !== 1 && stream !== 2)) return; // stdin echo or an unknown stream: not kept
    totalBytes += bytes.length;
    if (totalBytes > limits.maxTotalBytes) {
      overflowed = true;
      hooks.onOverflow?.();
      return;
    }
    tails[stream].push(bytes);
    (stream === 1 ? stdoutLines : stderrLines).push(bytes);
  });

  return {
    write(chunk) {
      if (!overflowed) demux(chunk);
    },
    summary() {
      return {
        stdoutTail: tails[1].text(),
        stderrTail: tails[2].text(),
        totalBytes,
        events,
        droppedEvents,
        longLines,
        overflowed,
      };
    },
  };
}
