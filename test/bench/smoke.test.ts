import { describe, expect, it } from "vitest";
import { agentScript, AGENTS } from "../../bench/agents.js";
import { barePipArgs } from "../../bench/bare-pip.js";
import { benchAllowlist, benchProjects } from "../../bench/catalogue.js";
import { parseProcStatus, readProcessMemory } from "../../bench/memory.js";
import { boundedAll } from "../../bench/refusals.js";
import { formatLines, gapNote, verdict } from "../../bench/report.js";
import { stageTimes, summarizeStages } from "../../bench/stages.js";
import { pairedRatios, percentile, summarize } from "../../bench/stats.js";

// The bench's building blocks, without running the bench: its figures are only as good as these.
describe("bench building blocks", () => {
  it("summarises with medians and nearest-rank percentiles", () => {
    expect(summarize([5, 1, 3])).toEqual({ n: 3, median: 3, min: 1, max: 5 });
    expect(summarize([4, 1, 3, 2]).median).toBe(2.5);
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 99)).toBe(99);
    expect(pairedRatios([2, 3, 9], [1, 0, 3])).toEqual([2, 3]);
  });

  it("reads VmRSS and VmHWM, from text and from a live process", () => {
    expect(parseProcStatus("Name:\tnode\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n")).toEqual({
      ok: true,
      value: { rssBytes: 1024 * 1024, hwmBytes: 2048 * 1024 },
    });
    expect(parseProcStatus("Name:\tnode\n").ok).toBe(false);
    const own = readProcessMemory(process.pid);
    expect(own.ok && own.value.hwmBytes >= own.value.rssBytes && own.value.rssBytes > 0).toBe(true);
  });

  it("splits an audit record's time into stages, and tolerates a stage that did not run", () => {
    expect(stageTimes({ durationMs: 1000, sandbox: { durationMs: 600 }, commit: { durationMs: 300 } })).toEqual({
      totalMs: 1000,
      sandboxMs: 600,
      commitMs: 300,
      otherMs: 100,
      split: {},
    });
    expect(stageTimes({ durationMs: 200, sandbox: undefined, commit: { durationMs: 150, installed: [] } })).toEqual({
      totalMs: 200,
      sandboxMs: undefined,
      commitMs: 150,
      otherMs: 50,
      split: {},
    });
    // The sandbox's own split, as the runner records it, with the verification after the container.
    expect(
      stageTimes({
        durationMs: 900,
        sandbox: {
          durationMs: 500,
          pooled: true,
          verifyMs: 40,
          timings: { createMs: 10, startMs: 5, bootMs: 20, pipMs: 400, exitMs: 1, readMs: 3, teardownMs: 2 },
        },
        commit: undefined,
      }),
    ).toEqual({
      totalMs: 900,
      sandboxMs: 500,
      commitMs: undefined,
      otherMs: 400,
      split: { createMs: 10, startMs: 5, bootMs: 20, pipMs: 400, exitMs: 1, readMs: 3, teardownMs: 2, verifyMs: 40 },
      pooled: true,
    });
    // The commit's split, as commitWheels records it; a part it did not reach is absent, an unknown one ignored.
    const committed = stageTimes({
      durationMs: 700,
      sandbox: undefined,
      commit: {
        durationMs: 600,
        installed: [],
        timings: { stageMs: 20, lockMs: 0, inspectMs: 80, planMs: 100, backupMs: 30, writeMs: 300, finishMs: 70, extraMs: 5 },
      },
    });
    expect(committed?.commitSplit).toEqual({ stageMs: 20, lockMs: 0, inspectMs: 80, planMs: 100, backupMs: 30, writeMs: 300, finishMs: 70 });
    expect(summarizeStages(committed === undefined ? [] : [committed]).commitSplit.writeMs?.median).toBe(300);
    expect(stageTimes({ durationMs: undefined, sandbox: undefined, commit: undefined })).toBeUndefined();
    const summary = summarizeStages([{ totalMs: 1000, sandboxMs: 600, commitMs: 300, otherMs: 100 }]);
    expect(gapNote("P1 cold", summary, 400, 2.0)).toContain("the sandbox run at 600 ms");
  });

  it("judges targets both ways and never passes an unmeasured figure", () => {
    expect(verdict(1.9, 2, "at-most")).toBe(true);
    expect(verdict(2100, 2000, "at-least")).toBe(true);
    expect(verdict(Number.NaN, 2, "at-most")).toBe(false);
    expect(formatLines([{ name: "P1", value: "1.00×", target: "≤ 2.0×", pass: false }])[0]).toMatch(/MISS$/);
  });

  it("runs every task exactly once with bounded concurrency", async () => {
    let inFlight = 0;
    let most = 0;
    const seen: number[] = [];
    await boundedAll(50, 4, async (index) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      seen.push(index);
      inFlight -= 1;
    });
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(most).toBe(4);
  });

  it("asks only for what the allowlist and the index hold; the baseline pip gets the cache flags chosen", () => {
    const allowed = Object.keys(benchAllowlist()["packages"] as Record<string, string>);
    const published = benchProjects().map((project) => project.name);
    for (let agent = 0; agent < AGENTS; agent += 1) {
      for (const call of agentScript(agent)) {
        const name = call.args["package_name"];
        if (typeof name === "string") expect(allowed).toContain(name);
      }
    }
    expect(published.filter((name) => !allowed.includes(name))).toEqual([]);
    expect(benchProjects().find((project) => project.name === "parchment-build")?.releases[0]?.dists[0]?.kind).toBe("sdist");
    expect(barePipArgs("http://127.0.0.1:1/simple/", "quillmark==1.4.0", { kind: "none" })).toContain("--no-cache-dir");
    expect(barePipArgs("http://127.0.0.1:1/simple/", "x", { kind: "dir", path: "/c" })).toEqual(expect.arrayContaining(["--cache-dir", "/c"]));
  });
});
