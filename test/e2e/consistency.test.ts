import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listInstalled } from "../../src/commit/index.js";
import { loadConfig } from "../../src/config/load.js";
import { hashToken } from "../../src/grants/tokens.js";
import { openPipgate, type Pipgate } from "../../src/app.js";
import { silentLogger } from "../../src/log.js";
import { createServer } from "../../src/server/create-server.js";
import { startHttpServer, type HttpServer } from "../../src/server/http.js";
import { buildWheel } from "../fixtures/dists.js";
import { createVenv, runPip, runPython } from "../fixtures/pip.js";
import { createWorkspace, requireDocker, venvDigest, type Workspace } from "../support/harness.js";
import { openInProcess, resultText, type ToolResult } from "../support/in-process.js";

// Concurrent installs into one environment stay consistent: aud-a needs aud-lib<2, aud-b needs
// aud-lib>=2, and whichever commits second is refused (by the pipeline's check, or under the lock
// when both were resolved against the empty venv). 25 races in process, 25 over HTTP.
const RUNS_PER_TRANSPORT = 25;
const TOKEN = "token-for-the-racer-0123456789";

const wheel = (name: string, version: string, extra: Parameters<typeof buildWheel>[0] = { name, version }) => ({
  version,
  dists: [buildWheel({ ...extra, name, version })],
});
const sixLike = (version: string) => wheel("six", version, { name: "six", version, module: "six_meta", files: { "six.py": `__version__ = "${version}"\n` } });

const PROJECTS = [
  { name: "aud-a", releases: [wheel("aud-a", "1.0", { name: "aud-a", version: "1.0", dependencies: ["aud-lib<2"] })] },
  { name: "aud-b", releases: [wheel("aud-b", "1.0", { name: "aud-b", version: "1.0", dependencies: ["aud-lib>=2"] })] },
  { name: "aud-lib", releases: [wheel("aud-lib", "1.5"), wheel("aud-lib", "2.0")] },
  {
    name: "pandas-like",
    releases: [wheel("pandas-like", "3.0.6", { name: "pandas-like", version: "3.0.6", dependencies: ['numpy-like>=1.26.0; python_version < "3.14"'] })],
  },
  { name: "numpy-like", releases: [wheel("numpy-like", "1.23.5"), wheel("numpy-like", "1.26.4")] },
  { name: "six", releases: [sixLike("1.17.0")] },
  {
    name: "aud-clobber",
    releases: [wheel("aud-clobber", "1.0", { name: "aud-clobber", version: "1.0", files: { "six.py": "raise ImportError('clobbered')\n" } })],
  },
  { name: "keeper", releases: [wheel("keeper", "1.0"), wheel("keeper", "1.1")] },
];
const ALLOWLIST = { packages: Object.fromEntries(PROJECTS.map((project) => [project.name, "*"])) };

const raceEnv = (transport: "mem" | "http", i: number) => `race-${transport}-${i}`;

