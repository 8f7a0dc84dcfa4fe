import { performance } from "node:perf_hooks";
import { execa } from "execa";

/** How the baseline pip treats its cache: none at all, or one that an earlier install has warmed. */
export type PipCache = { kind: "none" } | { kind: "dir"; path: string };

/** One bare install's outcome: the time it took, or why it failed (a failed baseline voids the figure). */
export type BareInstall = { ok: true; ms: number } | { ok: false; ms: number; error: string };

/** A bare install's time, or the repetition fails with what went wrong. */
export function bareOrThrow(label: string, result: BareInstall): number {
  if (!result.ok) throw new Error(`${label}: ${result.error}`);
  return result.ms;
}

/** Pure: the baseline's command line, what an agent's tool would run without pipgate. */
export function barePipArgs(indexUrl: string, requirement: string, cache: PipCache): string[] {
  return [
    "-m",
    "pip",
    "install",
    "--disable-pip-version-check",
    "--no-input",
    "--index-url",
    indexUrl,
    ...(cache.kind === "none" ? ["--no-cache-dir"] : ["--cache-dir", cache.path]),
    requirement,
  ];
}

/** Only pip settings the bench chose: the host's pip.conf and PIP_* variables would skew the baseline. */
function isolatedEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !key.startsWith("PIP_")) env[key] = value;
  return { ...env, PIP_CONFIG_FILE: "/dev/null" };
}

/** Runs the baseline `python -m pip install` into the venv of `python`, timed from spawn to exit. */
export async function barePipInstall(python: string, indexUrl: string, requirement: string, cache: PipCache): Promise<BareInstall> {
  const started = performance.now();
  const result = await execa(python, barePipArgs(indexUrl, requirement, cache), {
    reject: false,
    timeout: 300_000,
    env: isolatedEnv(),
    extendEnv: false,
  });
  const ms = performance.now() - started;
  if (result.exitCode === 0) return { ok: true, ms };
  return { ok: false, ms, error: `pip exited ${String(result.exitCode)}: ${result.stderr.trim().split("\n").slice(-3).join(" / ")}` };
}
