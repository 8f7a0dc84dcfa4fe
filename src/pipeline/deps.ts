import type { AuditLog } from "../audit/store.js";
import type { CommitResult, VerifiedWheel } from "../commit/request.js";
import type { EnvironmentRuntime, Environments } from "../config/environments.js";
import type { SandboxConfig } from "../config/schema.js";
import type { IndexClient } from "../index/types.js";
import type { Logger } from "../log.js";
import type { PolicyDeps } from "../policy/index.js";
import type { SandboxRunner } from "../sandbox/docker.js";
import type { ResolutionCache } from "./resolution-cache.js";

/** A stage reached by a long install: becomes an MCP progress notification or a terminal line. */
export interface Progress {
  stage: "policy" | "resolving" | "building" | "verifying" | "committing";
  message: string;
}

/** Everything the pipeline works with, passed in: no module-level state, tests build their own. */
export interface PipelineDeps {
  stateDir: string;
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
  commit: (env: EnvironmentRuntime, wheels: VerifiedWheel[], requestId: string, signal?: AbortSignal) => Promise<CommitResult>;
  log: Logger;
}
