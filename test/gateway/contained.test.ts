import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SandboxSchema } from "../../src/config/schema.js";
import { UpstreamSchema } from "../../src/config/upstream-schema.js";
import { transportFor } from "../../src/gateway/transports.js";
import { openUpstreamSession, type UpstreamSession } from "../../src/gateway/upstream.js";
import { silentLogger } from "../../src/log.js";
import { isolatedEnv } from "../../src/config/python.js";
import { buildWheel } from "../fixtures/dists.js";
import { containersOf, engineRuntimes } from "../support/containers.js";
import { createVenvWithPip, REPO_ROOT, requireDocker, venvDigest } from "../support/harness.js";

// The "done when", against a real container: code sent to a contained upstream's run_python_code
// cannot install, write into the environment, write outside its working directory, reach a listener on the
// host's loopback or the Docker socket; the venv is unchanged; and a package installed from the host
// imports in the next run, in the same running container. Under each runtime the engine has (runsc is
// required in CI).
const runtimes = await engineRuntimes();
if (process.env.CI === "true" && !runtimes.includes("runsc"))
  throw new Error("CI needs the runsc runtime registered with the Docker engine (scripts/setup-host.sh)");
const RUNTIMES = (["runc", "runsc"] as const).filter((runtime) => runtimes.includes(runtime) || process.env.CI === "true");

const PROJECT = REPO_ROOT.replace(/\/+$/, "");
const FIXTURE = join(PROJECT, "dist", "test", "fixtures", "upstream", "interpreter-server.js");
const log = silentLogger();
const clientInfo = { name: "pipgate-test", version: "1.0.0" };

type CallResult = Awaited<ReturnType<UpstreamSession["callTool"]>>;
function outcome(result: CallResult): { text: string; isError: boolean } {
  if (!result.ok) throw new Error(result.error);
  return { text: result.value.content.map((part) => (part as { text?: string }).text ?? "").join(""), isError: result.value.isError === true };
}

