import { createHash, randomUUID } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import type { AuditInput, AuditRecord } from "../audit/types.js";
import { listInstalled } from "../commit/interpreter.js";
import type { VerifiedWheel } from "../commit/request.js";
import type { EnvironmentRuntime } from "../config/environments.js";
import { errorMessage } from "../errors.js";
import { startIndexProxy } from "../index/proxy.js";
import { decide, decideExact, type Decision } from "../policy/index.js";
import { formatRequirement, versionSatisfies } from "../requirement/index.js";
import type { InstallArguments } from "../server/tool-arguments.js";
import { imageFor, resolveSpec } from "../sandbox/spec.js";
import { inspectWheel } from "../verify/wheel.js";
import type { PipelineDeps, Progress } from "./deps.js";
import { failedRequirementChains, PipReportSchema, requirers, resolvedItems, type ResolvedItem } from "./pip-report.js";
import { proxyFilterFor } from "./proxy-filter.js";
import { resolutionKey } from "./resolution-cache.js";

export type InstallStatus = "installed" | "already-satisfied" | "denied" | "failed" | "timed-out";

/** What an install request ends with: structured for MCP clients, one line of `message` for people. */
export interface InstallResult {
  status: InstallStatus;
  environment: string;
  package: string;
  version: string | undefined;
  message: string;
  hint: string | undefined;
  installed: Array<{ name: string; version: string }>;
  unchanged: Array<{ name: string; version: string }>;
  resolved: Array<{ name: string; version: string; sha256: string }>;
  entryPoints: string[];
  decision: Decision | undefined;
  auditId: string;
  durationMs: number;
}

export interface InstallRequest {
  identity: string;
  tool: string;
  rawArguments: unknown;
  args: InstallArguments;
}

export interface InstallHooks {
  progress?: (progress: Progress) => void;
  signal?: AbortSignal;
}

type Ending = Omit<InstallResult, "auditId" | "durationMs" | "environment" | "package"> & {
  audit: Partial<AuditInput>;
};

/**
 * The pipeline behind install_package, after validation and rate limiting: policy, sandboxed resolution
 * and build, verification of every resolved distribution, commit, and exactly one audit record.
 */
export async function runInstall(deps: PipelineDeps, request: InstallRequest, hooks: InstallHooks = {}): Promise<InstallResult> {
  const started = Date.now();
  const { args } = request;
  const requestId = `req_${randomUUID()}`;
  let ending: Ending;
  try {
    ending = await pipeline(deps, request, requestId, hooks);
  } catch (error) {
    deps.log.error({ err: errorMessage(error), requestId }, "install failed unexpectedly");
    ending = failure("failed", `pipgate could not complete the install: ${errorMessage(error)}`, undefined);
  }
  const durationMs = Date.now() - started;
  const { audit, ...result } = ending;
  const record: AuditRecord = deps.audit.append({
    identity: request.identity,
    tool: request.tool,
    environment: args.environment,
    package: args.requirement.normalized,
    outcome: result.status,
    arguments: request.rawArguments,
    reason: result.status === "installed" || result.status === "already-satisfied" ? undefined : result.message,
    request: { requestId, requirement: formatRequirement(args.requirement), upgrade: args.upgrade, timeout: args.timeout },
    decision: result.decision,
    resolved: result.resolved.length > 0 ? result.resolved : undefined,
    durationMs,
    ...audit,
  });
  return { ...result, environment: args.environment, package: args.requirement.normalized, auditId: record.id, durationMs };
}

function failure(status: "denied" | "failed" | "timed-out", message: string, decision: Decision | undefined, extra: Partial<Ending> = {}): Ending {
  return {
    status,
    version: undefined,
    message,
    hint: undefined,
    installed: [],
    unchanged: [],
    resolved: [],
    entryPoints: [],
    decision,
    audit: {},
    ...extra,
  };
}

