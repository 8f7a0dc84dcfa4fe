import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashToken } from "../../src/grants/tokens.js";
import { buildWheel } from "../fixtures/dists.js";
import {
  detachedWriterSdist,
  diskFillSdist,
  fifoReportSdist,
  forgedUploadSdist,
  sleepForeverSdist,
  stdoutFloodSdist,
  symlinkReportSdist,
  symlinkWheelSdist,
} from "../fixtures/hostile.js";
import { containersOf, engineRuntimes, scratchOf, waitForContainer } from "../support/containers.js";
import { createWorkspace, requireDocker, venvDigest, type Workspace } from "../support/harness.js";
import { resultText, type ToolResult } from "../support/in-process.js";
import { startServeProcess, type ServeProcess } from "../support/serve-process.js";

// Everything a build hands back — its report, its wheels, its stdout and stderr — is an attacker's. Each
// fixture attacks the broker through one of them, against a real `pipgate serve --http` and the real
// sandbox, under each runtime the engine has (runsc is required in CI: set-up registers it).
const ALICE = "alice-token-0123456789abcdef";
const BOB = "bob-token-fedcba9876543210";
const runtimes = await engineRuntimes();
if (process.env.CI === "true" && !runtimes.includes("runsc"))
  throw new Error("CI needs the runsc runtime registered with the Docker engine (scripts/setup-host.sh)");
const RUNTIMES = (["runc", "runsc"] as const).filter((runtime) => runtimes.includes(runtime) || process.env.CI === "true");

const HOSTILE = {
  "fifo-report": (name: string) => fifoReportSdist(name),
  "symlink-report": (name: string) => symlinkReportSdist(name, "/tmp/report-elsewhere.json"),
  "symlink-wheel": (name: string) => symlinkWheelSdist(name, "/tmp/wheel-elsewhere.whl"),
  "flood-bytes": (name: string) => stdoutFloodSdist(name, 64, "no-newlines"),
  "flood-events": (name: string) => stdoutFloodSdist(name, 64, "event-lines"),
  "disk-fill": (name: string) => diskFillSdist(name),
  "detached-writer": (name: string) => detachedWriterSdist(name, "planted-9.9-py3-none-any.whl"),
  "forged-upload": (name: string) => forgedUploadSdist(name),
  sleeper: (name: string) => sleepForeverSdist(name),
} as const;

function status(result: unknown): string {
  return ((result as ToolResult).structuredContent as { status: string }).status;
}

