import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { execa } from "execa";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reapContainers } from "../../src/sandbox/reaper.js";
import { buildWheel } from "../fixtures/dists.js";
import { containersOf, engineRuntimes } from "../support/containers.js";
import { createWorkspace, REPO_ROOT, requireDocker, venvDigest, type Workspace } from "../support/harness.js";
import { resultText, type ToolResult } from "../support/in-process.js";

// The "done when", end to end: a real client talks to a real `pipgate serve`, which fronts the
// interpreter fixture in its container. The code the agent sends through run_python_code cannot change
// the environment or reach out; pipgate's own install_package (from a local index) can, and the next
// run imports what it installed, in the same running container.
const runtimes = await engineRuntimes();
if (process.env.CI === "true" && !runtimes.includes("runsc"))
  throw new Error("CI needs the runsc runtime registered with the Docker engine (scripts/setup-host.sh)");
const RUNTIMES = (["runc", "runsc"] as const).filter((runtime) => runtimes.includes(runtime) || process.env.CI === "true");

const PROJECT = REPO_ROOT.replace(/\/+$/, "");
const BIN = join(PROJECT, "dist", "src", "cli", "bin.js");
const FIXTURE = join(PROJECT, "dist", "test", "fixtures", "upstream", "interpreter-server.js");
const POLICY = JSON.stringify({ version: "1", default: "deny", tools: { install_package: {}, run_python_code: {} } });

