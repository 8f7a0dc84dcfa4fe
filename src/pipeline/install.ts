import { randomUUID } from "node:crypto";
import { currentBroker } from "../audit/interrupted.js";
import type { AuditInput, AuditRecord } from "../audit/types.js";
import { inspectEnvironment } from "../commit/interpreter.js";
import { REFUSING_STAGES } from "../commit/request.js";
import { errorMessage } from "../errors.js";
import { decide, recordProvenance, withContentRule, type Decision } from "../policy/index.js";
import { eq as sameVersion } from "@renovatebot/pep440";
import { formatRequirement, versionSatisfies, type RefusalKind } from "../requirement/index.js";
import { rawEnvironment, validateInstallArguments, type ArgumentContext, type InstallArguments } from "../validate/tool-arguments.js";
import type { Admitter } from "../ratelimit/admission.js";
import type { EnvironmentRuntime } from "../config/environments.js";
import { imageFor, pythonMinor } from "../sandbox/spec.js";
import type { ApprovalGate, ApprovedRun, Considered, PipelineDeps, Progress } from "./deps.js";
import { afterVerify, holdFor, type Held } from "./approval-stage.js";
import { approvedChanges } from "../approvals/open-allowlist.js";
import { shadowEnvironment, shadowOfRequest, shadowOfSet, shadowReason, type ShadowRecord } from "./shadow.js";
import { brokenRequirements } from "../commit/conflicts.js";
import { normalizeName } from "../requirement/name.js";
import { endpointOf } from "../index/index-set.js";
import { resolutionKey } from "./resolution-cache.js";
import { resolveTree } from "./check-tree.js";
import { resolveInSandbox, type SandboxJob } from "./resolve-in-sandbox.js";
import { treeRefusalText, unlistedHint, type TreeRefusal } from "./tree.js";
import { verifyWheels, type Verified } from "./verify-wheels.js";

export type InstallStatus = "installed" | "already-satisfied" | "denied" | "failed" | "timed-out";

/** Every way one install request ends: the pipeline's statuses, and the three endings before or beside it. */
export type RequestStatus = InstallStatus | "invalid" | "rate-limited" | "pending" | "rejected";

/** What an install request ends with: structured for MCP clients, one line of `message` for people. */
export interface InstallResult {
  status: RequestStatus;
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
  /** where a request was refused before the pipeline ran: its arguments, or admission */
  refusedAt?: "validate" | "admit";
  /** refused at "validate": the refusal's kind and the argument at fault */
  refusal?: { kind: RefusalKind; field: string };
  /** rate-limited: how long to wait */
  retryAfterSeconds?: number;
  /** denied for its dependencies: every distribution of the set that policy refuses, with its chain */
  refused?: TreeRefusal[];
  /** pending: the approval request to poll */
  approval?: { id: string; expiresAt: Date };
}

/**
 * One install request as it arrives: who, through which tool, with what raw arguments. `args` are
 * given only when the caller validated them already (an approved request, checked again when approved).
 */
export interface InstallRequest {
  identity: string;
  tool: string;
  rawArguments: unknown;
  args?: InstallArguments;
  /** Stages 1–3 and 5: how the caller's arguments are bounded, its admission and the approval gate. */
  gates?: InstallGates;
  /** further columns of the request's one audit record (an approved request names its approval) */
  audit?: Partial<AuditInput>;
}

export interface InstallGates {
  /** the environments the caller may name and the timeout cap (default: every environment, the configured cap) */
  context?: ArgumentContext;
  /** rate limits and the policy file's tools (absent: nothing is limited) */
  admitter?: Admitter;
  /** the approval queue, when the policy sends some installs to a person */
  approvals?: ApprovalGate;
  /** an approved request: the set it may install (and the gate, to queue the set again if it changed) */
  approved?: ApprovedRun;
  /** the caller's grant is in shadow mode (an environment's `mode: shadow` applies whoever asks) */
  shadow?: boolean;
  /** a local operator's install (`pipgate install`): recorded as bypassing grants, limits and approvals */
  operator?: boolean;
}

export interface InstallHooks {
  progress?: (progress: Progress) => void;
  signal?: AbortSignal;
}

type Ending = Omit<InstallResult, "auditId" | "durationMs" | "environment" | "package"> & {
  audit: Partial<AuditInput>;
};

