// `node dist/bench/sessions.js`: 3,000 abandoned HTTP sessions against a real `pipgate serve --http`
// child process — its RSS at idle, after the burst, and after the idle timeout (issue 12). Runs on its
// own (no Docker, no pip); writes its section of bench/RESULTS.md, leaving the rest of the file alone.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { stringify } from "yaml";
import { z } from "zod";
import { hashToken } from "../src/grants/tokens.js";
import { packageRoot } from "../src/paths.js";
import { startIndexServer } from "../test/fixtures/index-server.js";
import { rawInitialize, rawPing, rawRequest } from "../test/http/raw-http.js";
import { freePort } from "../test/support/serve-process.js";
import { benchAllowlist } from "./catalogue.js";
import { formatLines, markdownTable, mbText, verdict, type FigureLine } from "./report.js";
import { readProcessMemory } from "./memory.js";
import { replaceSection } from "./results-section.js";
import { baseInterpreter } from "./venvs.js";

export const SessionsEnvSchema = z.object({
  BENCH_SESSIONS: z.coerce.number().int().min(1).max(100_000).default(3000).describe("abandoned sessions opened in the burst"),
  BENCH_SESSION_IDLE_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(600)
    .default(60)
    .describe("http.session_idle_seconds of the serve process; longer than the burst, so all its sessions are open at once"),
  BENCH_SETTLE_SECONDS: z.coerce.number().int().min(0).max(600).default(20).describe("how long after the idle timeout the last RSS is read"),
  BENCH_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(8).describe("initialize requests in flight"),
  BENCH_SERVE_NODE_ARGS: z.string().default("").describe("extra node flags for the serve process, e.g. --trace-gc"),
});

const TOKEN = "bench-sessions-token-0123456789";
const MB = 2 ** 20;
const say = (line = "") => process.stdout.write(`${line}\n`);
const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** "+12.3 MB" / "−4.0 MB": a change against idle. */
function deltaText(bytes: number): string {
  return `${bytes < 0 ? "−" : "+"}${mbText(Math.abs(bytes))}`;
}

function rss(pid: number): number {
  const memory = readProcessMemory(pid);
  return memory.ok ? memory.value.rssBytes : Number.NaN;
}

function hwm(pid: number): number {
  const memory = readProcessMemory(pid);
  return memory.ok ? memory.value.hwmBytes : Number.NaN;
}

