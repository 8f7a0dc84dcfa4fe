import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { CHECKED_PACKAGES } from "./catalogue.js";
import { callTool, startServe, type ServeProcess } from "./serve-process.js";
import type { VenvFactory } from "./venvs.js";
import { writeBenchConfig } from "./workspace.js";

/** The two refusals P3 times: one the argument validator stops, one the allowlist stops. */
export const REFUSALS = {
  invalid: { package_name: "-r /etc/passwd", environment: "default" },
  "not-allowed": { package_name: "requests", environment: "default" },
} as const;
export type RefusalKind = keyof typeof REFUSALS;

/** One P3 repetition's raw samples. */
export interface RefusalSample {
  latenciesMs: Record<RefusalKind, number[]>;
  checksPerSecond: number;
  checkErrors: number;
}

/** Runs `tasks` with at most `limit` in flight; each task index runs exactly once. */
export async function boundedAll(count: number, limit: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next;
      next += 1;
      await task(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

/** A serve process for P3: one environment, a fresh state directory; started once for every repetition. */
export async function startRefusalServer(dir: string, venvs: VenvFactory, indexUrl: string): Promise<ServeProcess> {
  const python = await venvs.fresh(join(dir, "venv"));
  const configPath = writeBenchConfig(dir, { indexUrl, stateDir: join(dir, "s"), environments: { default: python } });
  const serve = await startServe(configPath, "bench-p3");
  // Untimed warm-up: the first calls load code paths and fill the metadata cache that P3 says is warm.
  for (const args of Object.values(REFUSALS)) await callTool(serve.client, "install_package", args);
  for (const name of CHECKED_PACKAGES) await callTool(serve.client, "check_package", { package_name: name, environment: "default" });
  return serve;
}

/**
 * One repetition: `refusals` sequential round trips of each refusal kind, interleaved, each timed
 * from the client's send to its answer; then `checks` check_package calls with `concurrency` in
 * flight over the one connection, timed as a whole.
 */
export async function runRefusals(serve: ServeProcess, refusals: number, checks: number, concurrency: number): Promise<RefusalSample> {
  const latenciesMs: Record<RefusalKind, number[]> = { invalid: [], "not-allowed": [] };
  for (let i = 0; i < refusals; i += 1) {
    for (const kind of Object.keys(REFUSALS) as RefusalKind[]) {
      const started = performance.now();
      const outcome = await callTool(serve.client, "install_package", REFUSALS[kind]);
      latenciesMs[kind].push(performance.now() - started);
      if (!outcome.isError) throw new Error(`P3: the ${kind} request was not refused: ${outcome.text}`);
    }
  }
  let checkErrors = 0;
  const started = performance.now();
  await boundedAll(checks, concurrency, async (index) => {
    const name = CHECKED_PACKAGES[index % CHECKED_PACKAGES.length] ?? "quillmark";
    const outcome = await callTool(serve.client, "check_package", { package_name: name, environment: "default" });
    if (outcome.isError || outcome.structured?.["decision"] === undefined) checkErrors += 1;
  });
  const seconds = (performance.now() - started) / 1000;
  return { latenciesMs, checksPerSecond: checks / seconds, checkErrors };
}
