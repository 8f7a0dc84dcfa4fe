import { existsSync, readdirSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWheel } from "../fixtures/dists.js";
import { forkBombSdist, hostWriteSdist, networkSdist, pthWheel, sleepForeverSdist } from "../fixtures/hostile.js";
import { createWorkspace, requireDocker, venvDigest, type Workspace } from "../support/harness.js";
import { openInProcess, resultText } from "../support/in-process.js";

const MARKER = `pipgate-hostile-${process.pid}-${Date.now()}`;

/** This broker's containers (other test files run containers of their own at the same time). */
async function listContainers(stateDir: string): Promise<string[]> {
  const { execa } = await import("execa");
  const { stdout } = await execa("docker", [
    "ps",
    "-a",
    "--filter",
    "label=org.pipgate.role=resolve",
    "--filter",
    `label=org.pipgate.state-dir=${stateDir}`,
    "--format",
    "{{.ID}}",
  ]);
  return stdout.split("\n").filter((line) => line !== "");
}

describe("hostile builds stay in the sandbox", () => {
  let ws: Workspace;
  let broker: Awaited<ReturnType<typeof openInProcess>>;
  // A listener on the host's loopback: the network probe tries it, and must never reach it.
  let listener: Server;
  let connections = 0;

  beforeAll(async () => {
    await requireDocker();
    listener = createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    const port = (listener.address() as { port: number }).port;
    ws = await createWorkspace({
      projects: [
        { name: "net-probe", releases: [{ version: "1.0", dists: [networkSdist("net-probe", { loopbackPort: port })] }] },
        { name: "host-writer", releases: [{ version: "1.0", dists: [hostWriteSdist("host-writer", MARKER)] }] },
        { name: "sleeper", releases: [{ version: "1.0", dists: [sleepForeverSdist("sleeper")] }] },
        { name: "forker", releases: [{ version: "1.0", dists: [forkBombSdist("forker")] }] },
        { name: "pth-pkg", releases: [{ version: "1.0", dists: [pthWheel("pth-pkg")] }] },
        { name: "plain", releases: [{ version: "1.0", dists: [buildWheel({ name: "plain", version: "1.0" })] }] },
      ],
      environments: {
        default: { allowlist: { packages: { "net-probe": "*", "host-writer": "*", sleeper: "*", forker: "*", "pth-pkg": "*", plain: "*" } } },
      },
      config: { sandbox: { pids: 64, memory_mb: 512 } },
    });
    broker = await openInProcess(ws.configPath);
  });

  afterAll(async () => {
    await broker?.close();
    await ws?.close();
    listener?.close();
  });

  it("a build that tries the network gets no connection out and installs only its own wheel", async () => {
    const result = await broker.client.callTool({ name: "install_package", arguments: { package_name: "net-probe" } }, undefined, { timeout: 180_000 });
    // The sdist still builds (its network attempts fail inside the container): what lands is a verified wheel.
    expect(resultText(result)).toContain("installed net-probe 1.0");
    const records = await broker.broker.audit.list({ package: "net-probe" });
    expect(records.at(-1)?.outcome).toBe("installed");
    expect(connections).toBe(0);
  });

  it("a build that writes to host paths leaves no trace outside the container", async () => {
    const before = venvDigest(ws.pythons.default!);
    const result = await broker.client.callTool({ name: "install_package", arguments: { package_name: "host-writer" } }, undefined, { timeout: 180_000 });
    expect(resultText(result)).toContain("installed host-writer 1.0");
    for (const dir of ["/tmp", "/root", "/work", process.env.HOME ?? "/root", ws.dir, ws.stateDir]) {
      expect(existsSync(join(dir, MARKER)), `${dir}/${MARKER}`).toBe(false);
    }
    const sitePackages = join(ws.pythons.default!, "..", "..", "lib");
    const found = readdirSync(sitePackages, { recursive: true })
      .map(String)
      .filter((path) => path.endsWith(MARKER));
    expect(found).toEqual([]);
    expect(venvDigest(ws.pythons.default!)).not.toBe(before); // the package itself did land
  });

  it("a build that sleeps forever is killed at the timeout: container gone, nothing committed, 'timed out'", async () => {
    const before = venvDigest(ws.pythons.default!);
    const result = await broker.client.callTool({ name: "install_package", arguments: { package_name: "sleeper", timeout: 8 } }, undefined, {
      timeout: 120_000,
    });
    expect((result as { isError?: boolean }).isError).toBe(true);
    expect(resultText(result)).toContain("timed out");
    expect((result.structuredContent as { status: string }).status).toBe("timed-out");
    expect(await listContainers(ws.stateDir)).toEqual([]);
    expect(venvDigest(ws.pythons.default!)).toBe(before);
    expect((await broker.broker.audit.list({ package: "sleeper" })).at(-1)?.outcome).toBe("timed-out");
  });

  it("a build that forks without end is held by the pids limit and killed at the timeout", async () => {
    const before = venvDigest(ws.pythons.default!);
    const result = await broker.client.callTool({ name: "install_package", arguments: { package_name: "forker", timeout: 10 } }, undefined, {
      timeout: 120_000,
    });
    expect((result.structuredContent as { status: string }).status).toBe("timed-out");
    expect(await listContainers(ws.stateDir)).toEqual([]);
    expect(venvDigest(ws.pythons.default!)).toBe(before);
  });

  it("a wheel that ships a .pth file is refused before commit", async () => {
    const before = venvDigest(ws.pythons.default!);
    const result = await broker.client.callTool({ name: "install_package", arguments: { package_name: "pth-pkg" } }, undefined, { timeout: 120_000 });
    expect((result as { isError?: boolean }).isError).toBe(true);
    expect(resultText(result)).toMatch(/\.pth/);
    expect(venvDigest(ws.pythons.default!)).toBe(before);
  });
});
