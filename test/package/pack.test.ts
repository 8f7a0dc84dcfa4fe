import { cpSync, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { execa } from "execa";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/harness.js";

/** The tarball may hold this many files at most: the runtime is ~200 compiled modules and a few data files. */
const MAX_FILES = 400;

/**
 * What a user gets from npm: `npm pack` in a clean copy of the repository (the tracked and new files
 * only, no dist/: prepack must build), installed into an empty prefix with its dependencies from the
 * registry (better-sqlite3 compiles), then the installed `pipgate` run as a user would.
 */
describe("the npm package", () => {
  let work: string;
  let tarball: string;
  let files: string[];
  let bin: string;
  let config: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "pipgate-pack-"));
    const clone = join(work, "clone");
    const listed = await execa("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: REPO_ROOT });
    for (const file of listed.stdout.split("\0").filter((name) => name !== "" && name !== "node_modules")) {
      if (!existsSync(join(REPO_ROOT, file))) continue; // deleted in the work tree
      mkdirSync(dirname(join(clone, file)), { recursive: true });
      cpSync(join(REPO_ROOT, file), join(clone, file));
    }
    symlinkSync(realpathSync(join(REPO_ROOT, "node_modules")), join(clone, "node_modules"));
    const packed = await execa("npm", ["pack", "--json", "--pack-destination", work], { cwd: clone, timeout: 300_000 });
    const info = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("["))) as Array<{ filename: string; files: Array<{ path: string }> }>;
    tarball = join(work, info[0]?.filename ?? "missing.tgz");
    files = (info[0]?.files ?? []).map((file) => file.path);

    const prefix = join(work, "prefix");
    mkdirSync(prefix);
    await execa("npm", ["install", "--prefix", prefix, "--no-audit", "--no-fund", "--no-save", tarball], { timeout: 540_000 });
    bin = join(prefix, "node_modules", ".bin", "pipgate");

    const dir = join(work, "site");
    mkdirSync(dir);
    writeFileSync(join(dir, "allowlist.yaml"), stringify({ packages: { requests: "*" } }));
    config = join(dir, "pipgate.yaml");
    writeFileSync(
      config,
      stringify({
        index: { url: "http://127.0.0.1:9/simple/" },
        state_dir: join(dir, "state"),
        identity: "packaged",
        environments: { default: { python: join(dir, "venv", "bin", "python"), allowlist: "allowlist.yaml" } },
      }),
    );
  }, 900_000);

  afterAll(() => {
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it("holds the runtime only: compiled modules, data files, the sandbox build, LICENSE", () => {
    expect(existsSync(tarball)).toBe(true);
    expect(files.length).toBeGreaterThan(50);
    expect(files.length).toBeLessThanOrEqual(MAX_FILES);
    expect(files).toEqual(
      expect.arrayContaining([
        "LICENSE",
        "README.md",
        "package.json",
        "dist/src/cli/bin.js",
        "dist/bundle/pipgate.js",
        "src/policy/data/top-pypi-projects.txt",
        "sandbox/build-image.sh",
        "sandbox/Dockerfile",
        "sandbox/runtime/forwarder.py",
        "sandbox/runtime/driver.py",
      ]),
    );
    const stray = files.filter((file) => file.endsWith(".ts") || file.endsWith(".map") || /^(test|dist\/test|bench|dist\/bench|scripts|\.ci)\//.test(file));
    expect(stray).toEqual([]);
  });

  it("runs pipgate --help from the installed prefix", async () => {
    const run = await execa(bin, ["--help"], { reject: false, timeout: 60_000 });
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/^usage: pipgate COMMAND/);
  });

  it("runs pipgate doctor, which reports what is missing line by line", async () => {
    const run = await execa(bin, ["doctor", "--config", config], { reject: false, timeout: 120_000 });
    expect(run.exitCode, run.stderr).toBe(1);
    expect(run.stdout).toMatch(/^(ok {2}|FAIL) {2}docker engine: /m);
    expect(run.stdout).toMatch(/^FAIL {2}environment default: /m);
    expect(run.stdout).toMatch(/^ok {4}state directory: /m);
  });

  it("runs pipgate serve, answering initialize and tools/list over stdio", async () => {
    const transport = new StdioClientTransport({
      command: bin,
      args: ["serve", "--config", config],
      stderr: "pipe",
      env: { PATH: process.env.PATH ?? "", PIPGATE_LOG_LEVEL: "error" },
    });
    const client = new Client({ name: "pack-test", version: "0.0.0" });
    try {
      await client.connect(transport);
      expect(client.getServerVersion()?.name).toBe("pipgate");
      const { tools } = await client.listTools();
      expect(tools.map((tool) => tool.name)).toEqual(expect.arrayContaining(["install_package", "check_package", "list_allowed_packages"]));
    } finally {
      await client.close();
    }
  });
});
