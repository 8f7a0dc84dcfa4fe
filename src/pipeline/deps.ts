import type { AuditLog } from "../audit/store.js";
import type { Inspector } from "../commit/interpreter.js";
import type { CommitResult, VerifiedWheel } from "../commit/request.js";
import type { EnvironmentRuntime, Environments } from "../config/environments.js";
import type { SandboxConfig } from "../config/schema.js";
import type { IndexClient } from "../index/types.js";
import type { Logger } from "../log.js";
import type { Decision, PolicyDeps } from "../policy/index.js";
import type { InspectionMemo } from "../verify/inspection-memo.js";
import type { SandboxRunner } from "../sandbox/docker.js";
import type { ResolutionCache } from "./resolution-cache.js";
import type { QueueReason } from "../approvals/store.js";
import type { SetDist } from "../approvals/resolved-set.js";

/** A stage reached by a long install: becomes an MCP progress notification or a terminal line. */
export interface Progress {
  stage: "policy" | "resolving" | "building" | "verifying" | "committing";
  message: string;
}

/** Everything the pipeline works with, passed in: no module-level state, tests build their own. */
export interface PipelineDeps {
  stateDir: string;
  /** this state directory's broker id (state/broker-id.ts): intents name it, so in a fleet each broker closes only its own */
  brokerId?: string;
  runtimeDir: string;
  sandboxConfig: SandboxConfig;
  environments: Environments;
  audit: AuditLog;
  index: IndexClient;
  indexHeaders: Record<string, string> | undefined;
  sandbox: SandboxRunner;
  /** Verified resolutions by their inputs: a repeat install skips the sandbox. */
  resolutions: ResolutionCache;
  policyDeps: PolicyDeps;
  /** Wheel inspections by file identity: a repeat install does not inflate an unchanged wheel again. */
  inspections?: InspectionMemo;
  /** Interpreters kept running for their inspections (a broker that stays up); without it, one start per inspection. */
  inspector?: Inspector;
  /** `requested`: the distributions the request named, which get REQUESTED (pip's semantics). */
  commit: (env: EnvironmentRuntime, wheels: VerifiedWheel[], requestId: string, signal?: AbortSignal, requested?: readonly string[]) => Promise<CommitResult>;
  log: Logger;
}

/** What the sandbox stage (6) uses: the container runner, the index it may reach through the proxy, scratch space. */
export type SandboxStageDeps = Pick<
  PipelineDeps,
  "stateDir" | "runtimeDir" | "sandboxConfig" | "sandbox" | "index" | "indexHeaders" | "log" | "policyDeps" | "inspections"
>;

/** What the verify stage (7) uses: the policy's collaborators, to hold every resolved distribution to policy. */
export type VerifyStageDeps = Pick<PipelineDeps, "policyDeps" | "inspections">;

/** Why the approval stage holds a decision for a person, and whether names off the allowlist may be resolved for it. */
export interface Hold {
  reason: QueueReason;
  detail: string;
  /** the approval policy's `unlisted`: dependencies off the allowlist join the set the person approves */
  unlisted: boolean;
}

/** An install the approval policy sends to a person, with the set it resolved to: its id, expiry and the agent's message, before anything is written. */
export interface Considered {
  id: string;
  expiresAt: Date;
  message: string;
  reason: QueueReason;
  detail: string;
  set: SetDist[];
  /** the approval whose set changed before it could run */
  supersedes?: string;
}

/** An approved request as it runs: the set it may install, and nothing else. */
export interface ApprovedRun {
  id: string;
  decidedBy: string;
  set: SetDist[];
  unlisted: boolean;
}

/**
 * The approval stage (5) as the request path sees it: asked once, with the decision the policy stage
 * already made, whether that decision waits for a person; then, once the sandbox resolved and verified
 * the set, asked for the request to queue; then, after the request's one audit record is written, told
 * to queue it.
 */
export interface ApprovalGate {
  screen(decision: Decision, env: EnvironmentRuntime): Hold | undefined;
  consider(hold: Hold, set: SetDist[], requirement: string, supersedes?: string): Considered;
  enqueue(
    considered: Considered,
    request: { identity: string; environment: string; package: string; arguments: unknown; requirement: string; auditId: string },
  ): Promise<void>;
}
