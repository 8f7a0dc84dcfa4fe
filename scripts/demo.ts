// `make demo`: a scripted agent session against `pipgate serve`, end to end on real parts: a local
// package index (no network needed), a real venv, the Docker sandbox, and a real MCP client over stdio.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { execa } from "execa";
import { stringify } from "yaml";
import { packageRoot } from "../src/paths.js";
import { buildSdist, buildWheel } from "../test/fixtures/dists.js";
import { startIndexServer } from "../test/fixtures/index-server.js";

type ToolResult = { content: Array<{ type: string; text?: string }>; isError?: boolean; structuredContent?: Record<string, unknown> };

const bold = (text: string) => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text);
const say = (text: string) => process.stdout.write(`${text}\n`);
const indent = (text: string) =>
  text
    .split("\n")
    .map((line) => `    ${line}`)
    .join("\n");

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<ToolResult> {
  say(`\n${bold(`agent → ${name}`)} ${JSON.stringify(args)}`);
  const result = (await client.callTool({ name, arguments: args }, undefined, {
    timeout: 300_000,
    onprogress: (progress) => say(`    … ${progress.message ?? ""}`),
  })) as ToolResult;
  say(`${result.isError === true ? "  ✗ refused/failed:" : "  ✓"}\n${indent(result.content.map((part) => part.text ?? "").join("\n"))}`);
  return result;
}