async function pipeline(deps: PipelineDeps, request: InstallRequest, requestId: string, hooks: InstallHooks): Promise<Ending> {
  const { args } = request;
  const progress = hooks.progress ?? (() => undefined);
  const loaded = await deps.environments.get(args.environment);
  if (!loaded.ok) return failure("failed", loaded.error, undefined);
  const env = loaded.env;

  progress({ stage: "policy", message: `checking ${formatRequirement(args.requirement)} against ${env.name}'s policy` });
  const decision = await decide(args.requirement, env, deps.policyDeps);
  if (!decision.allowed) {
    return failure("denied", decision.reason, decision, { hint: decision.hint, version: decision.version });
  }

  const installed = await listInstalled(env.python);
  if (!installed.ok) return failure("failed", `cannot list the packages of ${env.name}: ${installed.error}`, decision);
  const current = installed.value.find((dist) => normalize(dist.name) === decision.name);
  if (current !== undefined && !args.upgrade && versionSatisfies(current.version, args.requirement.specifier)) {
    return {
      ...failure("denied", "", decision),
      status: "already-satisfied",
      version: current.version,
      message: `${decision.name} ${current.version} is already installed in ${env.name} and satisfies ${formatRequirement(args.requirement)}; pass upgrade: true for a newer allowed version`,
      unchanged: [{ name: decision.name, version: current.version }],
    };
  }

  const pinned = `${decision.name}${args.requirement.extras.length > 0 ? `[${args.requirement.extras.join(",")}]` : ""}==${decision.version}`;
  const image = imageFor(env.pythonVersion, deps.sandboxConfig.image);
  const imagePython = await deps.sandbox.imagePython(image);
  const envMinor = env.pythonVersion.split(".").slice(0, 2).join(".");
  if (imagePython === undefined) {
    return failure("failed", `the sandbox image ${image} is missing; build it with \`pipgate sandbox build-image\``, decision);
  }
  if (imagePython !== envMinor) {
    return failure("failed", `the sandbox image ${image} carries Python ${imagePython} but ${env.name} runs Python ${envMinor}; build a matching image`, decision);
  }

  // A resolution verified before from the same inputs needs no sandbox: only a fresh policy check.
  const cacheKey = resolutionKey({ image, pythonVersion: env.pythonVersion, requirement: pinned, upgrade: args.upgrade, installed: installed.value, allowlist: env.allowlist });
  let verified: Verified | undefined;
  let sandbox: Record<string, unknown> | undefined;
  const cached = deps.resolutions.get(cacheKey);
  if (cached !== undefined) {
    progress({ stage: "verifying", message: `re-checking a verified resolution of ${pinned} against current policy` });
    const again = await verifyWheels(deps, env, cached, []);
    if (again.ok) {
      verified = again;
      sandbox = { cached: true };
    } else deps.log.info({ pinned, reason: again.error }, "cached resolution no longer passes; resolving again");
  }
  if (verified === undefined) {
    const resolved = await resolveInSandbox(deps, env, { pinned, image, upgrade: args.upgrade, installed: installed.value, timeout: args.timeout, requestId, decision }, hooks);
    if ("status" in resolved) return resolved;
    verified = resolved.verified;
    sandbox = resolved.sandbox;
    if (!verified.ok) return failure("denied", verified.error, decision, { audit: { sandbox } });
    deps.resolutions.put(cacheKey, verified.wheels);
  }
  if (!verified.ok) return failure("denied", verified.error, decision, { audit: { sandbox } });

  progress({ stage: "committing", message: `installing ${verified.wheels.length} verified wheel(s) into ${env.name}` });
  const commit = await deps.commit(env, verified.wheels, requestId, hooks.signal);
  const resolved = verified.wheels.map((wheel) => ({ name: wheel.name, version: wheel.version, sha256: wheel.sha256 }));
  if (!commit.ok) {
    return failure("failed", `the commit into ${env.name} failed and ${commit.rolledBack ? "was rolled back" : "could NOT be rolled back"}: ${commit.error}`, decision, {
      audit: { sandbox, commit },
      resolved,
    });
  }
  return {
    status: "installed",
    version: decision.version,
    message: `installed ${decision.name} ${decision.version} into ${env.name}${commit.installed.length > 1 ? ` with ${commit.installed.length - 1} dependenc${commit.installed.length === 2 ? "y" : "ies"}` : ""}`,
    hint: undefined,
    installed: commit.installed,
    unchanged: commit.unchanged,
    resolved,
    entryPoints: verified.entryPoints,
    decision,
    audit: { sandbox, commit },
  };
}

interface SandboxJob {
  pinned: string;
  image: string;
  upgrade: boolean;
  installed: ReadonlyArray<{ name: string; version: string }>;
  timeout: number;
  requestId: string;
  decision: Decision;
}

/** Resolution and sdist builds in the container, then verification of what came out. */
async function resolveInSandbox(
  deps: PipelineDeps,
  env: EnvironmentRuntime,
  job: SandboxJob,
  hooks: InstallHooks,
): Promise<Ending | { verified: Verified; sandbox: Record<string, unknown> }> {
  const progress = hooks.progress ?? (() => undefined);
  const { decision } = job;
  const work = join(deps.stateDir, "work", job.requestId);
  const socketDir = join(work, "sock");
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
      return failure("timed-out", `timed out after ${job.timeout} s in the sandbox; the container was killed and nothing was installed`, decision, { audit: { sandbox } });
    }
    if (run.aborted) return failure("failed", "the install was cancelled; nothing was installed", decision, { audit: { sandbox } });
    if (run.exitCode !== 0) {
      const chain = refusalChain(run.stderr, proxy.refused, (project) =>
        project === decision.name && decision.allowed ? decision.version : [...proxy.served.values()].find((file) => file.project === project)?.version,
      );
      if (chain !== undefined) return failure("denied", chain, decision, { audit: { sandbox } });
      return failure("failed", `resolution failed in the sandbox (exit ${String(run.exitCode)}): ${lastError(run.stderr)}`, decision, { audit: { sandbox } });
    }

    progress({ stage: "verifying", message: "verifying the resolved set" });
    const reportPath = join(outDir, "report.json");
    const report = PipReportSchema.safeParse(existsSync(reportPath) ? JSON.parse(readFileSync(reportPath, "utf8")) : undefined);
    if (!report.success) return failure("failed", "the sandbox produced no readable resolution report", decision, { audit: { sandbox } });
    const flat = resolvedItems(report.data);
    if (!flat.ok) return failure("denied", flat.error, decision, { audit: { sandbox } });
    const files = collectFiles(deps, flat.items, proxy.served, join(outDir, "wheels"));
    if (!files.ok) return { verified: files, sandbox };
    return { verified: await verifyWheels(deps, env, files.wheels, flat.items), sandbox };
  } finally {
    await proxy.close();
    rmSync(work, { recursive: true, force: true });
  }
}

