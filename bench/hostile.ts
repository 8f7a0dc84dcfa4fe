// `node dist/bench/hostile.js`: the broker's memory while builds attack it through what they hand back
// (issue 11). A real `pipgate serve` child process installs each hostile fixture of test/fixtures in
// turn, in the real sandbox; its resident memory is sampled throughout. Target: the broker's peak RSS
// stays under 300 MB whatever a build does. Writes its section of bench/RESULTS.md, leaving the rest.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { z } from "zod";
import { packageRoot } from "../src/paths.js";
import { buildWheel } from "../test/fixtures/dists.js";
import { startIndexServer } from "../test/fixtures/index-server.js";
import {
  detachedWriterSdist,
  diskFillSdist,
  fifoReportSdist,
  forgedUploadSdist,
  stdoutFloodSdist,
  symlinkReportSdist,
  symlinkWheelSdist,
} from "../test/fixtures/hostile.js";
import { readProcessMemory, sampleMemory } from "./memory.js";
import { markdownTable, mbText, verdict, type FigureLine } from "./report.js";
import { replaceSection } from "./results-section.js";
import { callTool, startServe } from "./serve-process.js";
import { createVenvFactory } from "./venvs.js";

export const HostileEnvSchema = z.object({
  BENCH_RUNTIME: z.enum(["runc", "runsc"]).default("runc").describe("sandbox.runtime of the serve process"),
  BENCH_FLOOD_MB: z.coerce.number().int().min(1).max(4096).default(700).describe("what each flood fixture writes to the container's stdout"),
  BENCH_OUTPUT_MAX_MB: z.coerce.number().int().min(1).max(4096).default(32).describe("sandbox.output_max_mb of the serve process"),
});

const MB = 2 ** 20;
const TARGET_MB = 300;
const say = (line = "") => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const options = HostileEnvSchema.parse(process.env);
  const fixtures = {
    "fifo-report": fifoReportSdist("fifo-report"),
    "symlink-report": symlinkReportSdist("symlink-report", "/tmp/elsewhere.json"),
    "symlink-wheel": symlinkWheelSdist("symlink-wheel", "/tmp/elsewhere.whl"),
    "flood-bytes": stdoutFloodSdist("flood-bytes", options.BENCH_FLOOD_MB, "no-newlines"),
    "flood-events": stdoutFloodSdist("flood-events", options.BENCH_FLOOD_MB, "event-lines"),
    "disk-fill": diskFillSdist("disk-fill"),
    "detached-writer": detachedWriterSdist("detached-writer", "planted-9.9-py3-none-any.whl"),
    "forged-upload": forgedUploadSdist("forged-upload"),
  };
  const dir = mkdtempSync(join(tmpdir(), "pipgate-bench-hostile-"));
  const index = await startIndexServer({
    projects: [
      ...Object.entries(fixtures).map(([name, dist]) => ({ name, releases: [{ version: "1.0", dists: [dist] }] })),
      { name: "plain", releases: [{ version: "1.0", dists: [buildWheel({ name: "plain", version: "1.0" })] }] },
    ],
  });
  try {
    const venvs = await createVenvFactory(dir);
    const python = await venvs.fresh(join(dir, "venv"));
    const allowlist = join(dir, "allowlist.yaml");
    writeFileSync(allowlist, stringify({ packages: Object.fromEntries([...Object.keys(fixtures), "plain"].map((name) => [name, "*"])) }));
    const configPath = join(dir, "pipgate.yaml");
    writeFileSync(
      configPath,
      stringify({
        index: { url: index.url },
        state_dir: join(dir, "state"),
        sandbox: { runtime: options.BENCH_RUNTIME, memory_mb: 1024, out_max_mb: 256, output_max_mb: options.BENCH_OUTPUT_MAX_MB },
        environments: { default: { python, allowlist } },
      }),
    );
    const serve = await startServe(configPath, "pipgate-bench-hostile");
    try {
      await callTool(serve.client, "check_package", { package_name: "plain" });
      const idle = readProcessMemory(serve.pid);
      say(`pipgate bench — hostile builds against pipgate serve (pid ${String(serve.pid)}), runtime ${options.BENCH_RUNTIME}`);
      say(`  floods of ${String(options.BENCH_FLOOD_MB)} MB each; sandbox.output_max_mb ${String(options.BENCH_OUTPUT_MAX_MB)}`);
      say(`  idle: ${idle.ok ? mbText(idle.value.rssBytes) : idle.error}`);
      const lines: FigureLine[] = [];
      for (const name of Object.keys(fixtures)) {
        const sampler = sampleMemory([serve.pid], 50);
        const started = Date.now();
        const outcome = await callTool(serve.client, "install_package", { package_name: name, timeout: name === "fifo-report" ? 20 : 300 });
        const peak = sampler.stop().get(serve.pid) ?? Number.NaN;
        const status = (outcome.structured as { status?: string } | undefined)?.status ?? "?";
        say(
          `  ${name}: ${status} in ${((Date.now() - started) / 1000).toFixed(1)} s, peak RSS ${mbText(peak)} — ${outcome.text.split("\n")[0]?.slice(0, 120) ?? ""}`,
        );
        lines.push({
          name: `${name} (${status})`,
          value: `peak RSS ${mbText(peak)}`,
          target: `< ${String(TARGET_MB)} MB`,
          pass: verdict(peak, TARGET_MB * MB, "at-most"),
        });
      }
      const hwm = readProcessMemory(serve.pid);
      const whole = hwm.ok ? hwm.value.hwmBytes : Number.NaN;
      lines.push({ name: "whole run (VmHWM)", value: mbText(whole), target: `< ${String(TARGET_MB)} MB`, pass: verdict(whole, TARGET_MB * MB, "at-most") });
      say(`  whole run: VmHWM ${mbText(whole)}`);
      const section = [
        `## Hostile builds: the broker's memory (runtime ${options.BENCH_RUNTIME})`,
        "",
        `\`node dist/bench/hostile.js\` on ${new Date().toISOString().slice(0, 10)}: a real \`pipgate serve\` installs each hostile fixture of`,
        `test/fixtures/hostile.ts in the real sandbox (floods of ${String(options.BENCH_FLOOD_MB)} MB to the container's stdout, with and without`,
        `newlines; sandbox.output_max_mb ${String(options.BENCH_OUTPUT_MAX_MB)}); its RSS is sampled every 50 ms. Idle: ${idle.ok ? mbText(idle.value.rssBytes) : "?"}.`,
        "",
        ...markdownTable(lines),
      ];
      const resultsPath = join(packageRoot(), "bench", "RESULTS.md");
      writeFileSync(resultsPath, replaceSection(readFileSync(resultsPath, "utf8"), `hostile-${options.BENCH_RUNTIME}`, section));
      say(`\nwrote its section of ${resultsPath}`);
    } finally {
      await serve.close();
    }
  } finally {
    await index.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