describe.each(RUNTIMES)("a contained upstream (runtime %s)", (runtime) => {
  let dir: string;
  let workdir: string;
  let stateDir: string;
  let python: string;
  let sitePackages: string;
  let listener: Server;
  let port: number;
  let connections = 0;
  let session: UpstreamSession;
  /** The main session's container. */
  let ownIds: string[] | undefined;

  const run = async (code: string) =>
    outcome(await session.callTool("run_python_code", { code, execution_mode: "subprocess", environment: "target", timeout: 60 }));

  beforeAll(async () => {
    await requireDocker();
    if (!existsSync(FIXTURE)) throw new Error(`${FIXTURE} is missing: build the fixtures first (npx tsc -p tsconfig.json)`);
    dir = mkdtempSync(join(tmpdir(), "pipgate-contained-"));
    workdir = join(dir, "work");
    stateDir = join(dir, "state");
    mkdirSync(workdir);
    mkdirSync(stateDir);
    python = await createVenvWithPip(join(dir, "venv"));
    sitePackages = (await execa(python, ["-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])).stdout.trim();
    listener = createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    port = (listener.address() as { port: number }).port;

    const opened = await openUpstreamSession(factory(), { log, restart: { initial_ms: 50, max_ms: 400 }, clientInfo, connectTimeoutMs: 60_000 });
    if (!opened.ok) throw new Error(opened.error);
    session = opened.value;
  });

  /** The interpreter fixture in a container: node, the project (dist/) and its node_modules mounted read-only. */
  function factory(env: Record<string, string> = {}, sandbox: Record<string, unknown> = {}) {
    const node = realpathSync(process.execPath);
    const modules = realpathSync(join(PROJECT, "node_modules"));
    const config = UpstreamSchema.parse({
      command: [node, FIXTURE],
      env: { FIXTURE_WORKDIR: workdir, FIXTURE_ENVIRONMENTS: JSON.stringify({ target: python }), ...env },
      restart: { initial_ms: 50, max_ms: 400 },
      sandbox: { runtime, workdir, memory_mb: 512, mounts: { read_only: [...new Set([node, PROJECT, modules])] }, ...sandbox },
    });
    const host = {
      sandbox: SandboxSchema.parse({}),
      environments: { target: { python, allowlist: join(dir, "allowlist.yaml") } },
      state_dir: stateDir,
    };
    return transportFor(config, log, host);
  }

  afterAll(async () => {
    await session?.close();
    await new Promise((resolve) => listener?.close(resolve));
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("runs in a container with no network, a read-only root, no capabilities and the broker's labels", async () => {
    ownIds = await containersOf(stateDir);
    const [id] = ownIds;
    expect(id).toBeDefined();
    const inspected = JSON.parse((await execa("docker", ["inspect", id!])).stdout) as Array<{
      Config: { User: string; Labels: Record<string, string> };
      HostConfig: {
        NetworkMode: string;
        ReadonlyRootfs: boolean;
        CapDrop: string[];
        SecurityOpt: string[];
        Runtime: string;
        PidsLimit: number;
        Memory: number;
      };
    }>;
    const container = inspected[0]!;
    expect(container.HostConfig).toMatchObject({
      NetworkMode: "none",
      ReadonlyRootfs: true,
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      Runtime: runtime,
      PidsLimit: 256,
      Memory: 512 * 1024 * 1024,
    });
    expect(container.Config.Labels["org.pipgate.role"]).toBe("upstream");
    expect(container.Config.Labels["org.pipgate.broker"]).toMatch(new RegExp(`^${process.pid}\\.`));
    // and the code it runs sees the environment's interpreter at its host path
    expect(await run("import sys; print(sys.prefix)")).toEqual({ text: `${join(dir, "venv")}\n`, isError: false });
  });

  it("refuses every way code could change the environment, leave the working directory or reach out", async () => {
    const before = venvDigest(python);
    const wheel = buildWheel({ name: "planted", version: "1.0" });
    writeFileSync(join(workdir, wheel.filename), wheel.bytes);

    // pip install from an index (no network) and from a local wheel (the environment is read-only)
    const fromIndex = await run(
      "import subprocess, sys; sys.exit(subprocess.call([sys.executable, '-m', 'pip', 'install', '--no-cache-dir', '--retries', '0', '--timeout', '3', 'requests']))",
    );
    expect(fromIndex.isError).toBe(true);
    const fromWheel = await run(
      `import subprocess, sys; sys.exit(subprocess.call([sys.executable, '-m', 'pip', 'install', '--no-index', '--no-cache-dir', ${JSON.stringify(join(workdir, wheel.filename))}]))`,
    );
    expect(fromWheel.isError).toBe(true);
    expect(fromWheel.text).toMatch(/Read-only file system/);

    // a .pth file in site-packages runs at every interpreter start: the classic persistence
    const pth = await run(`open(${JSON.stringify(join(sitePackages, "evil.pth"))}, "w").write("import os\\n")`);
    expect(pth.isError).toBe(true);
    expect(pth.text).toMatch(/Read-only file system/);

    // outside the working directory: the project, the root, and the working directory's parent
    for (const target of [join(PROJECT, "escaped.txt"), "/etc/escaped.txt", join(sitePackages, "..", "..", "..", "escaped.txt")]) {
      const written = await run(`open(${JSON.stringify(target)}, "w").write("x")`);
      expect(written.isError, target).toBe(true);
      expect(written.text).toMatch(/Read-only file system|Permission denied/);
      expect(existsSync(target)).toBe(false);
    }
    // the parent of the working directory is the container's own /tmp: a write there never reaches the host
    await run(`open(${JSON.stringify(join(dir, "escaped.txt"))}, "w").write("x")`);
    expect(existsSync(join(dir, "escaped.txt"))).toBe(false);
    // while the working directory itself is written through to the host
    expect(await run(`open(${JSON.stringify(join(workdir, "kept.txt"))}, "w").write("kept")`)).toMatchObject({ isError: false });
    expect(readFileSync(join(workdir, "kept.txt"), "utf8")).toBe("kept");

    // a listener on the host's loopback
    const socket = await run(`import socket; socket.create_connection(("127.0.0.1", ${port}), timeout=3)`);
    expect(socket.isError).toBe(true);
    expect(socket.text).toMatch(/ConnectionRefused|Network is unreachable|timed out|OSError/);
    expect(connections).toBe(0);

    // the Docker engine's socket is not there
    for (const path of ["/var/run/docker.sock", "/run/docker.sock"]) {
      const docker = await run(`import socket; s = socket.socket(socket.AF_UNIX); s.connect(${JSON.stringify(path)})`);
      expect(docker.isError, path).toBe(true);
      expect(docker.text).toMatch(/FileNotFoundError|No such file/);
    }

    expect(venvDigest(python)).toBe(before);
  });

  it("sees a package installed from the host in the next run, in the same container", async () => {
    const [before] = await containersOf(stateDir);
    expect((await run("import contained_probe")).isError).toBe(true);
    const wheel = buildWheel({ name: "contained-probe", version: "2.5" });
    const file = join(dir, wheel.filename);
    writeFileSync(file, wheel.bytes);
    await execa(python, ["-I", "-m", "pip", "install", "--no-index", "--no-deps", "--disable-pip-version-check", file], {
      env: isolatedEnv(),
      extendEnv: false,
    });
    expect(await run("import contained_probe; print(contained_probe.__version__)")).toEqual({ text: "2.5\n", isError: false });
    expect(await containersOf(stateDir)).toEqual([before]);
  });

  it("ends with its container's exit code and last stderr when it crashes, and the next call runs in a new container", async () => {
    const opened = await openUpstreamSession(factory({ FIXTURE_CRASH_ON: "list_sessions" }), {
      log,
      restart: { initial_ms: 50, max_ms: 400 },
      clientInfo,
      connectTimeoutMs: 60_000,
    });
    if (!opened.ok) throw new Error(opened.error);
    const crashing = opened.value;
    try {
      const [first] = (await containersOf(stateDir)).filter((id) => !(ownIds ?? []).includes(id));
      expect(first).toBeDefined();
      const crashed = await crashing.callTool("list_sessions", {});
      expect(crashed.ok ? "" : crashed.error).toMatch(
        /exited in its container \(code 3, last stderr: fixture: crashing in list_sessions as FIXTURE_CRASH_ON asks\)/,
      );
      const again = await crashing.callTool(
        "run_python_code",
        { code: "print(2)", execution_mode: "subprocess", environment: "target" },
        { timeoutMs: 60_000 },
      );
      expect(again.ok && again.value.content).toEqual([{ type: "text", text: "2\n" }]);
      const now = (await containersOf(stateDir)).filter((id) => !(ownIds ?? []).includes(id));
      expect(now).toHaveLength(1);
      expect(now[0]).not.toBe(first);
    } finally {
      await crashing.close();
    }
  });

  it("fails to start with what to do when the image is missing", async () => {
    const opened = await openUpstreamSession(factory({}, { image: "pipgate-sandbox:does-not-exist" }), {
      log,
      restart: { initial_ms: 50, max_ms: 400 },
      clientInfo,
    });
    expect(opened.ok ? "" : opened.error).toMatch(
      /^cannot start the upstream server: the upstream server could not be started in its container \(.*pipgate-sandbox:does-not-exist.*: build it with pipgate sandbox build-image, or set upstream\.sandbox\.image\)$/,
    );
  });

  it("removes its container when the session closes", async () => {
    expect(await containersOf(stateDir)).toHaveLength(1);
    await session.close();
    expect(await containersOf(stateDir)).toEqual([]);
  });
});