/** An ending that carries everything the one audit write needs, for where no sandbox ran. */
type Finished = { ending: Ending; environment: string | undefined; package: string | undefined; request: Record<string, unknown> };

/** What a local operator's install says in its audit record instead of an admission. */
export const OPERATOR_BYPASS = "a local operator's install: grants, rate limits and approvals do not apply";

/**
 * The one ordered path of an install request (DESIGN.md's pipeline): validate → admit → environment →
 * policy (decided once) → approval on that decision → sandbox → verify → commit, and exactly one
 * outcome record, written below and nowhere else. Before the first work that can change anything (the
 * sandbox run, or the commit of a reused resolution) an intent record naming the request id is
 * committed, so a broker killed mid-way still leaves a trace that the next start-up closes; a request
 * refused before any work has its outcome record only.
 */
export async function runInstall(deps: PipelineDeps, request: InstallRequest, hooks: InstallHooks = {}): Promise<InstallResult> {
  const started = Date.now();
  const requestId = `req_${randomUUID()}`;
  const gates = request.gates ?? {};
  const finished = await admittedRun(deps, request, gates, requestId, hooks, started);
  const durationMs = Date.now() - started;
  const { audit, ...result } = finished.ending;
  const record: AuditRecord = await deps.audit.append({
    identity: request.identity,
    tool: request.tool,
    environment: finished.environment,
    package: finished.package,
    outcome: result.status,
    arguments: request.rawArguments,
    reason: result.status === "installed" || result.status === "already-satisfied" ? undefined : result.message,
    request: gates.operator === true ? { ...finished.request, admission: OPERATOR_BYPASS } : finished.request,
    decision: result.decision,
    resolved: result.resolved.length > 0 ? result.resolved : undefined,
    ...(result.refusedAt === undefined ? { durationMs } : {}),
    ...request.audit,
    ...audit,
  });
  if (result.status === "pending" && finished.considered !== undefined && finished.package !== undefined && finished.environment !== undefined) {
    await gates.approvals?.enqueue(finished.considered, {
      identity: request.identity,
      environment: finished.environment,
      package: finished.package,
      arguments: request.rawArguments,
      requirement: String(finished.request.requirement),
      auditId: record.id,
    });
  }
  return { ...result, environment: finished.environment ?? "", package: finished.package ?? "", auditId: record.id, durationMs };
}

/** Stages 1 and 3, then the pipeline with the admission slot held for as long as it runs. */
async function admittedRun(
  deps: PipelineDeps,
  request: InstallRequest,
  gates: InstallGates,
  requestId: string,
  hooks: InstallHooks,
  started: number,
): Promise<Finished & { considered?: Considered }> {
  let args = request.args;
  if (args === undefined) {
    const context = gates.context ?? { environments: deps.environments.names(), timeoutMax: deps.sandboxConfig.timeout_max };
    const validated = validateInstallArguments(request.rawArguments, context);
    if (!validated.ok) {
      const { refusal } = validated;
      return {
        ending: {
          ...failure("failed", refusal.message, undefined),
          status: "invalid",
          refusedAt: "validate",
          refusal: { kind: refusal.kind, field: refusal.field },
        },
        environment: rawEnvironment(request.rawArguments, context.environments),
        package: undefined,
        request: { requestId, refusal: refusal.kind, field: refusal.field },
      };
    }
    args = validated.args;
  }
  const requestInfo = { requestId, requirement: formatRequirement(args.requirement), upgrade: args.upgrade, timeout: args.timeout };
  const where = { environment: args.environment, package: args.requirement.normalized };
  const admission = (await gates.admitter?.admit(request.identity, "install_package", args.environment, request.rawArguments)) ?? {
    ok: true as const,
    release: async () => undefined,
  };
  if (!admission.ok) {
    const ending: Ending = { ...failure("denied", admission.message, undefined), status: admission.outcome, refusedAt: "admit" };
    if (admission.retryAfterSeconds !== undefined) ending.retryAfterSeconds = admission.retryAfterSeconds;
    if (admission.outcome === "pending") {
      // held by a policy rule on the call itself: approved, the same call is admitted once
      const { id, expiresAt } = admission.approval;
      ending.approval = { id, expiresAt: new Date(expiresAt) };
      ending.audit = { approval: { id, expires_at: expiresAt, rule: admission.rule } };
    }
    return { ending, ...where, request: requestInfo };
  }
  try {
    const ran = await timedPipeline(deps, { ...request, args }, gates, requestInfo, hooks, started);
    return { ...ran, ...where };
  } finally {
    await admission.release();
  }
}

