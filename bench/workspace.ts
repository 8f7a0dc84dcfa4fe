import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { packageRoot } from "../src/paths.js";
import { benchAllowlist } from "./catalogue.js";

/** What a bench pipgate.yaml needs: the local index, a state directory and the target venvs. */
export interface BenchConfig {
  indexUrl: string;
  stateDir: string;
  /** environment name → its venv's interpreter */
  environments: Record<string, string>;
  /** the allowlist every environment shares; default the bench catalogue's */
  allowlist?: Record<string, unknown>;
  /** fleet mode: pipgate.yaml's `database:` (the shared PostgreSQL), absent for the embedded SQLite */
  database?: { url: string; password_env: string };
  /** the config file's name under `dir` (several brokers' configs side by side); default pipgate.yaml */
  file?: string;
}

/**
 * The bench's pool and first-install settings, from BENCH_POOL (pooled containers per image, default 1)
 * BENCH_STORE_COLD (background or inline, default the configuration's: background) and BENCH_LINK (how
 * files leave the store: copy or hardlink, default the configuration's); checked in run.ts.
 */
export function benchSandboxAndCommit(): { sandbox: Record<string, unknown>; commit: Record<string, unknown> } {
  const size = Number(process.env.BENCH_POOL ?? "1");
  const cold = process.env.BENCH_STORE_COLD ?? "background";
  const link = process.env.BENCH_LINK;
  return { sandbox: { pool: { size } }, commit: { store_cold: cold, ...(link === undefined ? {} : { link }) } };
}

/**
 * Writes a pipgate.yaml (and the shared allowlist) under `dir`. No policy file, so no rate limit can
 * refuse a bench request: the bench measures the pipeline, not the limiter's refusals.
 */
export function writeBenchConfig(dir: string, config: BenchConfig): string {
  mkdirSync(dir, { recursive: true });
  const allowlist = join(dir, "allowlist.yaml");
  writeFileSync(allowlist, stringify(config.allowlist ?? benchAllowlist()));
  const path = join(dir, config.file ?? "pipgate.yaml");
  const environments = Object.fromEntries(Object.entries(config.environments).map(([name, python]) => [name, { python, allowlist }]));
  const database = config.database === undefined ? {} : { database: config.database };
  writeFileSync(
    path,
    stringify({ index: { url: config.indexUrl }, state_dir: config.stateDir, identity: "bench-agent", environments, ...benchSandboxAndCommit(), ...database }),
  );
  return path;
}

/** The CLI as a user runs it: package.json's bin (the bundle `npm run build` writes), not dist/src. */
export function cliBin(): string {
  const manifest = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { bin?: Record<string, string> };
  const bin = manifest.bin?.["pipgate"];
  if (bin === undefined) throw new Error("package.json names no pipgate bin");
  return join(packageRoot(), bin);
}
