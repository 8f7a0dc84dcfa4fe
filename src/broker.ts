import { randomUUID } from "node:crypto";
import { closeInterrupted } from "./audit/interrupted.js";
import type { AuditLog } from "./audit/store.js";
import { commitWheels } from "./commit/commit.js";
import { createInspector } from "./commit/inspector.js";
import { journalsOf } from "./commit/journal.js";
import { isProcessAlive as isAlive } from "./state/process.js";
import { recoverUnfinishedCommits } from "./commit/recover.js";
import type { CommitFaults } from "./commit/request.js";
import { createEnvironments, type Environments } from "./config/environments.js";
import type { LoadedConfig } from "./config/schema.js";
import { errorMessage, PipgateError } from "./errors.js";
import { indexFromConfig } from "./index/from-config.js";
import type { IndexClient } from "./index/types.js";
import type { Logger } from "./log.js";
import type { PipelineDeps } from "./pipeline/deps.js";
import { runtimeDir } from "./paths.js";
import { loadPopularNames } from "./policy/popular-names.js";
import { createDockerRunner, type SandboxRunner } from "./sandbox/docker.js";
import { reapContainers } from "./sandbox/reaper.js";
import { openPool } from "./sandbox/open-pool.js";
import { sweepStaleBackups } from "./commit/leftovers.js";
import { sweepStore } from "./commit/store.js";
import { createStoreBuilder, type StoreBuilder } from "./commit/store-background.js";
import { createInspectionMemo } from "./verify/inspection-memo.js";
import { STAGING_PREFIX } from "./commit/staging.js";
import { SCRATCH } from "./pipeline/resolve-in-sandbox.js";
import { sweepOwnedDirs } from "./state/leftovers.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStateDb, type Db } from "./state/db.js";
import { openOsvDatabase, type OsvDatabase } from "./osv/database.js";
import { provenanceFromConfig } from "./provenance/index.js";
import type { StateStore } from "./store/index.js";
import { openSharedState } from "./store/shared.js";
import { brokerIdOf } from "./state/broker-id.js";
import { sqliteState } from "./store/sqlite.js";

export interface Broker {
  config: LoadedConfig;
  /**
   * The local state database: the commit journal and the gateway's tool pins, which describe this
   * machine's environments and upstream processes, stay here whatever store holds the shared state.
   */
  db: Db;
  /** this state directory's id (state/broker-id.ts): in a fleet, the owner of the approvals it queues */
  brokerId: string;
  /** the state brokers share: audit, rate windows, approvals, caches */
  state: StateStore;
  /** state.audit */
  audit: AuditLog;
  environments: Environments;
  index: IndexClient;
  sandbox: SandboxRunner;
  pipeline: PipelineDeps;
  /** makes the store entries of wheels installed cold, after their commits (serve only; undefined otherwise) */
  storeBuilder: StoreBuilder | undefined;
  /** the offline OSV database (rules.osv), kept current while the broker runs */
  osv: OsvDatabase | undefined;
  close(): void;
}

export interface BrokerOverrides {
  sandbox?: SandboxRunner;
  now?: () => Date;
  /** Test-only: the commit's fault hooks, so crash tests can stop a real broker inside a commit. */
  commitFaults?: CommitFaults;
  /**
   * Environments to ready while the broker starts (allowlist read, interpreter asked for its version),
   * beside recovery and the container reap instead of after them: `pipgate install` names its one.
   */
  readyEnvironments?: readonly string[];
}

/**
 * Opens everything a running pipgate needs from its configuration, and first rolls back any commit a
 * previous process left unfinished, so nothing is served from a torn venv; then each request a dead
 * broker left open gets its "interrupted" outcome (DESIGN property 9).
 */