describe.each(RUNTIMES)("what a build hands back is hostile input (runtime %s)", (runtime) => {
  let ws: Workspace;
  let serve: ServeProcess;
  let alice: Client;

  beforeAll(async () => {
    await requireDocker();
    ws = await createWorkspace({
      projects: [
        ...Object.entries(HOSTILE).map(([name, build]) => ({ name, releases: [{ version: "1.0", dists: [build(name)] }] })),
        { name: "plain", releases: [{ version: "1.0", dists: [buildWheel({ name: "plain", version: "1.0" })] }] },
      ],
      environments: { default: { allowlist: { packages: { ...Object.fromEntries(Object.keys(HOSTILE).map((name) => [name, "*"])), plain: "*" } } } },
      // Under runsc the pids limit also bounds gVisor's own threads: keep the default there.
      config: { sandbox: { runtime, memory_mb: 512, out_max_mb: 32, output_max_mb: 8 } },
    });
    const config = parse(readFileSync(ws.configPath, "utf8")) as Record<string, unknown>;
    writeFileSync(
      ws.configPath,
      stringify({
        ...config,
        grants: { alice: { environments: ["default"], token_sha256: hashToken(ALICE) }, bob: { environments: ["default"], token_sha256: hashToken(BOB) } },
      }),
    );
    serve = await startServeProcess(ws.configPath);
    alice = await serve.connect(ALICE);
  });

  afterAll(async () => {
    await serve?.stop();
    await ws?.close();
  });

  /** Installs `name` as alice; the venv must be as before, and nothing of the run may be left behind. */
  async function refused(name: string, timeout = 120): Promise<ToolResult> {
    const before = venvDigest(ws.pythons.default!);
    const result = (await alice.callTool({ name: "install_package", arguments: { package_name: name, timeout } }, undefined, {
      timeout: 300_000,
    })) as ToolResult;
    expect(result.isError, resultText(result)).toBe(true);
    expect(venvDigest(ws.pythons.default!)).toBe(before);
    expect(await containersOf(ws.stateDir)).toEqual([]);
    expect(scratchOf(ws.stateDir, serve.pid)).toEqual([]);
    return result;
  }

  it("a report made a FIFO stalls only its own request: another grant's check_package is answered meanwhile", async () => {
    const install = alice.callTool({ name: "install_package", arguments: { package_name: "fifo-report", timeout: 25 } }, undefined, { timeout: 300_000 });
    await waitForContainer(ws.stateDir);
    const bob = await serve.connect(BOB);
    const check = await bob.callTool({ name: "check_package", arguments: { package_name: "plain" } });
    expect((check.structuredContent as { decision: { allowed: boolean } }).decision.allowed).toBe(true);
    expect(await containersOf(ws.stateDir)).toHaveLength(1); // the FIFO build was still running
    const result = await install;
    expect(status(result)).toBe("timed-out");
    expect(resultText(result)).toContain("timed out after 25 s");
    expect(await containersOf(ws.stateDir)).toEqual([]);
  }, 300_000);

  it("a report made a symlink is refused, and nothing it points at is read", async () => {
    const result = await refused("symlink-report");
    expect(status(result)).toBe("failed");
    expect(resultText(result)).toMatch(/output was refused: \/out\/report\.json cannot be opened/);
  }, 300_000);

  it("a wheel made a symlink is refused, and nothing it points at is installed", async () => {
    const result = await refused("symlink-wheel");
    expect(status(result)).toBe("failed");
    expect(resultText(result)).toMatch(/output was refused: \/out\/wheels\/symlink_wheel-1\.0-py3-none-any\.whl cannot be opened/);
  }, 300_000);

  it("a flood on stdout without newlines stops the build at the output cap", async () => {
    const result = await refused("flood-bytes");
    expect(resultText(result)).toContain("more than 8 MB to its output streams (sandbox.output_max_mb)");
  }, 300_000);

  it("a flood of progress-looking lines stops the build at the output cap", async () => {
    const result = await refused("flood-events");
    expect(resultText(result)).toContain("more than 8 MB to its output streams");
  }, 300_000);

  it("a build that fills /out is refused as build output too large", async () => {
    const result = await refused("disk-fill");
    expect(resultText(result)).toContain("build output too large: the build filled its /out of 32 MB (sandbox.out_max_mb)");
  }, 300_000);

  it("a forged upload of the report before the driver's is refused", async () => {
    const result = await refused("forged-upload");
    expect(resultText(result)).toContain("handed back report.json twice");
  }, 300_000);

  it("a detached writer is stopped before the output is read: the genuine wheel lands, nothing it planted", async () => {
    const result = await alice.callTool({ name: "install_package", arguments: { package_name: "detached-writer" } }, undefined, { timeout: 300_000 });
    expect(status(result)).toBe("installed");
    const site = join(ws.pythons.default!, "..", "..", "lib");
    const files = readdirSync(site, { recursive: true }).map(String);
    expect(files.some((file) => file.includes("planted"))).toBe(false);
    expect(files.some((file) => file.endsWith("detached_writer/__init__.py"))).toBe(true);
    expect(await containersOf(ws.stateDir)).toEqual([]);
    expect(scratchOf(ws.stateDir, serve.pid)).toEqual([]);
  }, 300_000);

  it("a broker SIGKILLed during a build leaves its container, and the restarted broker removes it and says so", async () => {
    // The call never gets an answer (its broker dies); the client is dropped with it.
    void alice
      .callTool({ name: "install_package", arguments: { package_name: "sleeper", timeout: 600 } }, undefined, { timeout: 300_000 })
      .catch(() => undefined);
    await waitForContainer(ws.stateDir);
    const killedPid = serve.pid;
    await serve.stop("SIGKILL");
    expect(await containersOf(ws.stateDir)).toHaveLength(1); // nothing of the dead broker stopped it
    expect(scratchOf(ws.stateDir, killedPid).length).toBeGreaterThan(0);
    serve = await startServeProcess(ws.configPath);
    alice = await serve.connect(ALICE);
    expect(await containersOf(ws.stateDir)).toEqual([]);
    expect(scratchOf(ws.stateDir, killedPid)).toEqual([]);
    const { createAuditLog } = await import("../../src/audit/store.js");
    const { openStateDb } = await import("../../src/state/db.js");
    const db = openStateDb(ws.stateDir);
    try {
      const reaped = await createAuditLog(db).list({ outcome: "reaped" });
      expect(reaped.at(-1)?.reason).toMatch(/outlived the broker that started it; killed and removed/);
    } finally {
      db.close();
    }
    expect(existsSync(join(ws.stateDir, "state.sqlite"))).toBe(true);
  }, 300_000);
});
