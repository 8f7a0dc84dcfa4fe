import { mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAuditLog } from "../../src/audit/store.js";
import type { AuditRecord } from "../../src/audit/types.js";
import { doctor } from "../../src/cli/doctor.js";
import { openStateDb } from "../../src/state/db.js";
import { capture } from "../allowlist/helpers.js";
import { buildWheel } from "../fixtures/dists.js";
import { createWorkspace, REPO_ROOT, requireDocker, type Workspace } from "../support/harness.js";

const PROJECT = REPO_ROOT.replace(/\/+$/, "");
const FIXTURE = join(PROJECT, "dist", "test", "fixtures", "upstream", "interpreter-server.js");
const node = realpathSync(process.execPath);

interface CheckLine {
  name: string;
  ok: boolean;
  detail: string;
}

describe("pipgate doctor", () => {
  let ws: Workspace;
  let config: Record<string, unknown>;

  /** A variant of the workspace's pipgate.yaml, written next to it (relative paths keep working). */
  const variant = (name: string, change: (config: Record<string, unknown>) => void): string => {
    const copy = structuredClone(config);
    change(copy);
    const path = join(ws.dir, name);
    writeFileSync(path, stringify(copy));
    return path;
  };
  const run = async (configPath: string) => {
    const io = capture();
    const code = await doctor(["--config", configPath], io);
    return { code, lines: io.out().trimEnd().split("\n") };
  };

  beforeAll(async () => {
    await requireDocker();
    ws = await createWorkspace({
      projects: [{ name: "demo-lib", releases: [{ version: "1.0.0", dists: [buildWheel({ name: "demo-lib", version: "1.0.0" })] }] }],
      environments: { default: { allowlist: { packages: { "demo-lib": "*" } } } },
    });
    config = parse(readFileSync(ws.configPath, "utf8")) as Record<string, unknown>;
  });

  afterAll(async () => {
    await ws?.close();
  });

  it("passes every check on a working set-up: engine, state, environment, image, index, audit chain", async () => {
    const { code, lines } = await run(ws.configPath);
    expect(lines.filter((line) => !line.startsWith("ok  "))).toEqual([]);
    expect(code).toBe(0);
    const names = lines.map((line) => /^ok {4}([^:]+):/.exec(line)?.[1]);
    expect(names).toEqual(["docker engine", "sandbox runtime", "state directory", "environment default", "sandbox image for default", "index", "audit chain"]);
    expect(lines).toContain(`ok    index: ${ws.index.url}`);
    expect(lines).toContain("ok    sandbox runtime: runc (the engine's default; sandbox.runtime: runsc for gVisor)");
    expect(lines.find((line) => line.includes("environment default"))).toMatch(/Python 3\.\d+\.\d+, 1 allowed package\(s\)$/);

    const io = capture();
    expect(await doctor(["--config", ws.configPath, "--json"], io)).toBe(0);
    const checks = JSON.parse(io.out()) as CheckLine[];
    expect(checks.map((check) => check.ok)).toEqual([true, true, true, true, true, true, true]);
  });

  it("reports gVisor when sandbox.runtime is runsc, and says how to register it when the engine lacks it", async () => {
    const path = variant("runsc.yaml", (copy) => {
      copy.sandbox = { runtime: "runsc" };
    });
    const { lines } = await run(path);
    const line = lines.find((entry) => entry.includes("sandbox runtime"));
    const { execa } = await import("execa");
    const runtimes = (await execa("docker", ["info", "--format", "{{json .Runtimes}}"])).stdout;
    if (runtimes.includes('"runsc"')) expect(line).toBe("ok    sandbox runtime: runsc (gVisor: builds run on a user-space kernel)");
    else expect(line).toMatch(/^FAIL {2}sandbox runtime: runsc is not registered with the Docker engine .*\/etc\/docker\/daemon\.json/);
  });

  it("fails naming an environment whose python does not exist, and still checks the others", async () => {
    const missing = join(ws.dir, "venvs", "gone", "bin", "python");
    const path = variant("ghost.yaml", (copy) => {
      const environments = copy.environments as Record<string, unknown>;
      environments.ghost = { python: missing, allowlist: ws.allowlists.default };
    });
    const { code, lines } = await run(path);
    expect(code).toBe(1);
    const ghost = lines.find((line) => line.includes("environment ghost"));
    expect(ghost).toMatch(/^FAIL {2}environment ghost: /);
    expect(ghost).toContain(missing);
    expect(lines.find((line) => line.includes("environment default"))).toMatch(/^ok/);
  });

  it("fails naming the image when the configured sandbox image does not exist", async () => {
    const path = variant("no-image.yaml", (copy) => {
      copy.sandbox = { image: "pipgate-sandbox:does-not-exist" };
    });
    const { code, lines } = await run(path);
    expect(code).toBe(1);
    expect(lines).toContain("FAIL  sandbox image for default: pipgate-sandbox:does-not-exist is missing: run pipgate sandbox build-image");
  });

  it("says the image cannot be checked, not that it is missing, when the engine is unreachable", async () => {
    const path = variant("no-engine.yaml", (copy) => {
      copy.sandbox = { docker_socket: join(ws.dir, "no-such-docker.sock") };
    });
    const { code, lines } = await run(path);
    expect(code).toBe(1);
    expect(lines[0]).toMatch(/^FAIL {2}docker engine: not reachable at .*no-such-docker\.sock/);
    expect(lines.find((line) => line.includes("sandbox image for default"))).toMatch(
      /^FAIL {2}sandbox image for default: pipgate-sandbox:py3\.\d+ cannot be checked: the Docker engine is not reachable$/,
    );
  });

  it("warns loudly, without failing, about a gateway whose stdio upstream runs uncontained", async () => {
    const path = variant("uncontained.yaml", (copy) => {
      copy.upstream = { command: [process.execPath, FIXTURE], env: { FIXTURE_ENVIRONMENTS: JSON.stringify({ default: ws.pythons.default }) } };
    });
    const { code, lines } = await run(path);
    expect(lines.filter((line) => line.startsWith("FAIL"))).toEqual([]);
    expect(code).toBe(0);
    const line = lines.find((entry) => entry.includes("upstream containment"));
    expect(line).toMatch(/^WARN {2}upstream containment: WARNING: the upstream runs uncontained: .*site-packages.*network.*upstream\.sandbox: true/);
  });

  it("lists what a contained upstream will see of the host: the environment read-only, the working directory read-write", async () => {
    const workdir = join(ws.dir, "upstream-work");
    mkdirSync(workdir, { recursive: true });
    const path = variant("contained.yaml", (copy) => {
      copy.upstream = {
        command: [node, FIXTURE],
        env: { FIXTURE_WORKDIR: workdir, FIXTURE_ENVIRONMENTS: JSON.stringify({ default: ws.pythons.default }) },
        sandbox: { workdir, mounts: { read_only: [...new Set([node, PROJECT, realpathSync(join(PROJECT, "node_modules"))])] } },
      };
    });
    const { code, lines } = await run(path);
    expect(lines.filter((line) => line.startsWith("FAIL"))).toEqual([]);
    expect(code).toBe(0);
    expect(lines).toContainEqual(expect.stringMatching(/^ok {4}upstream containment: contained: no network, read-only root/));
    expect(lines).toContainEqual(expect.stringMatching(/^ok {4}upstream image: pipgate-sandbox:py3\.\d+ \(Python 3\.\d+\)$/));
    const mounts = lines.filter((line) => line.includes("upstream mount:"));
    expect(mounts).toContain(`ok    upstream mount: ro ${join(ws.dir, "venvs", "default")}: environment default (sys.prefix)`);
    expect(mounts).toContain(`ok    upstream mount: rw ${workdir}: the working directory`);
    expect(mounts).toContainEqual(expect.stringMatching(/^ok {4}upstream mount: ro \S+: environment default \(sys\.base_prefix\)$/));
    expect(mounts).toContain(`ok    upstream mount: ro ${node}: upstream.sandbox.mounts.read_only`);
    // and it started: the environments the contained upstream names are pipgate's
    expect(lines).toContain("ok    upstream environments: pipgate's environments are the upstream's: default");
  });

  it("fails naming the mount when a contained upstream's working directory holds an environment", async () => {
    const path = variant("contained-bad.yaml", (copy) => {
      copy.upstream = { command: [node, FIXTURE], sandbox: { workdir: join(ws.dir, "venvs") } };
    });
    const { code, lines } = await run(path);
    expect(code).toBe(1);
    expect(lines.find((line) => line.includes("upstream containment"))).toMatch(
      /^FAIL {2}upstream containment: the contained upstream cannot start: the working directory: .*venvs is writable in the container and overlaps .*must stay read-only/,
    );
  });

  it("reports a state database that is not a database as FAIL lines instead of crashing", async () => {
    const stateDir = join(ws.dir, "damaged-state");
    mkdirSync(stateDir);
    writeFileSync(join(stateDir, "state.sqlite"), "this is not SQLite\n".repeat(512));
    const path = variant("damaged.yaml", (copy) => {
      copy.state_dir = stateDir;
    });
    const { code, lines } = await run(path);
    expect(code).toBe(1);
    expect(lines).toContain(`FAIL  state directory: ${stateDir}: file is not a database`);
    expect(lines).toContain("FAIL  audit chain: cannot be checked: the state database did not open");
    expect(lines.find((line) => line.includes("environment default"))).toMatch(/^ok/);
  });

  it("fails the audit line naming the record whose body was edited in the database", async () => {
    const db = openStateDb(ws.stateDir);
    const log = createAuditLog(db);
    const records: AuditRecord[] = [];
    for (const outcome of ["denied", "listed", "allowed"])
      records.push(
        await log.append({
          identity: "agent",
          tool: "check_package",
          environment: "default",
          package: "demo-lib",
          outcome: outcome as "denied" | "listed" | "allowed",
          arguments: { package_name: "demo-lib" },
          reason: `reason ${outcome}`,
        }),
      );
    db.close();
    expect((await run(ws.configPath)).lines).toContain("ok    audit chain: intact, 3 record(s)");

    // The intruder's way: plain SQL on the file, not pipgate's code.
    const intruder = new Database(join(ws.stateDir, "state.sqlite"));
    try {
      const changed = intruder.prepare("UPDATE audit SET body = replace(body, 'reason allowed', 'reason nothing to see') WHERE id = ?").run(records[2]!.id);
      expect(changed.changes).toBe(1);
    } finally {
      intruder.close();
    }
    const { code, lines } = await run(ws.configPath);
    expect(code).toBe(1);
    const audit = lines.find((line) => line.includes("audit chain"));
    expect(audit).toBe(`FAIL  audit chain: broken at ${records[2]!.id} (edited): run pipgate audit verify`);
    expect(lines.filter((line) => line.startsWith("FAIL"))).toHaveLength(1);
  });
});
