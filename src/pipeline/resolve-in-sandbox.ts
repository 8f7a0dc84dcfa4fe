import { chmod, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EnvironmentRuntime } from "../config/environments.js";
import type { SandboxConfig } from "../config/schema.js";
import { sandboxRoute } from "./index-route.js";
import { startIndexProxy } from "../index/proxy.js";
import type { Decision } from "../policy/index.js";
import { readBounded } from "../sandbox/boundary/read.js";
import { DEFAULT_STREAM_LIMITS, type StreamLimits } from "../sandbox/boundary/streams.js";
import { createOutputSink, uploadedFilename, type OutputLimits } from "../sandbox/boundary/uploads.js";
import type { SandboxRun } from "../sandbox/docker.js";
import { REAP_GRACE_MS, resolveSpec } from "../sandbox/spec.js";
import { createOwnedDir } from "../state/leftovers.js";
import { currentProcess, processTag } from "../state/process.js";
import type { Progress, SandboxStageDeps } from "./deps.js";
import { normalizeName } from "../requirement/name.js";
import { failedRequirementChains, PipReportSchema, resolvedItems, type ResolvedItem } from "./pip-report.js";
import { checkFilterFor, proxyFilterFor } from "./proxy-filter.js";
import { collectFiles, verifyWheels, type Verified } from "./verify-wheels.js";

export interface SandboxJob {
  pinned: string;
  image: string;
  upgrade: boolean;
  installed: ReadonlyArray<{ name: string; version: string }>;
  timeout: number;
  requestId: string;
  decision: Decision;
  /**
   * "check": a decision-only resolution (checkFilterFor): the answer carries the resolved names and
   * versions and never a verified set, and the run's files stay in its scratch directory.
   */
  mode?: "install" | "check";
}

/** How the sandbox stage ended: a verified (or refused) set, or why it stopped; with the run's figures. */
export type SandboxOutcome =
  | { ok: true; verified: Verified; sandbox: Record<string, unknown>; items?: readonly ResolvedItem[] }
  | { ok: false; status: "denied" | "failed" | "timed-out"; message: string; sandbox: Record<string, unknown> | undefined };

const MB = 1024 * 1024;

/** What a build may hand back and print, from the configuration. */
export function outputLimits(config: SandboxConfig): OutputLimits {
  return { maxReportBytes: 8 * MB, maxWheelBytes: config.max_wheel_mb * MB, maxTotalBytes: config.out_max_mb * MB, maxFiles: 512 };
}

export function streamLimits(config: SandboxConfig): StreamLimits {
  return { ...DEFAULT_STREAM_LIMITS, maxTotalBytes: config.output_max_mb * MB };
}

/** Prefixes of the scratch directories a sandbox run makes; start-up sweeps those of dead brokers. */
export const SCRATCH = { work: "run", socket: "pipgate-sock" } as const;