export async function openBroker(config: LoadedConfig, log: Logger, overrides: BrokerOverrides = {}, options: { longRunning?: boolean } = {}): Promise<Broker> {
  const db = openStateDb(config.state_dir);
  let brokerId: string;
  try {
    brokerId = brokerIdOf(db);
  } catch (error) {
    db.close();
    throw new PipgateError("state", errorMessage(error));
  }
  // fleet mode (`database:`): the shared database's stores; otherwise the same SQLite file, over the same handle
  let shared: StateStore | undefined;
  try {
    shared = await openSharedState(config, log, overrides.now);
  } catch (error) {
    db.close();
    throw error;
  }
  const state = shared ?? sqliteState(db, overrides.now === undefined ? {} : { now: overrides.now });
  const audit = state.audit;
  const environments = createEnvironments(config, log);
  // Nothing is decided from these until the pipeline asks again (same slot, same probe): only started early.
  for (const name of overrides.readyEnvironments ?? []) void environments.get(name);

  // The first look for leftover containers waits on the Docker engine: it runs beside recovery, and its
  // records are appended after recovery's, in the order they always had.
  const killLeftovers = () =>
    reapContainers(config.sandbox.docker_socket, config.state_dir).catch((error: unknown) => {
      log.warn({ err: errorMessage(error) }, "could not look for sandbox containers left by a dead broker");
      return [];
    });
  // (never rejects: a failure is logged and is an empty list)
  const firstReap = killLeftovers();
  const recovered = await recoverUnfinishedCommits(
    db,
    config.state_dir,
    Object.fromEntries(Object.entries(config.environments).map(([name, env]) => [name, { python: env.python }])),
  );
  // Then every request a dead broker left without an outcome gets exactly one, saying what was found.
  const closed = await closeInterrupted({ audit, journalsOf: (requestId) => journalsOf(db, requestId), isAlive, brokerId }, recovered);
  for (const record of closed)
    log.warn({ audit: record.id, request: record.request, recovery: record.recovery }, "closed a request interrupted by a broker that ended");

  const recordReaped = async (reaped: Awaited<ReturnType<typeof reapContainers>>) => {
    for (const container of reaped) {
      await audit.append({
        identity: "pipgate",
        tool: "recovery",
        outcome: "reaped",
        arguments: { container: container.id, request: container.request },
        // Recovery's own request: the container's request gets its one outcome from its intent.
        request: { requestId: `rec_${randomUUID()}`, recovers: container.request },
        reason: `${container.request === "" ? `pooled sandbox container ${container.id.slice(0, 12)} (its request, if it had one, is not on its labels)` : `sandbox container ${container.id.slice(0, 12)} of request ${container.request}`} ${container.why === "broker-gone" ? "outlived the broker that started it" : "ran past its deadline"}; killed and removed`,
      });
      log.warn({ ...container }, "killed and removed a leftover sandbox container");
    }
  };
  const reap = async () => recordReaped(await killLeftovers());
  await recordReaped(await firstReap);
  // A live broker kills its own containers at their timeout; this catches what nothing else would.
  const reaper = setInterval(() => void reap(), 60_000);
  reaper.unref();
  const swept = [
    ...(await sweepOwnedDirs(join(config.state_dir, "work"), SCRATCH.work)),
    ...(await sweepOwnedDirs(join(config.state_dir, "staging"), STAGING_PREFIX)),
    ...(await sweepOwnedDirs(tmpdir(), SCRATCH.socket)),
    ...(await sweepStaleBackups(db, config.state_dir)),
    ...(await sweepStore(config.state_dir)),
  ];
  if (swept.length > 0) log.info({ removed: swept }, "removed scratch directories left by dead brokers");

  const configured = await indexFromConfig(config, { cache: state.httpCache, now: overrides.now });
  if (!configured.ok) {
    clearInterval(reaper);
    db.close();
    void state.close();
    throw new PipgateError("index", configured.error);
  }
  const { index, headers: indexHeaders, indexes } = configured.value;
  const runner = overrides.sandbox ?? createDockerRunner(config.sandbox.docker_socket, log);
  // The warm pool is for a broker that stays up (serve): a one-shot command would only make a container to remove.
  const sandbox = options.longRunning === true && config.sandbox.pool.size > 0 ? await openPool(runner, config, environments, log, SCRATCH.socket) : runner;
  const now = overrides.now ?? (() => new Date());
  const osv = config.osv === undefined ? undefined : await openOsvDatabase({ path: config.osv.path, maxAgeHours: config.osv.max_age_hours }, log, now);
  const provenance = await provenanceFromConfig(config, state.publishers);
  if (!provenance.ok) {
    clearInterval(reaper);
    db.close();
    void state.close();
    throw new PipgateError("config", provenance.error);
  }
  // A cold wheel's store entry is made after its commit, by a broker that stays up to make it.
  const storeBuilder =
    options.longRunning === true && config.commit.installer === "direct" && config.commit.store && config.commit.store_cold === "background"
      ? createStoreBuilder(log)
      : undefined;
  // Each environment's interpreter answers its inspections while it runs, for a broker that stays up.
  const inspector = options.longRunning === true ? createInspector() : undefined;
  const pipeline: PipelineDeps = {
    stateDir: config.state_dir,
    brokerId,
    runtimeDir: runtimeDir(),
    sandboxConfig: config.sandbox,
    environments,
    audit,
    index,
    indexHeaders,
    sandbox,
    resolutions: state.resolutions,
    policyDeps: {
      index,
      indexes,
      now,
      popularNames: loadPopularNames(),
      ...(osv === undefined ? {} : { osv: osv.view }),
      provenance: provenance.value,
    },
    inspections: createInspectionMemo(),
    ...(inspector === undefined ? {} : { inspector }),
    commit: (env, wheels, requestId, signal, requested) =>
      commitWheels(
        db,
        {
          environment: env.name,
          python: env.python,
          wheels,
          auditId: requestId,
          ...(requested === undefined ? {} : { requested: [...requested] }),
          stateDir: config.state_dir,
          installer: config.commit.installer,
          ...(config.commit.backup === undefined ? {} : { backup: config.commit.backup }),
          store: config.commit.store,
          link: config.commit.link,
          storeMaxMb: config.commit.store_max_mb,
          ...(overrides.commitFaults === undefined ? {} : { faults: overrides.commitFaults }),
        },
        signal,
        { ...(storeBuilder === undefined ? {} : { storeBuilder }), ...(inspector === undefined ? {} : { inspector }) },
      ),
    log,
  };
  return {
    config,
    db,
    brokerId,
    state,
    audit,
    environments,
    index,
    sandbox,
    pipeline,
    storeBuilder,
    osv,
    close: () => {
      clearInterval(reaper);
      void sandbox.close?.();
      inspector?.close();
      osv?.close();
      // the SQLite state shares `db` and has nothing of its own to release; PostgreSQL's pool ends its
      // connections in the background (Broker.close stays synchronous for its many callers)
      void state.close();
      db.close();
    },
  };
}
