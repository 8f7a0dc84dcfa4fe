import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { PooledRunner } from "../src/sandbox/pool.js";
import { openInProcess } from "../test/support/in-process.js";
import { bareOrThrow, barePipInstall } from "./bare-pip.js";
import { APP_REQUIREMENT } from "./catalogue.js";
import { callTool } from "./serve-process.js";
import { stageTimes, type StageTimes } from "./stages.js";
import type { VenvFactory } from "./venvs.js";
import { writeBenchConfig } from "./workspace.js";

/** One repetition of P1 and P2, all four installs measured back to back. */
export interface ColdWarmSample {
  bareColdMs: number;
  bareWarmCacheMs: number;
  pipgateColdMs: number;
  pipgateWarmMs: number;
  coldStages: StageTimes | undefined;
  warmStages: StageTimes | undefined;
  /** containers the warm install started (0 once the pipeline reuses a verified resolution) */
  warmContainers: number;
}

export type ColdWarmResult = { ok: true; sample: ColdWarmSample } | { ok: false; error: string };

/** Warms a pip cache directory with one untimed install, for the honest warm baseline. */
export async function warmPipCache(venvs: VenvFactory, dir: string, indexUrl: string, cacheDir: string): Promise<void> {
  const python = await venvs.fresh(join(dir, "venv-cache-warmer"));
  bareOrThrow("warming the pip cache", await barePipInstall(python, indexUrl, APP_REQUIREMENT, { kind: "dir", path: cacheDir }));
}

/**
 * P1 then P2 in one repetition. pipgate runs in this process behind a real MCP client (in-memory
 * transport) with a fresh state directory, so its first install is cold; the warm install goes to a
 * second fresh venv through the same broker. The order of pipgate and baseline alternates by
 * repetition so neither always runs on a machine the other just warmed.
 */
export async function runColdWarm(rep: number, dir: string, venvs: VenvFactory, indexUrl: string, pipCacheDir: string): Promise<ColdWarmResult> {
  mkdirSync(dir, { recursive: true });
  const [bareCold, bareWarm, cold, warm] = await Promise.all(
    ["bare-cold", "bare-warm", "pipgate-cold", "pipgate-warm"].map((name) => venvs.fresh(join(dir, name))),
  );
  if (bareCold === undefined || bareWarm === undefined || cold === undefined || warm === undefined) return { ok: false, error: "venvs missing" };
  // Short names: the state directory holds per-request unix sockets, whose paths may not exceed 107 bytes.
  const configPath = writeBenchConfig(join(dir, "g"), { indexUrl, stateDir: join(dir, "s"), environments: { cold, warm } });
  const broker = await openInProcess(configPath);
  try {
    const pipgate = async (environment: string) => {
      const launchesBefore = broker.sandbox.launches;
      const started = performance.now();
      const outcome = await callTool(broker.client, "install_package", { package_name: APP_REQUIREMENT, environment });
      const ms = performance.now() - started;
      const status = outcome.structured?.["status"];
      if (outcome.isError || status !== "installed") throw new Error(`pipgate install into ${environment}: ${String(status)}: ${outcome.text}`);
      // A server that stays up refills its pool and makes the new store entries between requests; the
      // bench waits for that (untimed), so it never runs beside the next timed install.
      await (broker.broker.sandbox as Partial<PooledRunner>).ready?.();
      await broker.broker.storeBuilder?.idle();
      const auditId = outcome.structured?.["audit_id"];
      const record = typeof auditId === "string" ? await broker.broker.audit.get(auditId) : undefined;
      return { ms, stages: record === undefined ? undefined : stageTimes(record), containers: broker.sandbox.launches - launchesBefore };
    };
    const bare = async (python: string, label: string, cache: Parameters<typeof barePipInstall>[3]) =>
      bareOrThrow(label, await barePipInstall(python, indexUrl, APP_REQUIREMENT, cache));

    const pipgateFirst = rep % 2 === 0;
    let bareColdMs: number;
    let coldRun: Awaited<ReturnType<typeof pipgate>>;
    if (pipgateFirst) {
      coldRun = await pipgate("cold");
      bareColdMs = await bare(bareCold, "bare cold pip", { kind: "none" });
    } else {
      bareColdMs = await bare(bareCold, "bare cold pip", { kind: "none" });
      coldRun = await pipgate("cold");
    }
    let bareWarmCacheMs: number;
    let warmRun: Awaited<ReturnType<typeof pipgate>>;
    if (pipgateFirst) {
      warmRun = await pipgate("warm");
      bareWarmCacheMs = await bare(bareWarm, "bare pip with a warm cache", { kind: "dir", path: pipCacheDir });
    } else {
      bareWarmCacheMs = await bare(bareWarm, "bare pip with a warm cache", { kind: "dir", path: pipCacheDir });
      warmRun = await pipgate("warm");
    }
    return {
      ok: true,
      sample: {
        bareColdMs,
        bareWarmCacheMs,
        pipgateColdMs: coldRun.ms,
        pipgateWarmMs: warmRun.ms,
        coldStages: coldRun.stages,
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