/** Resolution and sdist builds in the container, then verification of what came out. */
export async function resolveInSandbox(
  deps: SandboxStageDeps,
  env: EnvironmentRuntime,
  job: SandboxJob,
  hooks: { progress?: (progress: Progress) => void; signal?: AbortSignal | undefined },
): Promise<SandboxOutcome> {
  const progress = hooks.progress ?? (() => undefined);
  const { decision } = job;
  const config = deps.sandboxConfig;
  const work = await createOwnedDir(join(deps.stateDir, "work"), SCRATCH.work);
  // A unix socket path is limited to 107 bytes: the proxy's lives in a short private directory, not
  // under a state directory of any length. The container may connect to it but not write beside it.
  // With the warm pool, it is the directory a ready single-use container already mounts.
  const claim = job.mode === "check" ? undefined : deps.sandbox.claim?.(job.image);
  const socketDir = claim?.socketDir ?? (await createOwnedDir(tmpdir(), SCRATCH.socket));
  if (claim === undefined) await chmod(socketDir, 0o755);
  const limits = outputLimits(config);
  const sink = await createOutputSink(join(work, "out"), limits);
  const check = job.mode === "check";
  const pinnedRoot = { name: decision.name, version: job.decision.allowed ? job.decision.version : "" };
  const filter = check ? checkFilterFor(env, pinnedRoot) : proxyFilterFor(env, pinnedRoot);
  const route = sandboxRoute(deps.policyDeps.indexes, env.allowlist);
  const proxy = await startIndexProxy({
    index: deps.index,
    ...(route === undefined ? {} : { route }),
    socketPath: join(socketDir, "index.sock"),
    filter,
    log: deps.log,
    storeDir: check ? join(work, "files") : join(deps.stateDir, "files"),
    headers: deps.indexHeaders,
    upload: (name, length, body) => sink.receive(name, length, body),
  }).catch(async (error: unknown) => {
    await claim?.release();
    throw error;
  });
  try {
    const broker = await currentProcess();
    const spec = resolveSpec(
      {
        requirement: job.pinned,
        onlyBinary: env.allowlist.rules.wheels_only,
        upgrade: job.upgrade,
        installed: job.installed.map((dist) => ({ name: dist.name, version: dist.version })),
      },
      job.image,
      config,
      { runtimeDir: deps.runtimeDir, socketDir },
      {
        requestId: job.requestId,
        stateDir: deps.stateDir,
        broker: processTag(broker),
        host: broker.host,
        deadline: Date.now() + job.timeout * 1000 + REAP_GRACE_MS,
      },
      job.timeout,
    );
    progress({ stage: "resolving", message: `resolving ${job.pinned} in the sandbox` });
    const events: Array<Record<string, unknown>> = [];
    const run = await deps.sandbox.run(spec, {
      timeoutMs: job.timeout * 1000,
      signal: hooks.signal,
      streams: streamLimits(config),
      onExit: () => sink.seal(),
      onEvent: (event) => {
        events.push(event);
        if (event.stage === "building") progress({ stage: "building", message: "building wheels from sdists in the sandbox" });
      },
    });
    const sandbox: Record<string, unknown> = {
      durationMs: run.durationMs,
      containerId: run.containerId,
      pooled: run.pooled,
      timings: run.timings,
      exitCode: run.exitCode,
      timedOut: run.timedOut,
      image: job.image,
      runtime: config.runtime,
      peakMemoryBytes: peakMemory(events),
      oomKilled: run.oomKilled,
      outputBytes: run.output.totalBytes,
      // PEP 658 metadata files pip resolved from instead of whole wheels (0 when the index serves none)
      metadataFiles: proxy.metadataServed.size,
      ...(filter.buildTools().length > 0 ? { buildTools: filter.buildTools() } : {}),
      ...(run.exitCode === 0 ? {} : { log: logTail(run.output.stderrTail, 40, 4096) }),
    };
    const ended = runEnding(run, events, config, job.timeout, sink.refusal());
    if (ended !== undefined) return { ...ended, sandbox };
    if (run.exitCode !== 0) {
      const chain = refusalChain(run.output.stderrTail, proxy.refused, (project) =>
        project === decision.name && decision.allowed ? decision.version : [...proxy.served.values()].find((file) => file.project === project)?.version,
      );
      if (chain !== undefined) return { ok: false, status: "denied", message: chain, sandbox };
      return { ok: false, status: "failed", message: buildFailure(run, events), sandbox };
    }

    progress({ stage: "verifying", message: "verifying the resolved set" });
    const verifyStart = Date.now();
    const reportFile = sink.report();
    const bytes = reportFile === undefined ? undefined : await readBounded(reportFile.path, limits.maxReportBytes);
    const report = PipReportSchema.safeParse(bytes?.ok === true ? parseJson(bytes.value) : undefined);
    if (!report.success)
      return { ok: false, status: "failed", message: "the sandbox handed back no readable resolution report; nothing was installed", sandbox };
    const flat = resolvedItems(report.data);
    if (!flat.ok) return { ok: false, status: "denied", message: flat.error, sandbox };
    if (check) return { ok: true, verified: { ok: false, error: "a check resolution installs nothing" }, items: flat.items, sandbox };
    const built = new Map(sink.wheels().map((file) => [uploadedFilename(file), file]));
    const files = await collectFiles(deps, flat.items, proxy.served, built);
    if (!files.ok) return { ok: true, verified: files, sandbox };
    const verified = await verifyWheels(deps, env, files.wheels, flat.items);
    // Reading the output back and verifying it: after the container, outside sandbox.durationMs.
    sandbox.verifyMs = Date.now() - verifyStart;
    return { ok: true, verified, sandbox };
  } finally {
    await proxy.close();
    await rm(work, { recursive: true, force: true });
    await rm(socketDir, { recursive: true, force: true });
    await claim?.release();
  }
}

