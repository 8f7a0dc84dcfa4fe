import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EnvironmentRuntime } from "../config/environments.js";
import { startIndexProxy } from "../index/proxy.js";
import type { Decision } from "../policy/index.js";
import { resolveSpec } from "../sandbox/spec.js";
import type { PipelineDeps, Progress } from "./deps.js";
import { normalizeName } from "../requirement/name.js";
import { failedRequirementChains, PipReportSchema, resolvedItems } from "./pip-report.js";
import { proxyFilterFor } from "./proxy-filter.js";
import { collectFiles, verifyWheels, type Verified } from "./verify.js";

export interface SandboxJob {
  pinned: string;
  image: string;
  upgrade: boolean;
  installed: ReadonlyArray<{ name: string; version: string }>;
  timeout: number;
  requestId: string;
  decision: Decision;
}

/** How the sandbox stage ended: a verified (or refused) set, or why it stopped; with the run's figures. */
export type SandboxOutcome =
  | { ok: true; verified: Verified; sandbox: Record<string, unknown> }
  | { ok: false; status: "denied" | "failed" | "timed-out"; message: string; sandbox: Record<string, unknown> | undefined };

/** Resolution and sdist builds in the container, then verification of what came out. */
export async function resolveInSandbox(
  deps: PipelineDeps,
  env: EnvironmentRuntime,
  job: SandboxJob,
  hooks: { progress?: (progress: Progress) => void; signal?: AbortSignal | undefined },
): Promise<SandboxOutcome> {
  const progress = hooks.progress ?? (() => undefined);
  const { decision } = job;
  const work = join(deps.stateDir, "work", job.requestId);
  // A unix socket path is limited to 107 bytes: the proxy's lives in a short private directory, not
  // under a state directory of any length.
  const socketDir = mkdtempSync(join(tmpdir(), "pipgate-"));
  const outDir = join(work, "out");
  mkdirSync(socketDir, { recursive: true });
  mkdirSync(outDir, { recursive: true });
  chmodSync(socketDir, 0o777);
  chmodSync(outDir, 0o777);
  const proxy = await startIndexProxy({
    index: deps.index,
    socketPath: join(socketDir, "index.sock"),
    filter: proxyFilterFor(env, { name: decision.name, version: job.decision.allowed ? job.decision.version : "" }),
    log: deps.log,
    storeDir: join(deps.stateDir, "files"),
    headers: deps.indexHeaders,
  });
  try {
    const spec = resolveSpec(
      { requirement: job.pinned, onlyBinary: env.allowlist.rules.wheels_only, upgrade: job.upgrade, installed: job.installed.map((dist) => ({ name: dist.name, version: dist.version })) },
      job.image,
      deps.sandboxConfig,
      { runtimeDir: deps.runtimeDir, socketDir, outDir },
      job.requestId,
      deps.stateDir,
    );
    progress({ stage: "resolving", message: `resolving ${job.pinned} in the sandbox` });
    const run = await deps.sandbox.run(spec, {
      timeoutMs: job.timeout * 1000,
      signal: hooks.signal,
      onEvent: (event) => {
        if (event.stage === "building") progress({ stage: "building", message: "building wheels from sdists in the sandbox" });
      },
    });
    const sandbox = { durationMs: run.durationMs, exitCode: run.exitCode, timedOut: run.timedOut, image: job.image, peakMemoryBytes: peakMemory(run.events) };
    if (run.timedOut) {
      return { ok: false, status: "timed-out", message: `timed out after ${job.timeout} s in the sandbox; the container was killed and nothing was installed`, sandbox };
    }
    if (run.aborted) return { ok: false, status: "failed", message: "the install was cancelled; nothing was installed", sandbox };
    if (run.exitCode !== 0) {
      const chain = refusalChain(run.stderr, proxy.refused, (project) =>
        project === decision.name && decision.allowed ? decision.version : [...proxy.served.values()].find((file) => file.project === project)?.version,
      );
      if (chain !== undefined) return { ok: false, status: "denied", message: chain, sandbox };
      return { ok: false, status: "failed", message: `resolution failed in the sandbox (exit ${String(run.exitCode)}): ${lastError(run.stderr)}`, sandbox };
    }

    progress({ stage: "verifying", message: "verifying the resolved set" });
    const reportPath = join(outDir, "report.json");
    const report = PipReportSchema.safeParse(existsSync(reportPath) ? JSON.parse(readFileSync(reportPath, "utf8")) : undefined);
    if (!report.success) return { ok: false, status: "failed", message: "the sandbox produced no readable resolution report", sandbox };
    const flat = resolvedItems(report.data);
    if (!flat.ok) return { ok: false, status: "denied", message: flat.error, sandbox };
    const files = collectFiles(deps, flat.items, proxy.served, join(outDir, "wheels"));
    if (!files.ok) return { ok: true, verified: files, sandbox };
    return { ok: true, verified: await verifyWheels(deps, env, files.wheels, flat.items), sandbox };
  } finally {
    await proxy.close();
    rmSync(work, { recursive: true, force: true });
    rmSync(socketDir, { recursive: true, force: true });
  }
}

/**
 * When resolution failed because the proxy hid something, the refusal names the chain: pip says which
 * requirement it could not satisfy and which project asked for it; the proxy says why it hid it.
 */
function refusalChain(
  stderr: string,
  refused: ReadonlyArray<{ project: string; reason: string }>,
  versionOf: (project: string) => string | undefined,
): string | undefined {
  if (refused.length === 0) return undefined;
  for (const chain of failedRequirementChains(stderr)) {
    const name = normalizeName(chain.requirement.split(/[<>=!~ ]/)[0] ?? "");
    const reasons = [...new Set(refused.filter((entry) => entry.project === name).map((entry) => entry.reason))];
    if (reasons.length === 0) continue;
    if (chain.from === undefined) return reasons.join("; ");
    const [parent, pinned] = chain.from.split("==");
    const version = pinned ?? versionOf(normalizeName(parent ?? ""));
    return `${parent ?? chain.from}${version === undefined ? "" : ` ${version}`} requires ${chain.requirement}; ${reasons.join("; ")}`;
  }
  const first = refused[0];
  return first === undefined ? undefined : `resolution needs ${first.project}: ${first.reason}`;
}

function lastError(stderr: string): string {
  const lines = stderr.split("\n").filter((line) => line.startsWith("ERROR:"));
  return (lines.at(-1) ?? stderr.trim().split("\n").at(-1) ?? "no output").slice(0, 400);
}

function peakMemory(events: ReadonlyArray<Record<string, unknown>>): number | undefined {
  const done = events.find((event) => event.stage === "done");
  return typeof done?.peak_memory === "number" ? done.peak_memory : undefined;
}
