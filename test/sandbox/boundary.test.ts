import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { createHash } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { readBounded } from "../../src/sandbox/boundary/read.js";
import { createContainerStreams, DEFAULT_STREAM_LIMITS } from "../../src/sandbox/boundary/streams.js";
import { createOutputSink } from "../../src/sandbox/boundary/uploads.js";

/** One frame of Docker's multiplexed attach stream. */
function frame(stream: 1 | 2, payload: string | Buffer): Buffer {
  const body = typeof payload === "string" ? Buffer.from(payload) : payload;
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

const dirs: string[] = [];
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), "pipgate-boundary-"));
  dirs.push(dir);
  return dir;
}
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

describe("the container's streams", () => {
  it("delivers driver events split across frames and chunks, and keeps stderr's tail", () => {
    const events: unknown[] = [];
    const streams = createContainerStreams(DEFAULT_STREAM_LIMITS, { onEvent: (event) => events.push(event) });
    const bytes = Buffer.concat([frame(1, '@@pipgate {"stage":"resol'), frame(2, "pip says hello\n"), frame(1, 'ving"}\nnoise\n@@pipgate {"stage":"done"}\n')]);
    for (let i = 0; i < bytes.length; i += 3) streams.write(bytes.subarray(i, i + 3)); // byte-sized pieces
    expect(events).toEqual([{ stage: "resolving" }, { stage: "done" }]);
    expect(streams.summary().stderrTail).toBe("pip says hello\n");
  });

  it("keeps only the tail, a bounded line and a bounded number of events, whatever is written", () => {
    const limits = { tailBytes: 1024, maxLineBytes: 256, maxEvents: 5, maxTotalBytes: 64 * 1024 * 1024 };
    let delivered = 0;
    const streams = createContainerStreams(limits, { onEvent: () => (delivered += 1) });
    const noNewline = Buffer.alloc(1024 * 1024, 0x61);
    for (let i = 0; i < 8; i += 1) streams.write(frame(1, noNewline)); // 8 MB without a newline
    streams.write(frame(1, "\n"));
    const eventLines = '@@pipgate {"stage":"resolving"}\n'.repeat(10_000);
    streams.write(frame(1, eventLines));
    const summary = streams.summary();
    expect(delivered).toBe(5);
    expect(summary.droppedEvents).toBe(10_000 - 5);
    expect(summary.longLines).toBe(1);
    expect(summary.stdoutTail.length).toBeLessThanOrEqual(1024);
    expect(summary.overflowed).toBe(false);
  });

  it("stops at the total cap and says so once", () => {
    let overflows = 0;
    const streams = createContainerStreams({ ...DEFAULT_STREAM_LIMITS, maxTotalBytes: 1000 }, { onOverflow: () => (overflows += 1) });
    for (let i = 0; i < 10; i += 1) streams.write(frame(2, Buffer.alloc(300, 0x62)));
    expect(overflows).toBe(1);
    expect(streams.summary().overflowed).toBe(true);
    expect(streams.summary().totalBytes).toBeLessThanOrEqual(1300);
  });
});

describe("the output sink", () => {
  const limits = { maxReportBytes: 1000, maxWheelBytes: 5000, maxTotalBytes: 8000, maxFiles: 4 };

  it("stores the report and wheels under its own names, hashed as they arrive", async () => {
    const dir = join(scratch(), "out");
    const sink = await createOutputSink(dir, limits);
    expect(await sink.receive("report.json", 2, Readable.from([Buffer.from("{}")]))).toEqual({ status: 201 });
    const wheel = Buffer.from("wheel bytes");
    expect(await sink.receive("wheels/demo-1.0-py3-none-any.whl", wheel.length, Readable.from([wheel]))).toEqual({ status: 201 });
    expect(readFileSync(sink.report()!.path, "utf8")).toBe("{}");
    const [stored] = sink.wheels();
    expect(stored!.sha256).toBe(createHash("sha256").update(wheel).digest("hex"));
    expect(readFileSync(stored!.path)).toEqual(wheel);
    expect(sink.refusal()).toBeUndefined();
  });

  it("refuses names that are not the report or a wheel filename, repeats, sizes past a cap and uploads after the end", async () => {
    const sink = await createOutputSink(join(scratch(), "out"), limits);
    const body = () => Readable.from([Buffer.from("x")]);
    expect((await sink.receive("../../etc/passwd", 1, body())).status).toBe(400);
    expect((await sink.receive("wheels/../x.whl", 1, body())).status).toBe(400);
    expect((await sink.receive("wheels/evil.sh", 1, body())).status).toBe(400);
    expect((await sink.receive("report.json", undefined, body())).status).toBe(411);
    expect((await sink.receive("report.json", 1001, body())).status).toBe(413);
    expect((await sink.receive("wheels/a-1-py3-none-any.whl", 5001, body())).status).toBe(413);
    expect((await sink.receive("report.json", 1, body())).status).toBe(201);
    expect((await sink.receive("report.json", 1, body())).status).toBe(409);
    sink.seal();
    expect((await sink.receive("wheels/b-1-py3-none-any.whl", 1, body())).status).toBe(409);
    expect(sink.refusal()).toContain("neither report.json nor");
    expect(sink.wheels()).toEqual([]);
  });

  it("refuses a body longer or shorter than it declared and keeps nothing of it", async () => {
    const sink = await createOutputSink(join(scratch(), "out"), limits);
    const longer = await sink.receive("wheels/a-1-py3-none-any.whl", 3, Readable.from([Buffer.from("abcdef")]));
    const shorter = await sink.receive("wheels/b-1-py3-none-any.whl", 30, Readable.from([Buffer.from("abc")]));
    expect(longer.status).toBe(400);
    expect(shorter.status).toBe(400);
    expect(sink.wheels()).toEqual([]);
  });

  it("keeps the total under its cap across files", async () => {
    const sink = await createOutputSink(join(scratch(), "out"), limits);
    const big = Buffer.alloc(4500);
    expect((await sink.receive("wheels/a-1-py3-none-any.whl", big.length, Readable.from([big]))).status).toBe(201);
    expect((await sink.receive("wheels/b-1-py3-none-any.whl", big.length, Readable.from([big]))).status).toBe(413);
  });
});

describe("reading a file that came out of a sandbox", () => {
  it("reads a regular file within its cap", async () => {
    const path = join(scratch(), "report.json");
    writeFileSync(path, "{}");
    expect(await readBounded(path, 10)).toEqual({ ok: true, value: Buffer.from("{}") });
  });

  it("refuses a symlink, a FIFO, a directory and a file over the cap, without blocking", async () => {
    const dir = scratch();
    writeFileSync(join(dir, "big"), "x".repeat(100));
    symlinkSync("/etc/hostname", join(dir, "link"));
    execFileSync("mkfifo", [join(dir, "fifo")]);
    const link = await readBounded(join(dir, "link"), 1000);
    const fifo = await readBounded(join(dir, "fifo"), 1000);
    const directory = await readBounded(dir, 1000);
    const big = await readBounded(join(dir, "big"), 10);
    expect(link.ok).toBe(false);
    expect(fifo).toEqual({ ok: false, error: `${join(dir, "fifo")} is not a regular file` });
    expect(directory.ok).toBe(false);
    expect(big.ok).toBe(false);
  });
});