/** The endings that are not pip's: timeouts, cancellation, floods, memory, a full /out, refused output. */
function runEnding(
  run: SandboxRun,
  events: ReadonlyArray<Record<string, unknown>>,
  config: SandboxConfig,
  timeout: number,
  refusal: string | undefined,
): { ok: false; status: "failed" | "timed-out"; message: string } | undefined {
  const nothing = "nothing was installed";
  if (run.aborted) return { ok: false, status: "failed", message: `the install was cancelled; ${nothing}` };
  if (run.output.overflowed) {
    return {
      ok: false,
      status: "failed",
      message: `the build wrote more than ${config.output_max_mb} MB to its output streams (sandbox.output_max_mb) and was stopped; ${nothing}`,
    };
  }
  if (run.timedOut || run.exitCode === 124) {
    return { ok: false, status: "timed-out", message: `timed out after ${timeout} s in the sandbox; the container was killed and ${nothing}` };
  }
  if (run.oomKilled) {
    return {
      ok: false,
      status: "failed",
      message: `the build ran out of memory in the sandbox (sandbox.memory_mb: ${config.memory_mb}; files in /out and /tmp count toward it) and was killed; ${nothing}. Ask for a release with a wheel, or raise sandbox.memory_mb`,
    };
  }
  if (config.runtime === "runsc" && run.exitCode === 2 && !events.some((event) => event.stage === "failed" || event.stage === "done")) {
    // gVisor's own kernel ends with 2 when it cannot get the threads or memory it needs under the limits.
    return {
      ok: false,
      status: "failed",
      message: `the gVisor sandbox (sandbox.runtime: runsc) stopped before the build ran; under runsc sandbox.pids and sandbox.memory_mb also bound gVisor's own threads and memory (pids ${config.pids}, memory ${config.memory_mb} MB): raise them; ${nothing}`,
    };
  }
  if (run.exitCode === 12) {
    return {
      ok: false,
      status: "failed",
      message: `build output too large: the build filled its /out of ${config.out_max_mb} MB (sandbox.out_max_mb); ${nothing}`,
    };
  }
  if (run.exitCode === 13 || refusal !== undefined) {
    const reason =
      refusal ??
      stringField(
        events.find((event) => event.stage === "failed"),
        "reason",
      ) ??
      "it could not be handed back";
    return { ok: false, status: "failed", message: `the sandbox's output was refused: ${reason.slice(0, 300)}; ${nothing}` };
  }
  return undefined;
}

/** pip failed in the container: which step, the likely cause, and the last lines of its output. */
function buildFailure(run: SandboxRun, events: ReadonlyArray<Record<string, unknown>>): string {
  const failed = events.find((event) => event.stage === "failed");
  const step = failed?.step === "build" ? "building a wheel from an sdist" : "resolution";
  const log = run.output.stderrTail;
  const tail = logTail(log, 12, 1500);
  if (
    /error: command '[^']*(gcc|cc|g\+\+|clang)' failed|unable to execute '[^']*(gcc|cc)'|(gcc|cc|g\+\+): (command )?not found|fatal error: [\w/.-]+\.h: No such file/.test(
      log,
    )
  ) {
    return `${step} failed in the sandbox: the build needs a C compiler or C headers, which the sandbox image does not have. Ask for a release that has a wheel for this platform. Last lines of the build:\n${tail}`;
  }
  return `${step} failed in the sandbox (exit ${String(run.exitCode)}): ${lastError(log)}. Last lines of pip's output:\n${tail}`;
}

function stringField(event: Record<string, unknown> | undefined, key: string): string | undefined {
  const value = event?.[key];
  return typeof value === "string" ? value : undefined;
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch {
    return undefined;
  }
}

/** The last `lines` lines of a log, at most `bytes` long: what a message or an audit record carries. */
export function logTail(log: string, lines: number, bytes: number): string {
  const kept = log.replace(/\s+$/, "").split("\n").slice(-lines).join("\n");
  return kept.length > bytes ? kept.slice(kept.length - bytes) : kept;
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