describe.each(RUNTIMES)("a gateway with a contained upstream (runtime %s)", (runtime) => {
  let ws: Workspace;
  let workdir: string;
  let installLog: string;
  let client: Client;
  let listener: Server;
  let port: number;
  let connections = 0;

  const call = async (name: string, args: Record<string, unknown>) =>
    (await client.callTool({ name, arguments: args }, undefined, { timeout: 180_000 })) as ToolResult;
  const run = async (code: string) => {
    const result = await call("run_python_code", { code, execution_mode: "subprocess", environment: "default", timeout: 60 });
    return { text: resultText(result), isError: result.isError === true };
  };

  beforeAll(async () => {
    await requireDocker();
    if (!existsSync(FIXTURE) || !existsSync(BIN)) throw new Error("build first: npx tsc -p tsconfig.json (pipgate and the fixture run from dist/)");
    ws = await createWorkspace({
      projects: [{ name: "gw-probe", releases: [{ version: "3.1.0", dists: [buildWheel({ name: "gw-probe", version: "3.1.0" })] }] }],
      environments: { default: { allowlist: { packages: { "gw-probe": "*" } } } },
      config: { policy: "policy.json", sandbox: { runtime } },
    });
    writeFileSync(join(ws.dir, "policy.json"), POLICY);
    workdir = join(ws.dir, "work");
    mkdirSync(workdir);
    installLog = join(workdir, "raw-installs.log");
    listener = createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    port = (listener.address() as { port: number }).port;

    const node = realpathSync(process.execPath);
    const config = parse(readFileSync(ws.configPath, "utf8")) as Record<string, unknown>;
    config.upstream = {
      command: [node, FIXTURE],
      env: { FIXTURE_ENVIRONMENTS: JSON.stringify({ default: ws.pythons.default }), FIXTURE_WORKDIR: workdir, FIXTURE_INSTALL_LOG: installLog },
      sandbox: { workdir, memory_mb: 512, mounts: { read_only: [...new Set([node, PROJECT, realpathSync(join(PROJECT, "node_modules"))])] } },
    };
    writeFileSync(ws.configPath, stringify(config));

    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, "serve", "--config", ws.configPath],
      stderr: "pipe",
      env: { PATH: process.env.PATH ?? "", PIPGATE_LOG_LEVEL: "error" },
    });
    client = new Client({ name: "agent", version: "1.0.0" });
    await client.connect(transport);
  }, 180_000);

  afterAll(async () => {
    await client?.close();
    await new Promise((resolve) => listener?.close(resolve));
    await ws?.close();
  });

  it("serves the upstream's tools from a container of the broker's, under the configured runtime", async () => {
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(["install_package", "run_python_code"]);
    expect(await run("print('hello from the container')")).toEqual({ text: "hello from the container\n", isError: false });
    const [id] = await containersOf(ws.stateDir);
    expect(id).toBeDefined();
    const { stdout } = await execa("docker", [
      "inspect",
      "--format",
      "{{.HostConfig.Runtime}} {{.HostConfig.NetworkMode}} {{.HostConfig.ReadonlyRootfs}}",
      id!,
    ]);
    expect(stdout).toBe(`${runtime} none true`);
  });

  it("refuses the attack list through the gateway; pipgate's install_package installs and the next run imports it", async () => {
    const python = ws.pythons.default!;
    const before = venvDigest(python);
    const sitePackages = (await execa(python, ["-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])).stdout.trim();

    const pip = await run(
      "import subprocess, sys; sys.exit(subprocess.call([sys.executable, '-m', 'pip', 'install', '--no-cache-dir', '--retries', '0', '--timeout', '3', 'gw-probe']))",
    );
    expect(pip.isError).toBe(true);
    const pth = await run(`open(${JSON.stringify(join(sitePackages, "evil.pth"))}, "w").write("import os\\n")`);
    expect(pth).toMatchObject({ isError: true, text: expect.stringMatching(/Read-only file system/) });
    // the project is mounted read-only; pipgate's configuration and state are not there at all (what the
    // container's own /tmp shows at their paths is its tmpfs, which never reaches the host)
    const project = await run(`open(${JSON.stringify(join(PROJECT, "escaped.txt"))}, "w").write("x")`);
    expect(project).toMatchObject({ isError: true, text: expect.stringMatching(/Read-only file system/) });
    expect(existsSync(join(PROJECT, "escaped.txt"))).toBe(false);
    for (const hidden of [ws.configPath, join(ws.stateDir, "state.sqlite")]) {
      expect(existsSync(hidden), hidden).toBe(true);
      expect(await run(`open(${JSON.stringify(hidden)}, "rb").read()`)).toMatchObject({ isError: true, text: expect.stringMatching(/FileNotFoundError/) });
    }
    const configBefore = readFileSync(ws.configPath);
    await run(`open(${JSON.stringify(ws.configPath)}, "w").write("upstream: {}")`);
    expect(readFileSync(ws.configPath)).toEqual(configBefore);
    const socket = await run(`import socket; socket.create_connection(("127.0.0.1", ${port}), timeout=3)`);
    expect(socket.isError).toBe(true);
    expect(connections).toBe(0);
    const docker = await run("import socket; s = socket.socket(socket.AF_UNIX); s.connect('/var/run/docker.sock')");
    expect(docker).toMatchObject({ isError: true, text: expect.stringMatching(/FileNotFoundError|No such file/) });
    expect(venvDigest(python)).toBe(before);

    expect((await run("import gw_probe")).isError).toBe(true);
    const installed = await call("install_package", { package_name: "gw-probe", environment: "default" });
    expect(installed.structuredContent).toMatchObject({ status: "installed", package: "gw-probe" });
    expect(await run("import gw_probe; print(gw_probe.__version__)")).toEqual({ text: "3.1.0\n", isError: false });
    // the upstream's own install_package was never reached
    expect(existsSync(installLog)).toBe(false);
  });
});

describe("a contained upstream whose broker died", () => {
  it("is left to the reaper, which removes it: the broker is gone", async () => {
    await requireDocker();
    const ws = await createWorkspace({ projects: [], environments: { default: { allowlist: { packages: {} } } }, config: { policy: "policy.json" } });
    try {
      writeFileSync(join(ws.dir, "policy.json"), POLICY);
      const workdir = join(ws.dir, "work");
      mkdirSync(workdir);
      const node = realpathSync(process.execPath);
      const config = parse(readFileSync(ws.configPath, "utf8")) as Record<string, unknown>;
      config.upstream = {
        command: [node, FIXTURE],
        env: { FIXTURE_ENVIRONMENTS: JSON.stringify({ default: ws.pythons.default }), FIXTURE_WORKDIR: workdir },
        sandbox: { workdir, mounts: { read_only: [...new Set([node, PROJECT, realpathSync(join(PROJECT, "node_modules"))])] } },
      };
      writeFileSync(ws.configPath, stringify(config));
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: [BIN, "serve", "--config", ws.configPath],
        stderr: "pipe",
        env: { PATH: process.env.PATH ?? "", PIPGATE_LOG_LEVEL: "error" },
      });
      const client = new Client({ name: "agent", version: "1.0.0" });
      await client.connect(transport);
      const ran = (await client.callTool({
        name: "run_python_code",
        arguments: { code: "print(1)", execution_mode: "subprocess", environment: "default" },
      })) as ToolResult;
      expect(resultText(ran)).toBe("1\n");
      const [id] = await containersOf(ws.stateDir);
      expect(id).toBeDefined();

      // A live broker's container is left alone, deadline or not …
      expect(await reapContainers("/var/run/docker.sock", ws.stateDir)).toEqual([]);
      // … and once the broker is killed outright (no close, no clean-up), the reaper removes it.
      process.kill(transport.pid!, "SIGKILL");
      await client.close().catch(() => undefined);
      const reaped = await reapContainers("/var/run/docker.sock", ws.stateDir);
      expect(reaped).toEqual([expect.objectContaining({ id: expect.stringMatching(new RegExp(`^${id}`)), why: "broker-gone" })]);
      expect(await containersOf(ws.stateDir)).toEqual([]);
    } finally {
      await ws.close();
    }
  });
});
