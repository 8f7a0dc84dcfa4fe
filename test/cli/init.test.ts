import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { capture } from "../allowlist/helpers.js";
import { buildWheel } from "../fixtures/dists.js";
import { startIndexServer, type IndexServer } from "../fixtures/index-server.js";
import { createVenv, runPip } from "../fixtures/pip.js";
import { requireDocker } from "../support/harness.js";
import { connectStdio } from "../support/stdio-client.js";

const packagesOf = (file: string) => (parse(readFileSync(file, "utf8")) as { packages: Record<string, string> }).packages;

// A real venv (python3 -m venv) with real wheels from the local index, then everything a new maintainer does.
describe("pipgate init --from-venv, then doctor, check, serve, sync and lint --unused", () => {
  let dir: string;
  let index: IndexServer;
  let python: string;
  let config: string;
  let allowlist: string;

  const run = async (...argv: string[]) => {
    const io = capture();
    const code = await main(argv, io);
    return { code, out: io.out(), err: io.err() };
  };

  beforeAll(async () => {
    await requireDocker();
    dir = mkdtempSync(join(tmpdir(), "pipgate-init-"));
    index = await startIndexServer({
      projects: [
        { name: "demo-app", releases: [{ version: "1.0.0", dists: [buildWheel({ name: "demo-app", version: "1.0.0", dependencies: ["demo-lib>=1.0"] })] }] },
        { name: "demo-lib", releases: [{ version: "1.0.0", dists: [buildWheel({ name: "demo-lib", version: "1.0.0" })] }] },
        { name: "extra-lib", releases: [{ version: "2.0.0", dists: [buildWheel({ name: "extra-lib", version: "2.0.0" })] }] },
      ],
    });
    python = await createVenv(join(dir, "venv"));
    const installed = await runPip(python, "install", ["--index-url", index.url, "demo-app"]);
    expect(installed.exitCode, installed.stderr).toBe(0);
    config = join(dir, "site", "pipgate.yaml");
    allowlist = join(dir, "site", "allowlists", "default.yaml");
  });

  afterAll(async () => {
    await index?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("init pins what the venv has, marks what nothing requires as requested, and doctor passes every check", async () => {
    const init = await run("init", "--from-venv", join(dir, "venv"), "--dir", join(dir, "site"), "--index-url", index.url);
    expect(init.err).toBe("");
    expect(init.code).toBe(0);
    expect(init.out).toContain("2 distribution(s) pinned, 1 marked requested");
    expect(packagesOf(allowlist)).toEqual({ "demo-app": "==1.0.0", "demo-lib": "==1.0.0" });
    const text = readFileSync(allowlist, "utf8");
    expect(text).toMatch(new RegExp(`demo-app: "==1\\.0\\.0" +# requested; from ${python}\\n`));
    expect(text).toMatch(new RegExp(`demo-lib: "==1\\.0\\.0" +# from ${python}; required by demo-app\\n`));

    const doctor = await run("doctor", "--config", config);
    expect(doctor.out.split("\n").filter((line) => line !== "" && !line.startsWith("ok  "))).toEqual([]);
    expect(doctor.code).toBe(0);
    expect(doctor.out).toMatch(/ok {4}environment default: .*2 allowed package\(s\)/);

    // a second init writes nothing
    const again = await run("init", "--from-venv", python, "--dir", join(dir, "site"));
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/exist; nothing written/);
  });

  it("check allows the pinned versions and refuses others and unlisted names", async () => {
    expect((await run("check", "default", "demo-lib==1.0.0", "--config", config)).code).toBe(0);
    expect((await run("check", "default", "demo-app", "--config", config)).code).toBe(0);
    const other = await run("check", "default", "extra-lib", "--config", config);
    expect(other.code).toBe(3);
    expect(other.out).toMatch(/extra-lib/);
  });

  it("serve answers tools/list and check_package through a real MCP client", async () => {
    const { client, close, stderr } = await connectStdio(config);
    try {
      const tools = await client.listTools();
      expect(tools.tools.map((tool) => tool.name).sort(), stderr()).toEqual([
        "check_package",
        "install_package",
        "list_allowed_packages",
        "list_environments",
        "list_installed_packages",
      ]);
      const checked = await client.callTool({ name: "check_package", arguments: { package_name: "demo-lib==1.0.0", environment: "default" } });
      expect(checked.isError, JSON.stringify(checked.content)).toBeFalsy();
    } finally {
      await close();
    }
  });

  it("sync --from-venv follows an upgrade in the venv: dry run first, then one write with the old pin in the comment", async () => {
    index.addProject({
      name: "demo-lib",
      releases: [
        { version: "1.0.0", dists: [buildWheel({ name: "demo-lib", version: "1.0.0" })] },
        { version: "1.1.0", dists: [buildWheel({ name: "demo-lib", version: "1.1.0" })] },
      ],
    });
    const upgraded = await runPip(python, "install", ["--index-url", index.url, "--upgrade", "demo-lib"]);
    expect(upgraded.exitCode, upgraded.stderr).toBe(0);

    const before = readFileSync(allowlist, "utf8");
    const dry = await run("allowlist", "sync", "--from-venv", python, "--config", config, "--dry-run", "--json");
    expect(dry.code, dry.err).toBe(0);
    const report = JSON.parse(dry.out) as { dry_run: boolean; written: boolean; changes: Array<{ name: string; action: string; previous: string | null }> };
    expect(report.dry_run).toBe(true);
    expect(report.written).toBe(false);
    expect(report.changes.map((change) => [change.name, change.action, change.previous])).toEqual([
      ["demo-app", "unchanged", "==1.0.0"],
      ["demo-lib", "updated", "==1.0.0"],
    ]);
    expect(readFileSync(allowlist, "utf8")).toBe(before);

    const sync = await run("allowlist", "sync", "--from-venv", python, "--config", config);
    expect(sync.code, sync.err).toBe(0);
    expect(sync.out).toContain(`~ demo-lib "==1.0.0" -> "==1.1.0"  # from ${python}; required by demo-app; was ==1.0.0`);
    expect(sync.out).toContain(`wrote ${allowlist}`);
    const after = readFileSync(allowlist, "utf8");
    expect(packagesOf(allowlist)["demo-lib"]).toBe("==1.1.0");
    // only that line changed
    expect(after.split("\n").filter((line) => !before.split("\n").includes(line))).toHaveLength(1);
  });

  it("sync --from-lock adds pip-compile's pins, and refuses a lock with a line that is not a plain pin", async () => {
    const lock = join(dir, "requirements.txt");
    writeFileSync(lock, `extra-lib==2.0.0 \\\n    --hash=sha256:${"0".repeat(64)}\n    # via -r requirements.in\n`);
    const sync = await run("allowlist", "sync", "--from-lock", lock, "--config", config);
    expect(sync.code, sync.err).toBe(0);
    expect(sync.out).toContain(`+ extra-lib "==2.0.0"  # requested; from ${lock}:1`);
    expect(packagesOf(allowlist)["extra-lib"]).toBe("==2.0.0");

    const before = readFileSync(allowlist, "utf8");
    writeFileSync(lock, "demo-lib==1.2.0\n--extra-index-url http://127.0.0.1:9/simple\nextra-lib>=2\n");
    const bad = await run("allowlist", "sync", "--from-lock", lock, "--config", config);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain(`${lock}:2: "--extra-index-url http://127.0.0.1:9/simple": --extra-index-url chooses where packages come from`);
    expect(bad.err).toContain(`${lock}:3: "extra-lib>=2": ">=2" is not an exact pin`);
    expect(bad.err).toContain("nothing written");
    expect(readFileSync(allowlist, "utf8")).toBe(before);
  });

  it("lint --unused warns about an entry the venv neither has nor needs, not about requested or installed ones", async () => {
    expect((await run("allowlist", "add", "ghost-lib", "*", "--config", config)).code).toBe(0);
    const lint = await run("allowlist", "lint", "--unused", "--config", config);
    expect(lint.code, lint.err).toBe(0);
    const lines = lint.out.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^${allowlist}:\\d+: unused: packages\\.ghost-lib: not installed in ${python}, required by nothing installed there`));
    expect(lint.err).toContain("1 warning(s)");
    // the plain lint is unchanged: no venv, no warning
    const plain = await run("allowlist", "lint", "--config", config);
    expect(plain.code).toBe(0);
    expect(plain.out).toContain("no problems found");
  });
});
