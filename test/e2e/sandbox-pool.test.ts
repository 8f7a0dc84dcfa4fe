import { execa } from "execa";
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PooledRunner } from "../../src/sandbox/pool.js";
import { buildWheel } from "../fixtures/dists.js";
import { createWorkspace, REPO_ROOT, requireDocker, type Workspace } from "../support/harness.js";
import { openInProcess, resultText, type ToolResult } from "../support/in-process.js";

const allowlist = { packages: { "pool-one": "*", "pool-two": "*" } };
const projects = ["pool-one", "pool-two"].map((name) => ({ name, releases: [{ version: "1.0", dists: [buildWheel({ name, version: "1.0" })] }] }));

/** The engine's ids of the containers with these labels, running or not. */
async function containers(labels: Record<string, string>): Promise<string[]> {
  const filters = Object.entries(labels).flatMap(([key, value]) => ["--filter", `label=${key}=${value}`]);
  const { stdout } = await execa("docker", ["ps", "-a", "-q", "--no-trunc", ...filters]);
  return stdout.split("\n").filter((line) => line.trim() !== "");
}

async function exists(id: string): Promise<boolean> {
  return (await execa("docker", ["inspect", id], { reject: false })).exitCode === 0;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe("the warm pool of single-use build containers", () => {
  let ws: Workspace;

  beforeAll(async () => {
    await requireDocker();
    ws = await createWorkspace({
      projects,
      environments: { a: { allowlist }, b: { allowlist }, c: { allowlist } },
      config: { sandbox: { pool: { size: 1 } } },
    });
  });

  afterAll(async () => {
    await ws?.close();
  });

  it("gives two requests two containers, each pooled, and the first is gone once its request is done", async () => {
    const server = await openInProcess(ws.configPath);
    try {
      const pool = server.broker.sandbox as PooledRunner;
      const install = async (name: string, environment: string) => {
        await pool.ready();
        const result = (await server.client.callTool({ name: "install_package", arguments: { package_name: name, environment } }, undefined, {
          timeout: 120_000,
        })) as ToolResult;
        expect(resultText(result)).toContain(`installed ${name} 1.0`);
        const record = (await server.broker.audit.list({ environment })).at(-1);
        return record?.sandbox as { containerId?: string; pooled?: boolean; timings?: Record<string, unknown> } | undefined;
      };
      const first = await install("pool-one", "a");
      expect(first?.pooled).toBe(true);
      expect(first?.timings).toMatchObject({ createMs: 0 });
      expect(await exists(first!.containerId!)).toBe(false);
      const second = await install("pool-two", "b");
      expect(second?.pooled).toBe(true);
      expect(second?.containerId).not.toBe(first?.containerId);
      expect(await exists(second!.containerId!)).toBe(false);
      // The pool refilled: one ready container, made after the second request, not either of theirs.
      await pool.ready();
      const ready = await containers({ "org.pipgate.role": "pool", "org.pipgate.state-dir": ws.stateDir });
      expect(ready).toHaveLength(1);
      expect(ready).not.toContain(first?.containerId);
      expect(ready).not.toContain(second?.containerId);
    } finally {
      await server.close();
      await server.broker.sandbox.close?.();
    }
    expect(await containers({ "org.pipgate.role": "pool", "org.pipgate.state-dir": ws.stateDir })).toEqual([]);
  });

  it("removes a killed broker's pool containers when the next broker starts", async () => {
    const child = spawn(process.execPath, [`${REPO_ROOT}dist/src/cli/bin.js`, "serve", "--config", ws.configPath], { stdio: ["pipe", "ignore", "ignore"] });
    try {
      const left = await until("the killed broker's pool container", async () => {
        const ids = await containers({ "org.pipgate.role": "pool", "org.pipgate.state-dir": ws.stateDir });
        return ids.length > 0 ? ids : undefined;
      });
      child.kill("SIGKILL");
      await new Promise((resolve) => child.once("exit", resolve));
      expect(await exists(left[0]!)).toBe(true);
      const server = await openInProcess(ws.configPath);
      try {
        for (const id of left) expect(await exists(id)).toBe(false);
        const reaped = (await server.broker.audit.list({})).filter((record) => record.outcome === "reaped");
        expect(reaped.map((record) => (record.arguments as { container?: string }).container)).toEqual(expect.arrayContaining(left));
      } finally {
        await server.close();
        await server.broker.sandbox.close?.();
      }
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("with the pool off, a request runs in a fresh container and no pool container is made", async () => {
    const off = await createWorkspace({ projects, environments: { a: { allowlist } } });
    const server = await openInProcess(off.configPath);
    try {
      expect(server.broker.sandbox.claim).toBeUndefined();
      const result = (await server.client.callTool({ name: "install_package", arguments: { package_name: "pool-one", environment: "a" } }, undefined, {
        timeout: 120_000,
      })) as ToolResult;
      expect(resultText(result)).toContain("installed pool-one 1.0");
      const sandbox = (await server.broker.audit.list({ environment: "a" })).at(-1)?.sandbox as { pooled?: boolean; timings?: { createMs?: number } };
      expect(sandbox.pooled).toBe(false);
      expect(sandbox.timings?.createMs).toBeGreaterThan(0);
      expect(await containers({ "org.pipgate.role": "pool", "org.pipgate.state-dir": off.stateDir })).toEqual([]);
    } finally {
      await server.close();
      await off.close();
    }
  });
});