/** The pipeline under the request's deadline, with the intent written before the first work. */
async function timedPipeline(
  deps: PipelineDeps,
  request: InstallRequest & { args: InstallArguments },
  gates: InstallGates,
  requestInfo: { requestId: string; requirement: string; upgrade: boolean; timeout: number },
  hooks: InstallHooks,
  started: number,
): Promise<{ ending: Ending; request: Record<string, unknown>; considered?: Considered }> {
  const { args } = request;
  const { requestId } = requestInfo;
  let intent: AuditRecord | undefined;
  const intentFirst = async (work: string): Promise<void> => {
    intent ??= await deps.audit.appendIntent({
      identity: request.identity,
      tool: request.tool,
      environment: args.environment,
      package: args.requirement.normalized,
      arguments: request.rawArguments,
      reason: `started: ${work}`,
      request: requestInfo,
      broker: { ...(await currentBroker()), ...(deps.brokerId === undefined ? {} : { id: deps.brokerId }) },
    });
  };
  // The two ways work starts, whatever path the pipeline takes to them.
  const guarded: PipelineDeps = {
    ...deps,
    sandbox: {
      run: async (...run) => {
        await intentFirst("a sandbox run");
        return deps.sandbox.run(...run);
      },
      imagePython: (image) => deps.sandbox.imagePython(image),
      ping: () => deps.sandbox.ping(),
      runtimes: () => deps.sandbox.runtimes(),
      ...(deps.sandbox.claim === undefined ? {} : { claim: deps.sandbox.claim.bind(deps.sandbox) }),
    },
    commit: async (...commit) => {
      await intentFirst("a commit");
      return deps.commit(...commit);
    },
  };
  // `timeout` bounds the whole request: policy, sandbox, verification and commit (which rolls back).
  const deadline = AbortSignal.timeout(args.timeout * 1000);
  const signal = hooks.signal === undefined ? deadline : AbortSignal.any([hooks.signal, deadline]);
  let ending: Ending;
  let considered: Considered | undefined;
  const shadow: { record?: ShadowRecord } = {};
  try {
    const approval = { gate: gates.approvals, approved: gates.approved, queued: (queued: Considered) => void (considered = queued) };
    // an approved run installs its approved set only, whatever mode the environment is in by now
    const shadowed = gates.approved === undefined && (gates.shadow === true || deps.environments.config(args.environment)?.mode === "shadow");
    ending = await pipeline(
      guarded,
      { ...request, args },
      requestId,
      { ...hooks, signal },
      started + args.timeout * 1000,
      approval,
      shadowed ? shadow : undefined,
    );
  } catch (error) {
    deps.log.error({ err: errorMessage(error), requestId }, "install failed unexpectedly");
    ending = failure("failed", `pipgate could not complete the install: ${errorMessage(error)}`, undefined);
  }
  if (shadow.record !== undefined) {
    const went = ending.status === "installed" || ending.status === "already-satisfied";
    ending = {
      ...ending,
      audit: { ...ending.audit, shadow: shadow.record, ...(went && shadow.record.would_deny ? { reason: shadowReason(shadow.record) } : {}) },
    };
  }
  if (deadline.aborted && (ending.status === "failed" || ending.status === "timed-out")) {
    ending = {
      ...ending,
      status: "timed-out",
      message: `timed out after ${args.timeout} s (the timeout bounds the whole request, commit included); ${timedOutDetail(ending.message)}`,
    };
  }
  return {
    ending,
    request: intent === undefined ? requestInfo : { ...requestInfo, intent: intent.id },
    ...(ending.status === "pending" && considered !== undefined ? { considered } : {}),
  };
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

/** Below this many seconds left, a refused install answers with its first refusal instead of resolving the tree. */
const TREE_MIN_SECONDS = 10;

/**
 * A refused install names everything that is missing at once: the full set resolved again as a check
 * (resolveTree: decision-only, nothing from it can be committed) and every refused distribution with
 * its chain and rule, and the allowlist command as the hint. Undefined when the tree finds nothing to
 * add (the refusal was not about policy, e.g. a tampered file) or there is no time left for it.
 */
async function wholeTreeRefusal(
  deps: PipelineDeps,
  env: EnvironmentRuntime,
  job: Omit<SandboxJob, "mode">,
  decision: Extract<Decision, { allowed: true }>,
  deadlineAt: number,
  hooks: InstallHooks,
  first: Ending,
): Promise<Ending | undefined> {
  const remaining = Math.floor((deadlineAt - Date.now()) / 1000);
  if (remaining < TREE_MIN_SECONDS) return undefined;
  hooks.progress?.({ stage: "resolving", message: `resolving the whole tree of ${job.pinned} to name everything it needs` });
  const tree = await resolveTree(deps, env, { ...job, timeout: remaining }, hooks);
  if (!tree.ok || tree.refused.length === 0) return undefined;
  const root = { name: decision.name, version: decision.version, specifier: env.allowlist.packages.get(decision.name)?.specifier ?? "" };
  const text = treeRefusalText(root, env.name, tree.refused);
  return { ...first, message: text.message, hint: text.hint, refused: tree.refused };
}

/** What a request that ran out of time left: the commit's restore, or nothing at all. */
function timedOutDetail(message: string): string {
  if (message.includes("could NOT be rolled back")) return message;
  return message.includes("was rolled back") || message.includes("restored") ? "the commit was rolled back and nothing was installed" : "nothing was installed";
}

async function pipeline(
  deps: PipelineDeps,
  request: InstallRequest & { args: InstallArguments },
  requestId: string,
  hooks: InstallHooks,
  deadlineAt: number,
  approval: { gate: ApprovalGate | undefined; approved: ApprovedRun | undefined; queued: (considered: Considered) => void },
  shadow: { record?: ShadowRecord } | undefined,
): Promise<Ending> {
  const { args } = request;
  const progress = hooks.progress ?? (() => undefined);
  const loaded = await deps.environments.get(args.environment);
  if (!loaded.ok) return failure("failed", loaded.error, undefined);
  const env = loaded.env;

  progress({ stage: "policy", message: `checking ${formatRequirement(args.requirement)} against ${env.name}'s policy` });
  const first = await decide(args.requirement, env, deps.policyDeps);
  // Stage 5 on the decision just made: the approval policy may turn it into a question for a person,
  // about the whole set, so the set is resolved and verified first (with names off the allowlist let
  // through when the policy queues those); the deny list and every other rule still refuse outright.
  // Shadow mode: the real decision is kept for the audit, the install runs against the lifted policy.
  if (shadow !== undefined) shadow.record = shadowOfRequest(first);
  const held: Held = shadow === undefined ? holdFor(approval.gate, approval.approved, first, env) : { env: shadowEnvironment(env) };
  const decision = held.env === env ? first : await decide(args.requirement, held.env, deps.policyDeps);
  const pendingFor = (queued: Considered): Ending => {
    approval.queued(queued);
    return {
      ...failure("denied", queued.message, first),
      status: "pending",
      approval: { id: queued.id, expiresAt: queued.expiresAt },
      resolved: queued.set.map((dist) => ({ name: dist.name, version: dist.version, sha256: dist.sha256 })),
      audit: {
        approval: {
          id: queued.id,
          why: queued.reason,
          detail: queued.detail,
          expires_at: queued.expiresAt.toISOString(),
          set: queued.set.map(({ path: _path, ...dist }) => dist),
          ...(queued.supersedes === undefined ? {} : { supersedes: queued.supersedes }),
        },
      },
    };
  };
  if (!decision.allowed) {
    const allow = unlistedHint(decision, args.requirement, env.name);
    const hint = allow === undefined ? decision.hint : decision.hint === undefined ? allow : `${decision.hint}; or ${allow}`;
    return failure("denied", decision.reason, decision, { hint, version: decision.version });
  }

  const inspected = await inspectEnvironment(env.python, deps.inspector);
  if (!inspected.ok) return failure("failed", `cannot list the packages of ${env.name}: ${inspected.error}`, decision);
  const installed = inspected.value.installed;
  const current = installed.find((dist) => normalizeName(dist.name) === decision.name);
  const satisfied = (version: string, message: string): Ending => ({
    ...failure("denied", "", decision),
    status: "already-satisfied",
    version,
    message,
    unchanged: [{ name: decision.name, version }],
  });
  if (current !== undefined && !args.upgrade && versionSatisfies(current.version, args.requirement.specifier)) {
    return satisfied(
      current.version,
      `${decision.name} ${current.version} is already installed in ${env.name} and satisfies ${formatRequirement(args.requirement)}; pass upgrade: true for a newer allowed version`,
    );
  }
  const newest = `${decision.name} ${decision.version} is already installed in ${env.name}, the newest version its policy allows for ${formatRequirement(args.requirement)}`;
  // pip upgrades only the named project (only-if-needed): at the newest allowed version, nothing changes.
  if (current !== undefined && args.upgrade && sameVersion(current.version, decision.version)) return satisfied(current.version, newest);

  const pinned = `${decision.name}${args.requirement.extras.length > 0 ? `[${args.requirement.extras.join(",")}]` : ""}==${decision.version}`;
  const image = imageFor(env.pythonVersion, deps.sandboxConfig.image);
  const imagePython = await deps.sandbox.imagePython(image);
  const envMinor = pythonMinor(env.pythonVersion);
  if (imagePython === undefined) {
    return failure("failed", `the sandbox image ${image} is missing; build it with \`pipgate sandbox build-image\``, decision);
  }
  if (imagePython !== envMinor) {
    return failure(
      "failed",
      `the sandbox image ${image} carries Python ${imagePython} but ${env.name} runs Python ${envMinor}; build a matching image`,
      decision,
    );
  }

  // A resolution verified before from the same inputs needs no sandbox: only a fresh policy check.
  const cacheKey = resolutionKey({ image, pythonVersion: env.pythonVersion, requirement: pinned, upgrade: args.upgrade, installed, allowlist: env.allowlist });
  let verified: Verified | undefined;
  let sandbox: Record<string, unknown> | undefined;
  // An approval's set is resolved afresh: a set that changed since it was approved must be seen.
  const cached = held.env === env ? await deps.resolutions.get(cacheKey) : undefined;
  if (cached !== undefined) {
    progress({ stage: "verifying", message: `re-checking a verified resolution of ${pinned} against current policy` });
    const again = await verifyWheels(deps, env, cached, []);
    if (again.ok) {
      verified = again;
      sandbox = { cached: true };
    } else deps.log.info({ pinned, reason: again.error }, "cached resolution no longer passes; resolving again");
  }
  if (verified === undefined) {
    const remaining = Math.max(1, Math.ceil((deadlineAt - Date.now()) / 1000));
    const job = { pinned, image, upgrade: args.upgrade, installed, timeout: remaining, requestId, decision };
    const resolved = await resolveInSandbox(deps, held.env, job, hooks);
    if (!resolved.ok || !resolved.verified.ok) {
      const refused = resolved.ok
        ? failure(
            "denied",
            resolved.verified.ok ? "" : resolved.verified.error,
            withContentRule(decision, resolved.verified.ok ? [] : (resolved.verified.content ?? []), 0),
            {
              audit: { sandbox: resolved.sandbox },
            },
          )
        : failure(resolved.status, resolved.message, decision, { audit: { sandbox: resolved.sandbox } });
      return refused.status === "denied" ? ((await wholeTreeRefusal(deps, held.env, job, decision, deadlineAt, hooks, refused)) ?? refused) : refused;
    }
    verified = resolved.verified;
    sandbox = resolved.sandbox;
    if (held.env === env) await deps.resolutions.put(cacheKey, verified.wheels);
  }
  if (!verified.ok) return failure("denied", verified.error, withContentRule(decision, verified.content ?? [], 0), { audit: { sandbox } });
  // The content rule's verdict, from the wheels' files: in the result's decision and so in the audit record.
  const judged = withContentRule(decision, verified.content ?? [], verified.wheels.length);
  const contentWarnings = (verified.content ?? [])
    .filter((finding) => finding.action === "warn")
    .map((finding) => `${finding.detail} (rules.content.${finding.kind}: warn)`);
  if (verified.wheels.length === 0) return { ...satisfied(decision.version, newest), audit: { sandbox } };
  if (shadow?.record !== undefined) shadow.record = await shadowOfSet(shadow.record, verified.wheels, env, deps.policyDeps);
  const bound = await afterVerify(deps, approval.gate, held, env, verified.wheels, formatRequirement(args.requirement));
  if (bound.kind === "queue") {
    const pending = pendingFor(bound.considered);
    return { ...pending, audit: { ...pending.audit, sandbox } };
  }
  if (bound.kind === "refuse") return failure("denied", bound.message, decision, { audit: { sandbox } });
  verified = { ...verified, wheels: bound.wheels };
  // An early, cheap answer from the state read before the sandbox; the commit checks again under the
  // environment lock (with the wheels' own requirements and file ownership), which is what makes it safe.
  const conflicts = brokenRequirements(installed, verified.wheels, inspected.value.markers);
  if (conflicts.length > 0) {
    return failure("denied", `refused: it would break what ${env.name} has installed: ${conflicts.join("; ")}`, decision, {
      audit: { sandbox },
      hint: "ask for a version compatible with the installed packages, or upgrade them first",
    });
  }

  progress({ stage: "committing", message: `installing ${verified.wheels.length} verified wheel(s) into ${env.name}` });
  const commit = await deps.commit(env, verified.wheels, requestId, hooks.signal, [args.requirement.normalized]);
  const resolved = verified.wheels.map((wheel) => ({ name: wheel.name, version: wheel.version, sha256: wheel.sha256 }));
  if (!commit.ok && REFUSING_STAGES.has(commit.stage)) {
    // The environment changed while this request was in the sandbox; checked again under the lock.
    return failure("denied", commit.error, decision, {
      audit: { sandbox, commit },
      resolved,
      hint:
        commit.stage === "ownership"
          ? "it ships files another installed package owns; uninstall that package first, or choose another version"
          : "ask for a version compatible with the installed packages, or upgrade them first",
    });
  }
  if (!commit.ok) {
    const restored = commit.rolledBack ? "was rolled back" : commit.stage === "rollback" ? "could NOT be rolled back" : "stopped before writing anything";
    return failure("failed", `the commit into ${env.name} failed and ${restored}: ${commit.error}`, decision, {
      audit: { sandbox, commit },
      resolved,
    });
  }
  if (commit.installed.length === 0) return { ...satisfied(decision.version, newest), unchanged: commit.unchanged, resolved, audit: { sandbox, commit } };
  // rules.provenance: the first install of a project records the Trusted Publisher its attestations named;
  // an approved publisher change (rules.provenance_change: approval) moves the record to the new one.
  const indexes = deps.policyDeps.indexes;
  const indexOf = (name: string) => (indexes === undefined ? deps.index : endpointOf(indexes, env.allowlist.bindings?.get(normalizeName(name)))?.client);
  const changes = approval.approved === undefined ? undefined : approvedChanges(approval.approved.set);
  const provenance = await recordProvenance(verified.wheels, env.allowlist, indexOf, deps.policyDeps.provenance, deps.policyDeps.now(), changes);
  if (provenance.errors.length > 0) deps.log.warn({ errors: provenance.errors }, "could not record the publisher of every installed project");
  const moved = provenance.repinned.map((pin) => `${pin.project}'s recorded publisher moved from ${pin.from} to ${pin.to}`);
  const provenanceAudit = {
    ...(provenance.recorded.length === 0 ? {} : { recorded: provenance.recorded }),
    ...(provenance.repinned.length === 0 ? {} : { repinned: provenance.repinned.map((pin) => ({ ...pin, approval: approval.approved?.id ?? "" })) }),
  };
  return {
    status: "installed",
    version: decision.version,
    message: `installed ${decision.name} ${decision.version} into ${env.name}${commit.installed.length > 1 ? ` with ${commit.installed.length - 1} dependenc${commit.installed.length === 2 ? "y" : "ies"}` : ""}${contentWarnings.length > 0 ? `; content warnings: ${contentWarnings.join("; ")}` : ""}${moved.length > 0 ? `; ${moved.join("; ")} (approved)` : ""}`,
    hint: undefined,
    installed: commit.installed,
    unchanged: commit.unchanged,
    resolved,
    entryPoints: verified.entryPoints,
    decision: judged,
    audit: { sandbox, commit, ...(Object.keys(provenanceAudit).length === 0 ? {} : { provenance: provenanceAudit }) },
  };
}