describe("commits stay consistent under concurrency", () => {
  let ws: Workspace;
  let server: Awaited<ReturnType<typeof openInProcess>>;
  let app: Pipgate;
  let http: HttpServer;
  let pythons: Record<string, string>;

  beforeAll(async () => {
    await requireDocker();
    ws = await createWorkspace({ projects: PROJECTS, environments: { default: { allowlist: ALLOWLIST } } });
    // The race venvs are cheap copies of one venv without pip: the direct installer needs none, and
    // `pip check` runs the host's pip against them through --python.
    const blank = await createVenv(join(ws.dir, "venvs", "blank"));
    const config = parse(readFileSync(ws.configPath, "utf8")) as { environments: Record<string, unknown> };
    pythons = { default: ws.pythons.default ?? "" };
    const names = ["twice", ...["mem", "http"].flatMap((t) => Array.from({ length: RUNS_PER_TRANSPORT }, (_, i) => raceEnv(t as "mem" | "http", i)))];
    for (const name of names) {
      const dir = join(ws.dir, "venvs", name);
      execFileSync("cp", ["-a", join(blank, "..", ".."), dir]);
      pythons[name] = join(dir, "bin", "python");
      config.environments[name] = { python: pythons[name], allowlist: ws.allowlists.default };
    }
    const httpEnvs = Array.from({ length: RUNS_PER_TRANSPORT }, (_, i) => raceEnv("http", i));
    writeFileSync(ws.configPath, stringify({ ...config, grants: { racer: { environments: httpEnvs, token_sha256: hashToken(TOKEN) } } }));

    server = await openInProcess(ws.configPath);
    const loaded = loadConfig(ws.configPath);
    if (!loaded.ok) throw new Error(loaded.issues.join("\n"));
    const opened = await openPipgate(loaded.config, silentLogger());
    if (!opened.ok) throw new Error(opened.issues.join("\n"));
    app = opened.value;
    const { control } = app;
    const started = await startHttpServer({
      listen: { host: "127.0.0.1", port: 0 },
      grantForToken: (token) => control.access.grantForToken(token),
      serverFor: (grant) => createServer(app.serverDeps(grant)),
      log: silentLogger(),
    });
    if (!started.ok) throw new Error(started.error);
    http = started.value;
  });

  afterAll(async () => {
    await http?.close();
    app?.close();
    await server?.close();
    await ws?.close();
  });

  type Install = (environment: string, packageName: string, extra?: Record<string, unknown>) => Promise<ToolResult>;
  const viaMemory: Install = async (environment, packageName, extra = {}) =>
    (await server.client.callTool({ name: "install_package", arguments: { package_name: packageName, environment, ...extra } }, undefined, {
      timeout: 120_000,
    })) as ToolResult;

  async function httpClient(): Promise<Client> {
    const transport = new StreamableHTTPClientTransport(new URL(http.url), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } });
    const client = new Client({ name: "pipgate-race", version: "1.0.0" });
    await client.connect(transport);
    return client;
  }

  const status = (result: ToolResult): string => (result.structuredContent as { status: string }).status;

  /** pip's own verdict on the venv, run from the host's pip with no ambient configuration. */
  async function pipCheck(python: string): Promise<{ exitCode: number; stdout: string }> {
    const run = await runPip(python, "check", []);
    return { exitCode: run.exitCode, stdout: run.stdout + run.stderr };
  }

  async function race(install: Install, environment: string): Promise<void> {
    const python = pythons[environment] ?? "";
    const results = await Promise.all([install(environment, "aud-a"), install(environment, "aud-b")]);
    const statuses = results.map(status);
    expect(statuses.slice().sort(), `${environment}: ${results.map(resultText).join(" | ")}`).toEqual(["denied", "installed"]);
    const denied = results.find((result) => status(result) === "denied");
    expect(resultText(denied as ToolResult)).toMatch(/aud-[ab] 1\.0 (\(installed\) )?requires aud-lib(<2|>=2)/);
    expect(await pipCheck(python)).toMatchObject({ exitCode: 0 });
    const listed = await listInstalled(python);
    const names = listed.ok ? listed.value.map((dist) => dist.name).sort() : [];
    const winner = statuses[0] === "installed" ? "aud-a" : "aud-b";
    expect(names).toEqual([winner, "aud-lib"].sort());
  }

  it(`keeps pip check clean over ${RUNS_PER_TRANSPORT} races through an in-process MCP client`, { timeout: 900_000 }, async () => {
    for (let i = 0; i < RUNS_PER_TRANSPORT; i += 1) await race(viaMemory, raceEnv("mem", i));
  });

  it(`keeps pip check clean over ${RUNS_PER_TRANSPORT} races over HTTP, one session per agent`, { timeout: 900_000 }, async () => {
    const [first, second] = [await httpClient(), await httpClient()];
    try {
      let turn = 0;
      // Each request of a pair comes from its own session, as two agents would send them.
      const viaHttp: Install = async (environment, packageName) => {
        turn += 1;
        const client = turn % 2 === 1 ? first : second;
        return (await client.callTool({ name: "install_package", arguments: { package_name: packageName, environment } }, undefined, {
          timeout: 120_000,
        })) as ToolResult;
      };
      for (let i = 0; i < RUNS_PER_TRANSPORT; i += 1) await race(viaHttp, raceEnv("http", i));
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });

  it("installs one of two identical concurrent requests; the other finds it already satisfied", async () => {
    const results = await Promise.all([viaMemory("twice", "keeper==1.0"), viaMemory("twice", "keeper==1.0")]);
    expect(results.map(status).sort()).toEqual(["already-satisfied", "installed"]);
  });

  it("refuses a downgrade that breaks a requirement bound by a marker, naming it", async () => {
    const python = pythons.default ?? "";
    expect(status(await viaMemory("default", "pandas-like"))).toBe("installed");
    const before = venvDigest(python);
    const result = await viaMemory("default", "numpy-like==1.23.5");
    expect(result.isError).toBe(true);
    expect(status(result)).toBe("denied");
    expect(resultText(result)).toContain(
      'pandas-like 3.0.6 (installed) requires numpy-like>=1.26.0 (for python_version < "3.14"), but this install would bring numpy-like 1.23.5',
    );
    expect(venvDigest(python)).toBe(before);
    expect(await pipCheck(python)).toMatchObject({ exitCode: 0 });
  });

  it("refuses a wheel that would overwrite another distribution's file, naming both", async () => {
    const python = pythons.default ?? "";
    expect(status(await viaMemory("default", "six"))).toBe("installed");
    const before = venvDigest(python);
    const result = await viaMemory("default", "aud-clobber");
    expect(status(result)).toBe("denied");
    expect(resultText(result)).toMatch(/aud-clobber 1\.0 would overwrite \S+\/six\.py, which belongs to six 1\.17\.0/);
    expect(venvDigest(python)).toBe(before);
    expect((await runPython(python, "import six; print(six.__version__)")).stdout.trim()).toBe("1.17.0");
    expect((await server.broker.audit.list({ package: "aud-clobber" })).at(-1)?.outcome).toBe("denied");
  });

  it("answers upgrade: true at the newest allowed version with already-satisfied, not a failure", async () => {
    expect(status(await viaMemory("default", "keeper"))).toBe("installed");
    const launches = server.sandbox.launches;
    const before = venvDigest(pythons.default ?? "");
    const result = await viaMemory("default", "keeper", { upgrade: true });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ status: "already-satisfied", version: "1.1" });
    expect(resultText(result)).toContain("keeper 1.1 is already installed");
    expect(server.sandbox.launches).toBe(launches);
    expect(venvDigest(pythons.default ?? "")).toBe(before);
    expect((await server.broker.audit.list({ package: "keeper" })).at(-1)?.outcome).toBe("already-satisfied");
  });
});
