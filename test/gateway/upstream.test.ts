import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Progress } from "@modelcontextprotocol/sdk/types.js";
import { stringify } from "yaml";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import { UpstreamSchema, type UpstreamConfig } from "../../src/config/upstream-schema.js";
import { transportFor } from "../../src/gateway/transports.js";
import { openUpstreamSession, type UpstreamSession } from "../../src/gateway/upstream.js";
import { silentLogger } from "../../src/log.js";
import { createVenvWithPip, REPO_ROOT } from "../support/harness.js";
import { freePort } from "../support/serve-process.js";

const FIXTURE = join(REPO_ROOT, "dist", "test", "fixtures", "upstream", "interpreter-server.js");
const EVERYTHING = join(REPO_ROOT, "node_modules", "@modelcontextprotocol", "server-everything", "dist", "index.js");
const log = silentLogger();
const clientInfo = { name: "pipgate-test", version: "1.0.0" };

const dir = mkdtempSync(join(tmpdir(), "pipgate-upstream-"));
const open: UpstreamSession[] = [];

beforeAll(() => {
  if (!existsSync(FIXTURE)) throw new Error(`${FIXTURE} is missing: build the fixtures first (npx tsc -p tsconfig.json)`);
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((session) => session.close()));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function stdio(command: string[], env: Record<string, string> = {}, extra: Record<string, unknown> = {}): UpstreamConfig {
  return UpstreamSchema.parse({ command, env, restart: { initial_ms: 50, max_ms: 400 }, ...extra });
}

function fixture(env: Record<string, string> = {}, extra: Record<string, unknown> = {}): UpstreamConfig {
  const workdir = mkdtempSync(join(dir, "work-"));
  return stdio([process.execPath, FIXTURE], { FIXTURE_WORKDIR: workdir, ...env }, extra);
}

async function connect(config: UpstreamConfig): Promise<UpstreamSession> {
  const opened = await openUpstreamSession(transportFor(config, log), { log, restart: config.restart, clientInfo });
  if (!opened.ok) throw new Error(opened.error);
  open.push(opened.value);
  return opened.value;
}

function textOf(result: { ok: true; value: { content: unknown[] } } | { ok: false; error: string }): string {
  if (!result.ok) throw new Error(result.error);
  return result.value.content.map((part) => (part as { text?: string }).text ?? "").join("");
}

/** Gone: no such process, or only a zombie waiting for its (former) parent to reap it. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

async function eventually(check: () => boolean, ms = 5000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return check();
}

describe("an upstream session against server-everything (stdio)", () => {
  const everything = () => stdio([process.execPath, EVERYTHING, "stdio"]);

  it("lists tools, resources, templates and prompts, calls echo, reads a resource and gets a prompt", async () => {
    const session = await connect(everything());
    expect(session.serverInfo()?.name).toMatch(/everything/i);
    expect(session.capabilities()?.tools).toBeDefined();

    const tools = await session.listTools();
    expect(tools.ok && tools.value.map((t) => t.name)).toEqual(expect.arrayContaining(["echo", "get-sum", "trigger-long-running-operation"]));
    expect(textOf(await session.callTool("echo", { message: "through the gateway" }))).toBe("Echo: through the gateway");

    const resources = await session.listResources();
    if (!resources.ok) throw new Error(resources.error);
    expect(resources.value.length).toBeGreaterThan(0);
    const first = resources.value[0]!;
    const read = await session.readResource(first.uri);
    expect(read.ok && read.value.contents[0]?.uri).toBe(first.uri);

    const templates = await session.listResourceTemplates();
    expect(templates.ok && templates.value.length).toBeGreaterThan(0);

    const prompts = await session.listPrompts();
    expect(prompts.ok && prompts.value.map((p) => p.name)).toEqual(expect.arrayContaining(["simple-prompt", "args-prompt"]));
    const prompt = await session.getPrompt("simple-prompt", {});
    expect(prompt.ok && prompt.value.messages.length).toBeGreaterThan(0);
  });

  it("passes progress notifications of a long call through", async () => {
    const session = await connect(everything());
    const progress: Progress[] = [];
    const result = await session.callTool("trigger-long-running-operation", { duration: 1, steps: 4 }, { onprogress: (p) => progress.push(p) });
    expect(textOf(result)).toMatch(/Long running operation completed/);
    // The SDK dispatches notifications a microtask later than responses, so the last one, sent just
    // before the result, can arrive after the call has settled and is then dropped by the SDK.
    expect(progress.map((p) => p.progress).slice(0, 3)).toEqual([1, 2, 3]);
    expect(progress[0]?.total).toBe(4);
  });

  it("cancels a long call promptly when its signal aborts, and the session goes on", async () => {
    const session = await connect(everything());
    const controller = new AbortController();
    const started = Date.now();
    const call = session.callTool(
      "trigger-long-running-operation",
      { duration: 30, steps: 30 },
      {
        signal: controller.signal,
        onprogress: () => controller.abort(),
      },
    );
    const result = await call;
    expect(result).toEqual({ ok: false, error: "trigger-long-running-operation was cancelled" });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(textOf(await session.callTool("echo", { message: "after" }))).toBe("Echo: after");
  });
});

describe("an upstream session against the interpreter fixture", () => {
  it("offers the interpreter's ten tools with their arguments, and its prompts", async () => {
    const session = await connect(fixture({ FIXTURE_DESCRIPTION_SUFFIX: " (changed)" }));
    const tools = await session.listTools();
    if (!tools.ok) throw new Error(tools.error);
    expect(tools.value.map((t) => t.name).sort()).toEqual([
      "clear_session",
      "install_package",
      "list_directory",
      "list_installed_packages",
      "list_python_environments",
      "list_sessions",
      "read_file",
      "run_python_code",
      "run_python_file",
      "write_file",
    ]);
    const run = tools.value.find((t) => t.name === "run_python_code");
    expect(Object.keys(run?.inputSchema.properties ?? {}).sort()).toEqual(["code", "environment", "execution_mode", "save_as", "session_id", "timeout"]);
    expect(run?.description).toMatch(/ \(changed\)$/);
    const prompts = await session.listPrompts();
    expect(prompts.ok && prompts.value.length).toBeGreaterThan(0);
    expect(session.instructions()).toMatch(/fixture/);
  });

  it("gives each session its own process: a variable set in A is not seen in B", async () => {
    const a = await connect(fixture());
    const b = await connect(fixture());
    expect(a.pid()).not.toBe(b.pid());
    const set = await a.callTool("run_python_code", { code: "x = 41" });
    expect(set.ok && set.value.isError !== true).toBe(true);
    expect(textOf(await a.callTool("run_python_code", { code: "print(x + 1)" })).trim()).toBe("42");
    const inB = await b.callTool("run_python_code", { code: "print(x)" });
    expect(inB.ok && inB.value.isError).toBe(true);
    expect(textOf(inB)).toMatch(/NameError: name 'x' is not defined/);
    expect(textOf(await b.callTool("run_python_code", { code: "import sys; print(sys.version_info[0])", execution_mode: "subprocess" })).trim()).toBe("3");
  });

  it("fails a call in flight at once when the upstream crashes, saying so, and the next call works after the restart", async () => {
    const session = await connect(fixture({ FIXTURE_CRASH_ON: "list_sessions" }));
    let restarts = 0;
    session.onRestart(() => (restarts += 1));
    const before = session.pid();
    const started = Date.now();
    const crashed = await session.callTool("list_sessions", {});
    expect(Date.now() - started).toBeLessThan(3000);
    expect(crashed.ok).toBe(false);
    expect(crashed.ok ? "" : crashed.error).toMatch(
      /^the upstream server exited \(code 3, last stderr: fixture: crashing in list_sessions as FIXTURE_CRASH_ON asks\) while list_sessions ran; pipgate is restarting it; retry the call$/,
    );
    expect(textOf(await session.callTool("run_python_code", { code: "print('back')" })).trim()).toBe("back");
    expect(session.pid()).toBeDefined();
    expect(session.pid()).not.toBe(before);
    expect(restarts).toBe(1);
  });

  it("fails a call waiting on a restart that fails, clearly, and backs off until a restart succeeds", async () => {
    // Starts fine once, then refuses to start twice (exit 5), then starts again.
    const count = join(mkdtempSync(join(dir, "count-")), "starts");
    const script = `n=$(cat "${count}" 2>/dev/null || echo 0); echo $((n+1)) > "${count}"; if [ "$n" -ge 1 ] && [ "$n" -lt 3 ]; then echo "refusing start $n" >&2; exit 5; fi; exec "${process.execPath}" "${FIXTURE}"`;
    const config = stdio(["/bin/sh", "-c", script], { FIXTURE_CRASH_ON: "list_sessions", FIXTURE_WORKDIR: dir });
    const session = await connect(config);
    expect((await session.callTool("list_sessions", {})).ok).toBe(false);
    const started = Date.now();
    const waiting = await session.callTool("run_python_code", { code: "print(1)" });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(waiting).toEqual({
      ok: false,
      error: "the upstream server could not be restarted (the upstream server exited (code 5, last stderr: refusing start 1)); pipgate tries again in 100 ms",
    });
    expect(await eventually(() => readFileSync(count, "utf8").trim() === "4", 5000)).toBe(true);
    expect(textOf(await session.callTool("run_python_code", { code: "print('up again')" })).trim()).toBe("up again");
  });

  it("leaves no process behind after close(): neither the upstream nor what it started", async () => {
    const session = await connect(fixture());
    const pid = session.pid();
    expect(pid).toBeDefined();
    await session.callTool("run_python_code", { code: "y = 1" });
    const listed = JSON.parse(textOf(await session.callTool("list_sessions", {}))) as Array<{ pid: number }>;
    const repl = listed[0]?.pid;
    expect(repl).toBeDefined();
    // A grandchild that holds no pipe it would notice closing: only the process group reaches it.
    const code =
      "import subprocess; p = subprocess.Popen(['sleep', '300'], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); print(p.pid)";
    const sleeper = Number(textOf(await session.callTool("run_python_code", { code })).trim());
    expect(Number.isInteger(sleeper) && running(sleeper)).toBe(true);
    expect(running(pid!) && running(repl!)).toBe(true);
    await session.close();
    expect(running(pid!)).toBe(false);
    expect(await eventually(() => !running(repl!) && !running(sleeper))).toBe(true);
    expect(await session.callTool("list_sessions", {})).toEqual({ ok: false, error: "the upstream session is closed" });
  });

  it("bounds a call by its timeout, and fails a call in flight when the session closes", async () => {
    const session = await connect(fixture());
    const slow = { code: "import time; time.sleep(30)", execution_mode: "subprocess" };
    const started = Date.now();
    expect(await session.callTool("run_python_code", slow, { timeoutMs: 500 })).toEqual({
      ok: false,
      error: "the upstream server did not answer run_python_code within 500 ms",
    });
    expect(Date.now() - started).toBeLessThan(3000);
    const inFlight = session.callTool("run_python_code", slow);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await session.close();
    expect(await inFlight).toEqual({ ok: false, error: "the upstream session was closed while run_python_code ran" });
  });

  it("fails to open, saying why, when the command cannot be started or exits before the handshake", async () => {
    const missing = stdio(["/nonexistent/upstream-server"]);
    const opened = await openUpstreamSession(transportFor(missing, log), { log, restart: missing.restart, clientInfo });
    expect(opened).toEqual({
      ok: false,
      error: "cannot start the upstream server: the upstream server could not be started (spawn /nonexistent/upstream-server ENOENT)",
    });
    const exits = stdio(["/bin/sh", "-c", "echo 'no module named mcp_python_interpreter' >&2; exit 1"]);
    const exited = await openUpstreamSession(transportFor(exits, log), { log, restart: exits.restart, clientInfo });
    expect(exited).toEqual({
      ok: false,
      error: "cannot start the upstream server: the upstream server exited (code 1, last stderr: no module named mcp_python_interpreter)",
    });
  });

  it("refuses a 50 MB line with a clear error, holding only a bounded part of it", async () => {
    const config = fixture({ FIXTURE_HUGE_LINE: "1" }, { max_message_kb: 1024 });
    const baseline = process.memoryUsage().arrayBuffers;
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers)), 2);
    const opened = await openUpstreamSession(transportFor(config, log), { log, restart: config.restart, clientInfo });
    clearInterval(sampler);
    if (opened.ok) open.push(opened.value);
    expect(opened.ok).toBe(false);
    expect(opened.ok ? "" : opened.error).toMatch(
      /^cannot start the upstream server: the upstream server was stopped: it sent a message of more than 1024 KB \(\d+ bytes read so far; the limit is upstream.max_message_kb\)$/,
    );
    expect(peak - baseline).toBeLessThan(16 * 1024 * 1024);
  });

  it("lists a venv's packages with pip isolated, and the raw install_package only logs (it never runs pip)", async () => {
    const venv = await createVenvWithPip(join(dir, "venv"));
    const installLog = join(dir, "install.log");
    const session = await connect(fixture({ FIXTURE_ENVIRONMENTS: JSON.stringify({ default: venv }), FIXTURE_INSTALL_LOG: installLog }));
    const packages = JSON.parse(textOf(await session.callTool("list_installed_packages", {}))) as Array<{ name: string }>;
    expect(packages.map((p) => p.name)).toContain("pip");
    expect(textOf(await session.callTool("install_package", { package_name: "requests" }))).toBe("Successfully installed requests");
    expect(
      readFileSync(installLog, "utf8")
        .trim()
        .split("\n")
        .map((line) => (JSON.parse(line) as { package_name: string }).package_name),
    ).toEqual(["requests"]);
  });

  it("does not pass pipgate's own environment to the upstream, only PATH, HOME, LANG and upstream.env", async () => {
    process.env.PIPGATE_TEST_SECRET = "must-not-leak";
    try {
      const session = await connect(fixture({ EXTRA: "given" }));
      const code = "import os, json; print(json.dumps(sorted(os.environ)))";
      const names = JSON.parse(textOf(await session.callTool("run_python_code", { code, execution_mode: "subprocess" }))) as string[];
      expect(names).not.toContain("PIPGATE_TEST_SECRET");
      expect(names).toEqual(expect.arrayContaining(["EXTRA", "PATH", "PIP_CONFIG_FILE"]));
    } finally {
      delete process.env.PIPGATE_TEST_SECRET;
    }
  });
});

describe("an upstream session over Streamable HTTP", () => {
  let upstream: ChildProcess;
  let proxy: Server;
  let proxyPort = 0;
  const token = "up-token-123";
  const seen: Array<{ method: string; authorized: boolean }> = [];
  /** When set, the proxy answers the next POST in an HTTP session 404, as an upstream that forgot it would. */
  let forgetNextSession = false;

  beforeAll(async () => {
    const port = await freePort();
    upstream = spawn(process.execPath, [EVERYTHING, "streamableHttp"], {
      env: { PATH: process.env.PATH ?? "", PORT: String(port) },
      stdio: ["ignore", "ignore", "pipe"],
    });
    await new Promise<void>((resolve, reject) => {
      let stderr = "";
      const timer = setTimeout(() => reject(new Error(`server-everything did not start: ${stderr}`)), 20_000);
      upstream.stderr?.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes("listening on port")) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    // In front of it, a proxy that lets only requests carrying the configured bearer token through.
    proxy = createServer((req, res) => {
      const authorized = req.headers.authorization === `Bearer ${token}`;
      seen.push({ method: req.method ?? "", authorized });
      if (!authorized) {
        res.writeHead(401).end();
        return;
      }
      if (forgetNextSession && req.method === "POST" && req.headers["mcp-session-id"] !== undefined) {
        forgetNextSession = false;
        req.resume();
        res.writeHead(404, { "content-type": "application/json" }).end('{"jsonrpc":"2.0","error":{"code":-32001,"message":"Session not found"},"id":null}');
        return;
      }
      const forward = request({ host: "127.0.0.1", port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      forward.on("error", () => res.destroy());
      req.pipe(forward);
    });
    proxyPort = await new Promise<number>((resolve) => proxy.listen(0, "127.0.0.1", () => resolve((proxy.address() as { port: number }).port)));
  });

  afterAll(async () => {
    proxy?.closeAllConnections();
    await new Promise((resolve) => proxy?.close(resolve));
    upstream?.kill("SIGKILL");
  });

  it("connects with url and a header from an environment variable, lists and calls, and ends its session on close", async () => {
    const file = join(dir, "http-pipgate.yaml");
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      file,
      stringify({
        environments: { default: { python: "p", allowlist: "a" } },
        upstream: { url: `http://127.0.0.1:${proxyPort}/mcp`, headers: { Authorization: "Bearer ${UPSTREAM_TOKEN}" } },
      }),
    );
    const loaded = loadConfig(file, { UPSTREAM_TOKEN: token });
    if (!loaded.ok) throw new Error(loaded.issues.join("\n"));
    const session = await connect(loaded.config.upstream!);
    const tools = await session.listTools();
    expect(tools.ok && tools.value.map((t) => t.name)).toContain("echo");
    expect(textOf(await session.callTool("echo", { message: "over http" }))).toBe("Echo: over http");
    await session.close();
    expect(seen.length).toBeGreaterThan(2);
    expect(seen.every((s) => s.authorized)).toBe(true);
    expect(seen.map((s) => s.method)).toContain("DELETE");
  });

  it("opens a new HTTP session when the upstream forgot the old one (404), after failing that call clearly", async () => {
    const config = UpstreamSchema.parse({
      url: `http://127.0.0.1:${proxyPort}/mcp`,
      headers: { Authorization: `Bearer ${token}` },
      restart: { initial_ms: 20, max_ms: 100 },
    });
    const session = await connect(config);
    forgetNextSession = true;
    expect(await session.callTool("echo", { message: "lost" })).toEqual({
      ok: false,
      error: "the upstream server ended its HTTP session while echo ran; pipgate is opening a new one; retry the call",
    });
    expect(textOf(await session.callTool("echo", { message: "found" }))).toBe("Echo: found");
  });

  it("fails to open, clearly, when the upstream refuses the credentials", async () => {
    const config = UpstreamSchema.parse({ url: `http://127.0.0.1:${proxyPort}/mcp`, headers: { Authorization: "Bearer wrong" } });
    const opened = await openUpstreamSession(transportFor(config, log), { log, restart: config.restart, clientInfo });
    if (opened.ok) open.push(opened.value);
    expect(opened.ok ? "" : opened.error).toMatch(/^cannot start the upstream server: the upstream server did not complete the MCP handshake: .*\(HTTP 401\)$/);
  });
});
