import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { benchAllowlist } from "./catalogue.js";

/** What a bench pipgate.yaml needs: the local index, a state directory and the target venvs. */
export interface BenchConfig {
  indexUrl: string;
  stateDir: string;
  /** environment name → its venv's interpreter */
  environments: Record<string, string>;
  /** the allowlist every environment shares; default the bench catalogue's */
  allowlist?: Record<string, unknown>;
}

/**
 * The bench's pool and first-install settings, from BENCH_POOL (pooled containers per image, default 1)
 * and BENCH_STORE_COLD (background or inline, default the configuration's: background); checked in run.ts.
 */
export function benchSandboxAndCommit(): { sandbox: Record<string, unknown>; commit: Record<string, unknown> } {
  const size = Number(process.env.BENCH_POOL ?? "1");
  const cold = process.env.BENCH_STORE_COLD ?? "background";
  return { sandbox: { pool: { size } }, commit: { store_cold: cold } };
}

/**
 * Writes a pipgate.yaml (and the shared allowlist) under `dir`. No policy file, so no rate limit can
 * refuse a bench request: the bench measures the pipeline, not the limiter's refusals.
 */
export function writeBenchConfig(dir: string, config: BenchConfig): string {
  mkdirSync(dir, { recursive: true });
  const allowlist = join(dir, "allowlist.yaml");
  writeFileSync(allowlist, stringify(config.allowlist ?? benchAllowlist()));
  const path = join(dir, "pipgate.yaml");
  const environments = Object.fromEntries(Object.entries(config.environments).map(([name, python]) => [name, { python, allowlist }]));
  writeFileSync(
    path,
    stringify({ index: { url: config.indexUrl }, state_dir: config.stateDir, identity: "bench-agent", environments, ...benchSandboxAndCommit() }),
  );
  return path;
}
