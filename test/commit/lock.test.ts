import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commitWheels, createLockQueue, withEnvironmentLock } from "../../src/commit/index.js";
import { openMemoryDb } from "../../src/state/db.js";
import { cloneVenv, makeTemplateVenv, removeAll, runPython, scratch, verifiedWheel } from "./helpers.js";

const VITE_NODE = join(import.meta.dirname, "..", "..", "node_modules", ".bin", "vite-node");
const CHILD = join(import.meta.dirname, "broker-child.ts");

let dir: string;
beforeAll(async () => {
  dir = await scratch("lock");
});
afterAll(async () => {
  await removeAll(dir);
});

/** Resolves once `count` parties arrived; rejects if they never do (which would mean a deadlock). */
function barrier(count: number) {
  let arrived = 0;
  let open = (): void => {};
  const opened = new Promise<void>((resolve) => (open = resolve));
  return async (): Promise<void> => {
    arrived += 1;
    if (arrived >= count) open();
    await Promise.race([opened, sleep(90_000).then(() => Promise.reject(new Error("the other environment never ran in parallel")))]);
  };
}

describe("withEnvironmentLock", () => {
  it("lets one holder in at a time within a process, with and without the queue", async () => {
    for (const queue of [undefined, createLockQueue()]) {
      const stateDir = join(dir, `inproc-${queue === undefined ? "poll" : "queue"}`);
      let holders = 0;
      let most = 0;
      const order: number[] = [];
      await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          withEnvironmentLock(
            stateDir,
            "env",
            async () => {
              holders += 1;
              most = Math.max(most, holders);
              await sleep(5);
              order.push(i);
              holders -= 1;
            },
            { pollMs: 5, ...(queue === undefined ? {} : { queue }) },
          ),
        ),
      );
      expect(most).toBe(1);
      expect(order.sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      if (queue !== undefined) expect(queue.tails.size).toBe(0);
      expect(existsSync(join(stateDir, "locks", "env.lock"))).toBe(false);
    }
  });

  it("releases the lock when the holder throws", async () => {
    const stateDir = join(dir, "throws");
    await expect(withEnvironmentLock(stateDir, "env", () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await withEnvironmentLock(stateDir, "env", () => Promise.resolve("again"), { timeoutMs: 5_000 })).toBe("again");
  });

  it("refuses environment names that are paths", async () => {
    await expect(withEnvironmentLock(dir, "../etc", () => Promise.resolve())).rejects.toThrow(/not an environment name/);
  });

  it("waits for a live holder in another process and takes the lock over once it is SIGKILLed", async () => {
    const stateDir = join(dir, "cross");
    const marker = join(dir, "cross-marker");
    const child = execa(VITE_NODE, [CHILD, JSON.stringify({ mode: "hold-lock", stateDir, environment: "env", marker })], {
      reject: false,
    });
    while (!existsSync(marker) || (await readFile(marker, "utf8")) === "") {
      if (child.exitCode !== null) throw new Error("lock holder exited early");
      await sleep(20);
    }
    await expect(withEnvironmentLock(stateDir, "env", () => Promise.resolve(), { timeoutMs: 300 })).rejects.toThrow(/held by pid/);
    const controller = new AbortController();
    const waiting = withEnvironmentLock(stateDir, "env", () => Promise.resolve(), { signal: controller.signal });
    controller.abort();
    await expect(waiting).rejects.toThrow(/stopped waiting/);

    child.kill("SIGKILL");
    await child;
    expect(await withEnvironmentLock(stateDir, "env", () => Promise.resolve("mine"), { timeoutMs: 30_000 })).toBe("mine");
  });

  it("takes over a lock whose pid is dead or now belongs to another process", async () => {
    const stateDir = join(dir, "stale");
    await mkdir(join(stateDir, "locks"), { recursive: true });
    const exited = execa("true");
    const deadPid = exited.pid;
    await exited;
    const lock = join(stateDir, "locks", "env.lock");
    await writeFile(lock, JSON.stringify({ pid: deadPid, start: null, host: hostname(), token: "dead" }));
    expect(await withEnvironmentLock(stateDir, "env", () => Promise.resolve(1), { timeoutMs: 10_000 })).toBe(1);
    // Our own pid, but with another start time: the pid was reused, the owner is gone.
    await writeFile(lock, JSON.stringify({ pid: process.pid, start: "1", host: hostname(), token: "reused" }));
    expect(await withEnvironmentLock(stateDir, "env", () => Promise.resolve(2), { timeoutMs: 10_000 })).toBe(2);
  });
});

describe("commits and the environment lock", () => {
  it("serialises two commits to one environment while another environment proceeds in parallel", async () => {
    const template = await makeTemplateVenv(dir);
    const one = await cloneVenv(template, join(dir, "venv-one"));
    const two = await cloneVenv(template, join(dir, "venv-two"));
    const stateDir = join(dir, "state-commits");
    const db = openMemoryDb();
    const lockQueue = createLockQueue();
    const events: string[] = [];
    const meet = barrier(2);
    let firstInOne = true;
    const commit = (environment: string, python: string, name: string) => async () => {
      const wheel = await verifiedWheel(join(dir, `w-${name}`), { name, version: "1.0" });
      return commitWheels(
        db,
        {
          installer: "pip",
          environment,
          python,
          wheels: [wheel],
          auditId: name,
          stateDir,
          faults: {
            beforePip: async () => {
              events.push(`${environment}:${name}:start`);
              const first = environment === "one" && firstInOne;
              if (environment === "one") firstInOne = false;
              if (environment === "two" || first) await meet();
            },
            afterPip: () => void events.push(`${environment}:${name}:end`),
          },
        },
        undefined,
        { lockQueue },
      );
    };
    const results = await Promise.all([commit("one", one, "pkg-a")(), commit("one", one, "pkg-b")(), commit("two", two, "pkg-c")()]);
    db.close();
    expect(results.map((r) => r.ok)).toEqual([true, true, true]);
    const inOne = events.filter((e) => e.startsWith("one:")).map((e) => e.split(":").slice(1).join(":"));
    // No interleaving: each commit to "one" ends before the other starts.
    expect([
      ["pkg-a:start", "pkg-a:end", "pkg-b:start", "pkg-b:end"],
      ["pkg-b:start", "pkg-b:end", "pkg-a:start", "pkg-a:end"],
    ]).toContainEqual(inOne);
    expect(await runPython(one, "import pkg_a, pkg_b; print('ok')")).toBe("ok");
    expect(await runPython(two, "import pkg_c; print('ok')")).toBe("ok");
  }, 300_000);
});