type Verified =
  | { ok: true; wheels: VerifiedWheel[]; entryPoints: string[] }
  | { ok: false; error: string; resolved?: Array<{ name: string; version: string; sha256: string }> };

/**
 * The bytes of every resolved distribution: wheels as the proxy served them (hash checked against the
 * index), sdists as the sandbox built them (hashed here), all in the content-addressed store.
 */
function collectFiles(
  deps: PipelineDeps,
  items: ResolvedItem[],
  served: Map<string, { sha256: string; path: string }>,
  builtDir: string,
): { ok: true; wheels: VerifiedWheel[] } | { ok: false; error: string } {
  const built = existsSync(builtDir) ? readdirSync(builtDir) : [];
  const wheels: VerifiedWheel[] = [];
  for (const item of items) {
    if (item.kind === "wheel") {
      const file = served.get(item.filename);
      if (file === undefined || item.sha256 === undefined || file.sha256 !== item.sha256) {
        return { ok: false, error: `${item.filename} was not fetched through pipgate's proxy with a matching sha256; refused` };
      }
      wheels.push({ name: item.name, version: item.version, path: file.path, sha256: file.sha256 });
      continue;
    }
    if (!served.has(item.filename)) return { ok: false, error: `${item.filename} was not fetched through pipgate's proxy; refused` };
    const prefix = `${item.name.replace(/-/g, "_")}-${item.version}-`.toLowerCase();
    const wheelName = built.find((name) => name.toLowerCase().startsWith(prefix) && name.endsWith(".whl"));
    if (wheelName === undefined) return { ok: false, error: `the sandbox built no wheel for ${item.displayName} ${item.version}` };
    const bytes = readFileSync(join(builtDir, wheelName));
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const dir = join(deps.stateDir, "files", sha256);
    const path = join(dir, wheelName);
    if (!existsSync(path)) {
      mkdirSync(dir, { recursive: true });
      copyFileSync(join(builtDir, wheelName), `${path}.part`);
      renameSync(`${path}.part`, path);
    }
    wheels.push({ name: item.name, version: item.version, path, sha256 });
  }
  return { ok: true, wheels };
}

/**
 * Every wheel passes the environment's current policy (DESIGN 2) and inspection; `items` (the resolution
 * report, when there is one) names the chain of a refused dependency.
 */
async function verifyWheels(deps: PipelineDeps, env: EnvironmentRuntime, wheels: readonly VerifiedWheel[], items: readonly ResolvedItem[]): Promise<Verified> {
  const entryPoints: string[] = [];
  for (const wheel of wheels) {
    const exact = await decideExact(wheel.name, wheel.version, env, deps.policyDeps);
    if (!exact.allowed) {
      const parents = requirers(items, wheel.name);
      const via = parents.map(({ item: parent, requirement }) => `${parent.displayName} ${parent.version} requires ${requirement}`).join("; ");
      return { ok: false, error: via.length > 0 ? `${via}; ${exact.reason}` : exact.reason };
    }
    if (!existsSync(wheel.path)) return { ok: false, error: `${basename(wheel.path)} is no longer in pipgate's store` };
    const inspected = inspectWheel(wheel.path, { allowPth: env.allowlist.pthAllowed.has(wheel.name) });
    const filename = basename(wheel.path);
    if (!inspected.ok) return { ok: false, error: `${filename}: ${inspected.error}` };
    if (inspected.inspection.problems.length > 0) {
      return { ok: false, error: `${filename} failed inspection: ${inspected.inspection.problems.slice(0, 3).join("; ")}` };
    }
    for (const [script, target] of Object.entries(inspected.inspection.entryPoints.console_scripts)) entryPoints.push(`${script} = ${target}`);
  }
  return { ok: true, wheels: [...wheels], entryPoints };
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
    const name = normalize(chain.requirement.split(/[<>=!~ ]/)[0] ?? "");
    const reasons = [...new Set(refused.filter((entry) => entry.project === name).map((entry) => entry.reason))];
    if (reasons.length === 0) continue;
    if (chain.from === undefined) return reasons.join("; ");
    const [parent, pinned] = chain.from.split("==");
    const version = pinned ?? versionOf(normalize(parent ?? ""));
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

function normalize(name: string): string {
  return name.replace(/[-_.]+/g, "-").toLowerCase();
}
