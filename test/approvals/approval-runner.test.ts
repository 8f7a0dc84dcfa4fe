import { Writable } from "node:stream";
import pino from "pino";
import { describe, expect, it } from "vitest";
import type { Approval } from "../../src/approvals/store.js";
import type { ApprovalQueue } from "../../src/pipeline/approval-queue.js";
import { startScheduledRunner } from "../../src/pipeline/approval-runner.js";

/** A logger whose lines the test reads. */
function capturedLogger() {
  const lines: Array<{ level: number; msg: string }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n").filter(Boolean)) lines.push(JSON.parse(line) as { level: number; msg: string });
      done();
    },
  });
  return { log: pino({ level: "info" }, sink), lines };
}

const ran = { id: "apr_x", state: "installed", identity: "agent", decidedBy: "maria", request: { requirement: "demo==1.0" } } as unknown as Approval;

describe("the fleet broker's runner of installs approved elsewhere", () => {
  it("runs a round at once and then every interval; a failing round is logged and the next one runs", async () => {
    let rounds = 0;
    const queue = {
      runScheduled: async () => {
        rounds += 1;
        if (rounds === 2) throw new Error("the state database is unreachable");
        return rounds === 3 ? [ran] : [];
      },
    } as unknown as ApprovalQueue;
    const { log, lines } = capturedLogger();
    const runner = startScheduledRunner(queue, log, 5);
    const deadline = Date.now() + 5_000;
    while (rounds < 4 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    await runner.stop();
    expect(rounds).toBeGreaterThanOrEqual(4);
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines.some((line) => line.level === 40 && line.msg.includes("could not run the installs other brokers approved"))).toBe(true);
    expect(lines.some((line) => line.msg === "ran demo==1.0 for agent, approved on another broker: installed")).toBe(true);
  });

  it("stop waits for the round in progress and runs no round after it", async () => {
    let release: () => void = () => undefined;
    let rounds = 0;
    let finished = false;
    const queue = {
      runScheduled: async () => {
        rounds += 1;
        await new Promise<void>((resolve) => (release = resolve));
        finished = true;
        return [];
      },
    } as unknown as ApprovalQueue;
    const runner = startScheduledRunner(queue, capturedLogger().log, 5);
    const stopped = runner.stop();
    let done = false;
    void stopped.then(() => (done = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(done).toBe(false);
    release();
    await stopped;
    expect(finished).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(rounds).toBe(1);
  });
});
