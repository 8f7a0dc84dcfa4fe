import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { execa } from "execa";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBundle } from "../../scripts/bundle.js";
import { buildWheel } from "../fixtures/dists.js";
import { startIndexServer, type IndexServer } from "../fixtures/index-server.js";
import { REPO_ROOT } from "../support/harness.js";

/** The tsc build of the same sources: the bundle must answer exactly as it does. */
const MODULES_BIN = join(REPO_ROOT, "dist", "src", "cli", "bin.js");

/**
 * The bundled CLI (scripts/bundle.ts, what package.json's bin runs) built afresh, then run as a user
 * would, side by side with the module-per-file build: the same answers, exit codes and audit records.
 */
describe("the bundled CLI", () => {
  let dir: string;
  let bundle: string;
  let config: string;
  let badConfig: string;
  let indexConfig: string;
  let index: IndexServer;

  beforeAll(async () => {
    bundle = await buildBundle();
    dir = mkdtempSync(join(tmpdir(), "pipgate-bundle-"));
    const python = (await execa("python3", ["-c", "import sys; print(sys.executable)"])).stdout.trim();
    writeFileSync(join(dir, "allowlist.yaml"), stringify({ packages: { requests: "*" } }));
    const base = {
      index: { url: "http://127.0.0.1:9/simple/" },
      state_dir: join(dir, "state"),
      identity: "bundle-test",
      environments: { default: { python, allowlist: "allowlist.yaml" } },
    };
    config = join(dir, "pipgate.yaml");
    writeFileSync(config, stringify(base));
    // a misspelt key and a value of the wrong type: zod's own message and the nearest-key suggestion
    badConfig = join(dir, "bad.yaml");
    writeFileSync(badConfig, stringify({ ...base, sandbox: { memory_mb: "lots", timeout_mxa: 3 } }));
    // a live local index: what the bundle loads on first use (undici, a CommonJS package) must work
    index = await startIndexServer({
      seed: false,
      projects: [{ name: "requests", releases: [{ version: "2.31.0", dists: [buildWheel({ name: "requests", version: "2.31.0" })] }] }],
    });
    indexConfig = join(dir, "live.yaml");
    writeFileSync(indexConfig, stringify({ ...base, index: { url: index.url }, state_dir: join(dir, "live-state") }));
  }, 120_000);

  afterAll(async () => {
    await index?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const run = (bin: string, args: string[]) =>
    execa("node", [bin, ...args], { reject: false, timeout: 60_000, stdin: "ignore", env: { PIPGATE_LOG_LEVEL: "error" } });

  it("is what package.json's bin points at", () => {
    const manifest = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { bin: Record<string, string> };
    expect(join(REPO_ROOT, manifest.bin["pipgate"] ?? "")).toBe(bundle);
    expect(readFileSync(bundle, "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
  });

  it("prints the same usage as the module build", async () => {
    if (!existsSync(MODULES_BIN)) throw new Error(`${MODULES_BIN} is missing: build first (npx tsc -p tsconfig.json)`);
    const [bundled, modules] = await Promise.all([run(bundle, ["--help"]), run(MODULES_BIN, ["--help"])]);
    expect(bundled.exitCode).toBe(0);
    expect(bundled.stdout).toMatch(/^usage: pipgate COMMAND/);
    expect(bundled.stdout).toBe(modules.stdout);
  });

  it("refuses a bad configuration with the same messages (zod's English text, the nearest key)", async () => {
    const [bundled, modules] = await Promise.all([
      run(bundle, ["check", "--config", badConfig, "default", "requests"]),
      run(MODULES_BIN, ["check", "--config", badConfig, "default", "requests"]),
    ]);
    expect(bundled.exitCode).not.toBe(0);
    expect(bundled.stderr).toContain("timeout_mxa: unknown key; did you mean timeout_max?");
    expect(bundled.stderr).toMatch(/memory_mb: .*expected number, received string/);
    expect(bundled.stderr.replaceAll(badConfig, "")).toBe(modules.stderr.replaceAll(badConfig, ""));
    expect(bundled.exitCode).toBe(modules.exitCode);
  });

  it("runs an install to its policy refusal and writes its audit record", async () => {
    const install = await run(bundle, ["install", "--config", config, "default", "not-on-the-list"]);
    expect(install.exitCode, install.stderr).toBe(3);
    expect(install.stdout).toContain("denied: not-on-the-list is not on the allowlist");
    const id = /audit (aud_\w+)/.exec(install.stdout)?.[1];
    expect(id).toBeDefined();
    const shown = await run(bundle, ["audit", "show", "--config", config, id ?? ""]);
    expect(shown.exitCode, shown.stderr).toBe(0);
    expect(shown.stdout).toContain("not-on-the-list");
    const verified = await run(MODULES_BIN, ["audit", "verify", "--config", config]);
    expect(verified.exitCode, verified.stdout + verified.stderr).toBe(0);
  });

  it("asks a live index for a project's releases, as the module build does", async () => {
    // Lazily loaded CommonJS packages come out of the bundle as a default export only: a named import of
    // one failed here once ("request is not a function"), and every install was refused as unreachable.
    const bundled = await run(bundle, ["check", "--config", indexConfig, "default", "requests"]);
    expect(bundled.exitCode, bundled.stdout + bundled.stderr).toBe(0);
    expect(bundled.stdout).toContain("2.31.0");
    expect(bundled.stdout + bundled.stderr).not.toMatch(/could not be reached|is not a function/);
    const modules = await run(MODULES_BIN, ["check", "--config", indexConfig, "default", "requests"]);
    expect(bundled.stdout).toBe(modules.stdout);
  });

  it("serves MCP over stdio: initialize, tools/list and a check_package call", async () => {
    const transport = new StdioClientTransport({
      command: "node",
      args: [bundle, "serve", "--config", config],
      stderr: "pipe",
      env: { PATH: process.env.PATH ?? "", PIPGATE_LOG_LEVEL: "error" },
    });
    const client = new Client({ name: "bundle-test", version: "0.0.0" });
    try {
      await client.connect(transport);
      expect(client.getServerVersion()?.name).toBe("pipgate");
      const { tools } = await client.listTools();
      expect(tools.map((tool) => tool.name)).toEqual(expect.arrayContaining(["install_package", "check_package", "list_allowed_packages"]));
      const checked = await client.callTool({ name: "check_package", arguments: { package_name: "not-on-the-list", environment: "default" } });
      expect(JSON.stringify(checked.structuredContent ?? checked.content)).toContain("not on the allowlist");
    } finally {
      await client.close();
    }
  }, 60_000);
});
