import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { execa } from "execa";
import type { PooledRunner } from "../../src/sandbox/pool.js";
import { openInProcess } from "../../test/support/in-process.js";
import { bareOrThrow, barePipInstall, type PipCache } from "../bare-pip.js";
import { callTool } from "../serve-process.js";
import { stageTimes, type StageTimes } from "../stages.js";
import type { VenvFactory } from "../venvs.js";
import { cliBin, writeBenchConfig } from "../workspace.js";
import { corpusAllowlist } from "./build-corpus.js";
import type { CorpusSet } from "./corpus.js";

/**
 * P1 and P2 on one corpus set, one repetition: pipgate cold through a running server's
 * `install_package` and through `pipgate install` (the built CLI, one process), pipgate warm (the same
 * broker's verified set cached, a fresh venv), against bare pip from the same index with
 * `--no-cache-dir` and with a warm pip cache. Pairs alternate their order by repetition.
 */
export interface CorpusSample {
  bareColdMs: number;
  bareWarmCacheMs: number;
  toolColdMs: number;
  cliColdMs: number;
  /** the CLI's own pipeline time (its --json durationMs): the rest of cliColdMs is process start and set-up */
  cliPipelineMs: number | undefined;
  warmMs: number;
  coldStages: StageTimes | undefined;
  warmStages: StageTimes | undefined;
  /** containers the warm install started */
  warmContainers: number;
}

export type CorpusSampleResult = { ok: true; sample: CorpusSample } | { ok: false; error: string };

/** Warms a pip cache with one untimed install of the set, for the honest warm baseline. */
export async function warmCorpusPipCache(set: CorpusSet, venvs: VenvFactory, dir: string, indexUrl: string, cacheDir: string): Promise<void> {
  const python = await venvs.fresh(join(dir, `venv-cache-warmer-${set.name}`));
  bareOrThrow(`warming the pip cache for ${set.name}`, await barePipInstall(python, indexUrl, set.requirement, { kind: "dir", path: cacheDir }));
}

/** `pipgate install --json ENV REQ` as package.json's bin (the bundle), timed from spawn to exit, with the pipeline's own time (its duration_ms). */
async function cliInstall(configPath: string, environment: string, requirement: string): Promise<{ ms: number; pipelineMs: number | undefined }> {
  const started = performance.now();
  const result = await execa(process.execPath, [cliBin(), "install", "--json", "--config", configPath, environment, requirement], {
    reject: false,
    timeout: 600_000,
    env: { PIPGATE_LOG_LEVEL: "warn" },
    stdin: "ignore",
  });
  const ms = performance.now() - started;
  if (result.exitCode !== 0)
    throw new Error(
      `pipgate install ${requirement}: exit ${String(result.exitCode)}: ${(result.stdout + result.stderr).trim().split("\n").slice(-3).join(" / ")}`,
    );
  let pipelineMs: number | undefined;
  try {
    const parsed: unknown = JSON.parse(result.stdout);
    // The CLI's --json speaks snake_case, as the MCP tools' structured results do.
    const duration = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>)["duration_ms"] : undefined;
    if (typeof duration === "number") pipelineMs = duration;
  } catch {
    pipelineMs = undefined;
  }
  return { ms, pipelineMs };
}

export async function runCorpusRep(
  set: CorpusSet,
  rep: number,
  dir: string,
  venvs: VenvFactory,
  indexUrl: string,
  pipCacheDir: string,
): Promise<CorpusSampleResult> {
  mkdirSync(dir, { recursive: true });
  const names = ["bc", "bw", "tc", "cc", "w"] as const;
  const [bareCold, bareWarm, toolCold, cliCold, warm] = await Promise.all(names.map((name) => venvs.fresh(join(dir, name))));
  if (bareCold === undefined || bareWarm === undefined || toolCold === undefined || cliCold === undefined || warm === undefined)
    return { ok: false, error: "venvs missing" };
  const allowlist = corpusAllowlist(set);
  // Short paths: the state directory holds per-request unix sockets (at most 107 bytes a path).
  const configPath = writeBenchConfig(join(dir, "g"), { indexUrl, stateDir: join(dir, "s"), environments: { cold: toolCold, warm }, allowlist });
  // The CLI's own state directory, so its install is as cold as the tool call's.
  const cliConfig = writeBenchConfig(join(dir, "h"), { indexUrl, stateDir: join(dir, "t"), environments: { cold: cliCold }, allowlist });
  const bare = async (python: string, label: string, cache: PipCache) =>
    bareOrThrow(`${set.name}: ${label}`, await barePipInstall(python, indexUrl, set.requirement, cache));
  const broker = await openInProcess(configPath);
  try {
    const tool = async (environment: string) => {
      const launchesBefore = broker.sandbox.launches;
      const started = performance.now();
      const outcome = await callTool(broker.client, "install_package", { package_name: set.requirement, environment });
      const ms = performance.now() - started;
      const status = outcome.structured?.["status"];
      if (outcome.isError || status !== "installed")
        throw new Error(`${set.name}: pipgate install_package into ${environment}: ${String(status)}: ${outcome.text.slice(0, 400)}`);
      // A server that stays up refills its pool and makes the new store entries between requests; the
      // bench waits for that (untimed), so it never runs beside the next timed install.
      await (broker.broker.sandbox as Partial<PooledRunner>).ready?.();
      await broker.broker.storeBuilder?.idle();
      const auditId = outcome.structured?.["audit_id"];
      const record = typeof auditId === "string" ? await broker.broker.audit.get(auditId) : undefined;
      return { ms, stages: record === undefined ? undefined : stageTimes(record), containers: broker.sandbox.launches - launchesBefore };
    };
    const pipgateFirst = rep % 2 === 0;
    const pair = async <A, B>(first: () => Promise<A>, second: () => Promise<B>): Promise<[A, B]> => {
      if (pipgateFirst) {
        const a = await first();
        return [a, await second()];
      }
      const b = await second();
      return [await first(), b];
    };
    const [cold, bareColdMs] = await pair(
      () => tool("cold"),
      () => bare(bareCold, "bare cold pip", { kind: "none" }),
    );
    const [warmRun, bareWarmCacheMs] = await pair(
      () => tool("warm"),
      () => bare(bareWarm, "bare pip with a warm cache", { kind: "dir", path: pipCacheDir }),
    );
    const cli = await cliInstall(cliConfig, "cold", set.requirement);
    return {
      ok: true,
      sample: {
        bareColdMs,
        bareWarmCacheMs,
        toolColdMs: cold.ms,
        cliColdMs: cli.ms,
        cliPipelineMs: cli.pipelineMs,
        warmMs: warmRun.ms,
        coldStages: cold.stages,
        warmStages: warmRun.stages,
        warmContainers: warmRun.containers,
      },
    };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  } finally {
    await broker.close();
  }
}