async function main(): Promise<number> {
  const root = packageRoot();
  const dir = mkdtempSync(join(tmpdir(), "pipgate-demo-"));
  const index = await startIndexServer({
    projects: [
      {
        name: "tinyhttp",
        releases: [{ version: "2.31.0", dists: [buildWheel({ name: "tinyhttp", version: "2.31.0", dependencies: ["tinyurl-parse>=1.0"] })] }],
      },
      { name: "tinyurl-parse", releases: [{ version: "1.4.0", dists: [buildSdist({ name: "tinyurl-parse", version: "1.4.0" })] }] },
      { name: "requests", releases: [{ version: "2.32.3", dists: [buildWheel({ name: "requests", version: "2.32.3" })] }] },
      { name: "reqeusts", releases: [{ version: "0.0.1", dists: [buildWheel({ name: "reqeusts", version: "0.0.1" })] }] },
    ],
  });
  let closeClient: () => Promise<void> = async () => undefined;
  say(`${bold("pipgate demo")}: a local index at ${index.url}, a fresh venv, the Docker sandbox, an MCP client over stdio.`);
  try {
    const venv = join(dir, "venv");
    await execa("python3", ["-m", "venv", venv], { env: { ...process.env, PIP_CONFIG_FILE: "/dev/null" } });
    const allowlist = join(dir, "allowlist.yaml");
    writeFileSync(
      allowlist,
      '# what agents may install into the demo venv\npackages:\n  tinyhttp: ">=2.31,<3"\n  tinyurl-parse: "*"   # tinyhttp\'s dependency, built from an sdist in the sandbox\n  requests: "==2.32.3"\ndeny:\n  - evil-pkg\n',
    );
    const config = join(dir, "pipgate.yaml");
    writeFileSync(
      config,
      stringify({
        index: { url: index.url },
        state_dir: join(dir, "state"),
        identity: "demo-agent",
        environments: { default: { python: join(venv, "bin", "python"), allowlist } },
      }),
    );

    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [join(root, "dist", "src", "cli", "bin.js"), "serve", "--config", config],
      env: { ...(process.env as Record<string, string>), PIPGATE_LOG_LEVEL: "warn" },
      stderr: "inherit",
    });
    const client = new Client({ name: "pipgate-demo-agent", version: "1.0.0" });
    await client.connect(transport);
    closeClient = () => client.close();
    const { tools } = await client.listTools();
    say(`connected; tools: ${tools.map((tool) => tool.name).join(", ")}`);

    await call(client, "list_environments", {});
    await call(client, "list_allowed_packages", { environment: "default" });
    await call(client, "check_package", { package_name: "tinyhttp" });
    const installed = await call(client, "install_package", { package_name: "tinyhttp", environment: "default" });
    await call(client, "install_package", { package_name: "reqeusts" });
    await call(client, "install_package", { package_name: "requests==2.0.0" });
    await call(client, "install_package", { package_name: "-r /etc/passwd" });
    await call(client, "list_installed_packages", { environment: "default" });
    await client.close();

    const imported = await execa(
      join(venv, "bin", "python"),
      ["-c", "import tinyhttp, tinyurl_parse; print(tinyhttp.__version__, tinyurl_parse.__version__)"],
      { reject: false },
    );
    say(`\n${bold("the venv imports what was installed:")} ${imported.stdout.trim() || imported.stderr.trim()}`);

    // Gateway mode: the same pipgate in front of a whole Python-interpreter MCP server (a fixture with
    // mcp-python-interpreter's tools), the policy naming the tools the agent may use.
    say(`\n${bold("gateway mode")}: pipgate in front of an interpreter MCP server; the policy names install_package and run_python_code`);
    const policy = join(dir, "policy.json");
    writeFileSync(
      policy,
      JSON.stringify({
        version: "1",
        default: "deny",
        tools: { install_package: { limits: [{ counter: "installs", window: "minute", max: 10, scope: "grant" }] }, run_python_code: {} },
      }),
    );
    const rawInstalls = join(dir, "raw-installs.log");
    const upstream = {
      command: [process.execPath, join(root, "dist", "test", "fixtures", "upstream", "interpreter-server.js")],
      env: { FIXTURE_ENVIRONMENTS: JSON.stringify({ default: join(venv, "bin", "python") }), FIXTURE_INSTALL_LOG: rawInstalls, FIXTURE_WORKDIR: dir },
    };
    const gatewayConfig = join(dir, "gateway.yaml");
    writeFileSync(
      gatewayConfig,
      stringify({
        index: { url: index.url },
        state_dir: join(dir, "state"),
        identity: "demo-agent",
        policy,
        upstream,
        environments: { default: { python: join(venv, "bin", "python"), allowlist } },
      }),
    );
    const gatewayClient = new Client({ name: "pipgate-demo-agent", version: "1.0.0" });
    await gatewayClient.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [join(root, "dist", "src", "cli", "bin.js"), "serve", "--config", gatewayConfig],
        env: { ...(process.env as Record<string, string>), PIPGATE_LOG_LEVEL: "warn" },
        stderr: "inherit",
      }),
    );
    closeClient = () => gatewayClient.close();
    say(`connected through the gateway; tools: ${(await gatewayClient.listTools()).tools.map((tool) => tool.name).join(", ")}`);
    await call(gatewayClient, "write_file", { file_path: join(dir, "venv", "lib", "evil.pth"), content: "import os" });
    await call(gatewayClient, "install_package", { package_name: "requests==2.32.3" });
    const ran = await call(gatewayClient, "run_python_code", {
      code: "import requests; print('requests', requests.__version__)",
      execution_mode: "subprocess",
      environment: "default",
    });
    await gatewayClient.close();
    const gatewayOk = ran.isError !== true && (ran.content[0]?.text ?? "").includes("requests 2.32.3");

    const cli = join(root, "dist", "src", "cli", "bin.js");
    say(`\n${bold("auditor → pipgate audit list")}`);
    const list = await execa(process.execPath, [cli, "audit", "list", "--config", config], { reject: false });
    say(indent(list.stdout || list.stderr));
    say(`\n${bold("auditor → pipgate audit verify")}`);
    const verify = await execa(process.execPath, [cli, "audit", "verify", "--config", config], { reject: false });
    say(indent(verify.stdout || verify.stderr));

    const ok = installed.isError !== true && imported.exitCode === 0 && gatewayOk && verify.exitCode === 0;
    say(`\n${ok ? "demo complete" : "demo FAILED"}`);
    return ok ? 0 : 1;
  } finally {
    await closeClient().catch(() => undefined);
    await index.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`demo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