async function main(): Promise<number> {
  const parsed = SessionsEnvSchema.safeParse(process.env);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) process.stderr.write(`${issue.path.join(".")}: ${issue.message}\n`);
    return 2;
  }
  const options = parsed.data;
  const idleMs = options.BENCH_SESSION_IDLE_SECONDS * 1000;
  const startedAt = new Date();
  const dir = mkdtempSync(join(tmpdir(), "pipgate-bench-sessions-"));
  const index = await startIndexServer({ projects: [] });
  try {
    const python = join(dir, "venv", "bin", "python");
    await execa(baseInterpreter(), ["-m", "venv", "--without-pip", join(dir, "venv")], { env: { PIP_CONFIG_FILE: "/dev/null" } });
    const allowlist = join(dir, "allowlist.yaml");
    writeFileSync(allowlist, stringify(benchAllowlist()));
    const configPath = join(dir, "pipgate.yaml");
    writeFileSync(
      configPath,
      stringify({
        index: { url: index.url },
        state_dir: join(dir, "state"),
        grants: { bench: { environments: "*", token_sha256: hashToken(TOKEN) } },
        // Caps above the burst, so every session stays open until the idle timeout reclaims it.
        http: {
          session_idle_seconds: options.BENCH_SESSION_IDLE_SECONDS,
          max_sessions_per_grant: options.BENCH_SESSIONS,
          max_sessions: options.BENCH_SESSIONS,
        },
        environments: { default: { python, allowlist } },
      }),
    );

    const port = await freePort();
    const url = `http://127.0.0.1:${String(port)}/mcp`;
    const serve = execa(
      process.execPath,
      [
        ...options.BENCH_SERVE_NODE_ARGS.split(" ").filter(Boolean),
        join(packageRoot(), "dist", "src", "cli", "bin.js"),
        "serve",
        "--config",
        configPath,
        "--http",
        `127.0.0.1:${String(port)}`,
      ],
      {
        env: { PIPGATE_LOG_LEVEL: "warn" },
        reject: false,
      },
    );
    let stderr = "";
    serve.stderr?.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString("utf8")).slice(-20_000)));
    // Node's own diagnostics (--trace-gc) go to stdout; pass them on.
    serve.stdout?.on("data", (chunk: Buffer) => process.stderr.write(chunk));
    const pid = serve.pid;
    if (pid === undefined) throw new Error("pipgate serve did not start");
    try {
      // Up when an unauthenticated request is answered (401).
      for (let attempt = 0; ; attempt += 1) {
        const answer = await rawRequest(url, { body: "{}" }).catch(() => undefined);
        if (answer?.status === 401) break;
        if (attempt > 600 || serve.exitCode !== null) throw new Error(`pipgate serve --http did not come up: ${stderr}`);
        await pause(100);
      }
      say(`pipgate bench — ${String(options.BENCH_SESSIONS)} abandoned HTTP sessions against pipgate serve --http (pid ${String(pid)})`);
      say(
        `  http.session_idle_seconds ${String(options.BENCH_SESSION_IDLE_SECONDS)}, caps ${String(options.BENCH_SESSIONS)}, ${String(options.BENCH_CONCURRENCY)} initialize requests in flight`,
      );

      // Idle: after one session has come and gone (ended by DELETE), so what a first session loads is in the baseline.
      const warm = await rawInitialize(url, TOKEN);
      if (warm.status !== 200 || warm.sessionId === undefined) throw new Error(`the warm-up initialize got ${String(warm.status)}: ${warm.body}`);
      const ended = await rawRequest(url, { method: "DELETE", headers: { authorization: `Bearer ${TOKEN}`, "mcp-session-id": warm.sessionId } });
      if (ended.status !== 200) throw new Error(`ending the warm-up session got ${String(ended.status)}: ${ended.body}`);
      await pause(2000);
      const idleRss = rss(pid);
      say(`  idle: ${mbText(idleRss)}`);

      const agent = new Agent({ keepAlive: true, maxSockets: options.BENCH_CONCURRENCY });
      const ids: string[] = [];
      let failures = 0;
      const burstStarted = Date.now();
      try {
        let next = 0;
        const worker = async () => {
          while (next < options.BENCH_SESSIONS) {
            next += 1;
            const opened = await rawInitialize(url, TOKEN, agent).catch(() => undefined);
            if (opened?.status === 200 && opened.sessionId !== undefined) ids.push(opened.sessionId);
            else failures += 1;
          }
        };
        await Promise.all(Array.from({ length: options.BENCH_CONCURRENCY }, worker));
      } finally {
        agent.destroy();
      }
      const burstMs = Date.now() - burstStarted;
      const burstRss = rss(pid);
      const burstHwm = hwm(pid);
      say(
        `  after the burst (${String(ids.length)} sessions in ${(burstMs / 1000).toFixed(1)} s, ${String(failures)} failed): ${mbText(burstRss)}, peak ${mbText(burstHwm)}`,
      );

      // The last session opened expires one idle time after it was opened; a sweep (every quarter of it, at most 30 s) takes it.
      await pause(idleMs + Math.min(idleMs / 4, 30_000) + 2000);
      const timeoutRss = rss(pid);
      say(`  after the idle timeout: ${mbText(timeoutRss)}`);
      await pause(options.BENCH_SETTLE_SECONDS * 1000);
      const settledRss = rss(pid);
      say(`  ${String(options.BENCH_SETTLE_SECONDS)} s later: ${mbText(settledRss)}`);

      // Every id of the burst is gone: 404, the spec's answer to an unknown session.
      let gone = 0;
      for (const id of ids) if ((await rawPing(url, TOKEN, id)).status === 404) gone += 1;
      say(`  ${String(gone)} of ${String(ids.length)} burst session ids answer 404`);

      const n = String(options.BENCH_SESSIONS);
      const lines: FigureLine[] = [
        { name: "serve --http RSS at idle", value: mbText(idleRss), target: "(info)", pass: undefined },
        {
          name: `RSS after ${n} abandoned initialize calls`,
          value: `${mbText(burstRss)} (${deltaText(burstRss - idleRss)}; peak ${mbText(burstHwm)})`,
          target: "(info)",
          pass: undefined,
        },
        { name: "RSS after the idle timeout", value: `${mbText(timeoutRss)} (${deltaText(timeoutRss - idleRss)})`, target: "(info)", pass: undefined },
        {
          name: `RSS ${String(options.BENCH_SETTLE_SECONDS)} s after the idle timeout`,
          value: `${mbText(settledRss)} (${deltaText(settledRss - idleRss)})`,
          target: "within 50 MB of idle",
          pass: verdict((settledRss - idleRss) / MB, 50, "at-most"),
        },
        {
          name: "burst sessions answering 404 afterwards",
          value: `${String(gone)} of ${String(ids.length)} (${String(failures)} initialize failed)`,
          target: `all ${n}`,
          pass: failures === 0 && gone === options.BENCH_SESSIONS,
        },
      ];
      say("\nresults");
      for (const line of formatLines(lines)) say(`  ${line}`);

      const section = [
        "## HTTP sessions: 3,000 abandoned sessions (bench/sessions.ts)",
        "",
        `Written by \`node dist/bench/sessions.js\`, run of ${startedAt.toISOString()}: one \`pipgate serve --http\` child process from dist/, ` +
          `${n} raw \`initialize\` POSTs (${String(options.BENCH_CONCURRENCY)} in flight, no client kept, no DELETE), ` +
          `\`http.session_idle_seconds: ${String(options.BENCH_SESSION_IDLE_SECONDS)}\` and caps above the burst; VmRSS from /proc. ` +
          `"Idle" is after one warm-up session has come and gone; the burst took ${(burstMs / 1000).toFixed(1)} s${burstMs < idleMs ? ", so all its sessions were open at once" : ", longer than the idle time, so the first had expired before the last opened"}.`,
        "",
        ...markdownTable(lines),
        "",
        "- Each session's MCP server is some 60 KB and outlives the young generation, so once a sweep has closed many, " +
          "they are old-generation garbage that V8 does not collect in a process gone quiet: before a sweep asked for a " +
          "full collection (src/server/heap.ts, after 64 closed sessions), RSS stayed 120 MB above idle for as long as the process sat idle. " +
          "The freed pages reach the OS some seconds after that collection, hence the two readings.",
      ];
      const resultsPath = join(packageRoot(), "bench", "RESULTS.md");
      const existing = (() => {
        try {
          return readFileSync(resultsPath, "utf8");
        } catch {
          return "# pipgate bench results\n";
        }
      })();
      writeFileSync(resultsPath, replaceSection(existing, "sessions", section));
      say(`\nwrote its section of ${resultsPath}`);
      return lines.every((line) => line.pass !== false) ? 0 : 1;
    } finally {
      serve.kill("SIGTERM");
      await serve;
    }
  } finally {
    await index.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
