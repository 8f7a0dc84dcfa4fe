import { randomBytes, randomUUID } from "node:crypto";
import { appendFile, lstat, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { eq as sameVersion } from "@renovatebot/pep440";
import { errorMessage } from "../errors.js";
import type { Db } from "../state/db.js";
import { backupRoots, discardBackup, readManifest, restoreBackup, takeBackup } from "./backup.js";
import { applyDirect, planDirect, releasePlan, touchSet, type DirectPlan } from "./direct-install.js";
import { brokenRequirements } from "./conflicts.js";
import { firstOnPath, inspectInterpreter, type Inspector, type InterpreterInfo } from "./interpreter.js";
import { insertJournal, setJournalState } from "./journal.js";
import { withEnvironmentLock, type LockQueue } from "./lock.js";
import { pipInstallArgs } from "./pip-command.js";
import { normalizeName } from "../requirement/name.js";
import { CommitRequestSchema, type CommitRequest, type CommitResult, type CommitStage, type CommitTimings, type Pin } from "./request.js";
import { runPip } from "./run-pip.js";
import { stageWheels, type Staging } from "./staging.js";
import { COMPILE_PID_FILE, PIP_PID_FILE } from "./stray.js";
import { evictStore, storeDirOf } from "./store.js";
import type { StoreBuilder } from "./store-background.js";
import { restoreUndo, takeUndo, type UndoManifest } from "./undo.js";

/** The store's cap when the configuration names none. */
export const DEFAULT_STORE_MAX_MB = 2048;

/** Extra collaborators a long-running server passes; none are needed for correctness. */
export interface CommitOptions {
  /** The server's in-process lock queue, so concurrent requests wait in arrival order. */
  lockQueue?: LockQueue;
  /**
   * Makes the store entries of wheels installed cold after the commit, off the request's path; without
   * it a cold wheel's entry is made first and the install links from it.
   */
  storeBuilder?: StoreBuilder;
  /** Interpreters kept running for the inspection under the lock; without it, one interpreter start. */
  inspector?: Inspector;
}

/**
 * Installs exactly the verified wheels into the environment, or leaves it as it was: wheels are
 * re-hashed first, the environment is locked, journalled and backed up, and any failure (pip's exit,
 * a kill, an exception, an abort) restores the backup (DESIGN properties 3 and 4). The direct
 * installer backs up exactly the paths it touches (undo.ts), so its cost follows the change, not the
 * environment; pip's backup is every root it may write into.
 */
export async function commitWheels(db: Db, req: CommitRequest, signal?: AbortSignal, opts: CommitOptions = {}): Promise<CommitResult> {
  const startedAt = performance.now();
  const parsed = CommitRequestSchema.safeParse(req);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "request"}: ${i.message}`).join("; ");
    return fail("validate", issues);
  }
  const staging = await stageWheels(join(parsed.data.stateDir, "staging"), parsed.data.wheels);
  if (!staging.ok) return fail("verify", `${staging.error}; the environment was not touched`);
  const timings = new CommitClock(startedAt);
  timings.mark("stageMs");
  let entered = false;
  try {
    return await withEnvironmentLock(
      parsed.data.stateDir,
      parsed.data.environment,
      () => {
        entered = true;
        timings.mark("lockMs");
        return commitLocked(db, { ...parsed.data, faults: req.faults }, staging.value, timings, signal, opts);
      },
      { ...(signal === undefined ? {} : { signal }), ...(opts.lockQueue === undefined ? {} : { queue: opts.lockQueue }) },
    );
  } catch (error) {
    if (entered) throw error;
    return fail("lock", `${errorMessage(error)}; the environment was not touched`);
  } finally {
    await rm(staging.value.dir, { recursive: true, force: true });
    if (parsed.data.installer === "direct" && parsed.data.store !== false) {
      // Outside the lock: eviction touches only the store, and never an entry in use.
      await evictStore(storeDirOf(parsed.data.stateDir), (parsed.data.storeMaxMb ?? DEFAULT_STORE_MAX_MB) * 1024 * 1024).catch(() => undefined);
    }
  }
}

async function commitLocked(
  db: Db,
  req: CommitRequest,
  staging: Staging,
  timings: CommitClock,
  signal: AbortSignal | undefined,
  { storeBuilder, inspector }: CommitOptions,
): Promise<CommitResult> {
  const info = await inspectInterpreter(
    req.python,
    staging.wheels.map((w) => w.file),
    inspector,
  );
  if (!info.ok) return fail("inspect", info.error);
  timings.mark("inspectMs");
  const present = new Map(info.value.installed.map((p) => [normalizeName(p.name), p.version]));
  const pins: Pin[] = staging.wheels.map(({ name, version }) => ({ name, version }));
  const isPresent = (pin: Pin, map: Map<string, string>): boolean => {
    const version = map.get(normalizeName(pin.name));
    return version !== undefined && sameVersion(version, pin.version);
  };
  // pip skips an exact pin that is already satisfied, so these are left alone, whatever their origin.
  const unchanged = pins.filter((pin) => isPresent(pin, present));
  const installed = pins.filter((pin) => !isPresent(pin, present));
  if (installed.length === 0) return { ok: true, installed, unchanged, ...timings.done() };
  // Checked here, under the lock, against the environment as it is now: another commit may have
  // changed it since the pipeline's own (earlier, cheaper) check.
  const refusal = refuseUnfit(req.environment, info.value, staging.wheels, (wheel) => !isPresent(wheel, present));
  if (refusal !== undefined) return refusal;

  const roots = await backupRoots(info.value, info.value.outside.some(Boolean));
  if (!roots.ok) return fail("inspect", roots.error);

  const id = randomUUID();
  const backupDir = join(req.stateDir, "backups", id);
  insertJournal(db, {
    id,
    environment: req.environment,
    audit_id: req.auditId,
    started_at: new Date().toISOString(),
    backup_dir: backupDir,
  });
  const toInstall = staging.wheels.filter((w) => !isPresent(w, present));
  let plan: DirectPlan | undefined;
  let undo: UndoManifest | undefined;
  if (req.installer === "direct") {
    // Worked out before anything is written: the undo journal lists exactly the paths it touches.
    try {
      const token = randomBytes(6).toString("hex");
      plan = await planDirect(req.python, info.value, toInstall, {
        token,
        ...(req.requested === undefined ? {} : { requested: req.requested }),
        ...(req.store === false
          ? {}
          : { store: { dir: storeDirOf(req.stateDir), link: req.link ?? "copy", cold: storeBuilder === undefined ? "store" : "direct" } }),
      });
    } catch (error) {
      await discardBackup(backupDir).catch(() => undefined);
      setJournalState(db, id, "abandoned");
      return fail("pip", `${errorMessage(error)}; the install stopped before writing anything`);
    }
    timings.mark("planMs");
  }
  // The store entries the plan takes files from stay in use until the commit is over, whatever its end.
  try {
    try {
      if (plan !== undefined) undo = await takeUndo(backupDir, req.python, info.value.prefix, touchSet(plan), plan.token, req.backup ?? "hardlink");
      // pip decides for itself what it touches, so its backup is every root it may write into.
      else await takeBackup(backupDir, req.python, roots.value, req.backup ?? "copy");
      await req.faults?.afterBackup?.();
      if (signal?.aborted) throw new Error("the install was cancelled");
    } catch (error) {
      await discardBackup(backupDir).catch(() => undefined);
      setJournalState(db, id, "abandoned");
      return fail("backup", `backing up ${req.environment} failed: ${errorMessage(error)}; the environment was not touched`);
    }
    setJournalState(db, id, "started");
    timings.mark("backupMs");

    const direct = plan === undefined ? undefined : { plan, prefix: info.value.prefix, created: new Set(undo?.created) };
    const failure = await install(req, staging, backupDir, pins, signal, direct, timings);
    if (failure === undefined) {
      setJournalState(db, id, "done");
      await discardBackup(backupDir).catch(() => undefined);
      // The wheels installed without an entry get one now, in the background (store-background.ts).
      if (plan !== undefined && storeBuilder !== undefined && info.value.cache_tag !== null) {
        const interpreter = { cacheTag: info.value.cache_tag, magic: info.value.magic };
        for (const wheel of plan.cold) await storeBuilder.defer(storeDirOf(req.stateDir), wheel, req.python, interpreter);
      }
      timings.mark("finishMs");
      return { ok: true, installed, unchanged, ...timings.done() };
    }
    try {
      if (undo !== undefined)
        await restoreUndo(backupDir, undo, { ...(req.faults?.duringRollback === undefined ? {} : { midway: req.faults.duringRollback }) });
      else {
        const manifest = await readManifest(backupDir);
        if (!manifest.ok) throw new Error(manifest.error);
        await restoreBackup(backupDir, manifest.value);
      }
      setJournalState(db, id, "rolled-back");
      await discardBackup(backupDir).catch(() => undefined);
    } catch (error) {
      return fail(
        "rollback",
        `${failure}; restoring ${req.environment} then failed: ${errorMessage(error)}. The backup is kept in ` +
          `${backupDir} and is restored when pipgate next starts`,
      );
    }
    return { ok: false, error: `${failure}; ${req.environment} was restored as it was`, rolledBack: true, stage: "pip" };
  } finally {
    if (plan !== undefined) await releasePlan(plan);
  }
}

/** What the direct installer carries out: its plan, already covered by the undo journal. */
interface DirectInput {
  plan: DirectPlan;
  prefix: string;
  /** the paths the undo journal found empty */
  created: ReadonlySet<string>;
}

/** Runs the chosen installer and checks the result; any failure is returned as a message, never thrown. */
async function install(
  req: CommitRequest,
  staging: Staging,
  backupDir: string,
  pins: readonly Pin[],
  signal: AbortSignal | undefined,
  direct: DirectInput | undefined,
  timings: CommitClock,
): Promise<string | undefined> {
  try {
    await req.faults?.beforePip?.();
    if (signal?.aborted) return "the install was cancelled";
    if (direct !== undefined) {
      const report = await applyDirect(
        req.python,
        direct.plan,
        direct.prefix,
        {
          afterFile: async (written) => {
            await req.faults?.duringDirect?.(written);
            if (signal?.aborted) throw new Error("the install was cancelled");
          },
          onCompileSpawn: async (pid) => {
            // Start-up recovery kills a compiler that outlived its broker before restoring.
            await appendFile(join(backupDir, COMPILE_PID_FILE), `${String(pid)}\n`);
            await req.faults?.duringCompile?.(pid);
          },
        },
        direct.created,
      );
      timings.mark("writeMs", report.compileMs);
      timings.set("compileMs", report.compileMs);
    } else {
      const run = await runPip(req.python, pipInstallArgs(staging.requirements, staging.findLinks), {
        ...(signal === undefined ? {} : { signal }),
        onSpawn: async (pid) => {
          // Start-up recovery kills a pip that outlived its broker before restoring.
          await writeFile(join(backupDir, PIP_PID_FILE), String(pid));
          await req.faults?.duringPip?.(pid);
        },
      });
      if (!run.ok) return run.error;
      timings.mark("writeMs");
    }
    await req.faults?.afterPip?.();
    if (direct !== undefined) {
      // The direct installer wrote every .dist-info itself, by plan: each is checked in place, without
      // another interpreter start (pip's result is read back from the interpreter, below).
      for (const w of direct.plan.wheels) {
        for (const name of ["METADATA", "RECORD"]) {
          const found = await lstat(join(w.distInfo, name)).then(
            (st) => st.isFile(),
            () => false,
          );
          if (!found) return `the install succeeded but ${w.wheel.name}==${w.wheel.version} is not installed (${join(w.distInfo, name)} is missing)`;
        }
      }
      return undefined;
    }
    const after = await inspectInterpreter(req.python);
    if (!after.ok) return after.error;
    const now = new Map(after.value.installed.map((p) => [normalizeName(p.name), p.version]));
    const missing = pins.filter((pin) => {
      const version = now.get(normalizeName(pin.name));
      return version === undefined || !sameVersion(version, pin.version);
    });
    if (missing.length > 0) {
      return `pip succeeded but ${missing.map((p) => `${p.name}==${p.version}`).join(", ")} is not installed`;
    }
    return undefined;
  } catch (error) {
    return errorMessage(error);
  }
}

/**
 * Why the wheels no longer fit the environment, if they do not: a requirement broken either way
 * (stage "conflict"), or a file another distribution owns by its RECORD (stage "ownership"; an
 * upgrade of that same distribution replaces its own files and is fine).
 */
function refuseUnfit(
  environment: string,
  info: InterpreterInfo,
  wheels: Staging["wheels"],
  written: (wheel: Staging["wheels"][number]) => boolean,
): CommitResult | undefined {
  const arriving = wheels.flatMap((wheel, i) => (written(wheel) ? [{ wheel, inspected: info.incoming[i] }] : []));
  if (arriving.some(({ inspected }) => inspected === undefined)) return fail("inspect", "the interpreter did not describe every wheel");
  const incoming = arriving.map(({ wheel, inspected }) => ({ name: wheel.name, version: wheel.version, requires: inspected?.requires ?? [] }));
  const conflicts = brokenRequirements(firstOnPath(info.installed), incoming, info.markers);
  if (conflicts.length > 0) {
    return fail("conflict", `refused: it would break what ${environment} has installed: ${conflicts.join("; ")}; the environment was not touched`);
  }
  const clashes = arriving.flatMap(({ wheel, inspected }) =>
    (inspected?.clashes ?? []).map((clash) => {
      const owner = clash.owner_version === null ? `${clash.owner}, which this install also brings` : `${clash.owner} ${clash.owner_version}`;
      return `${wheel.name} ${wheel.version} would overwrite ${clash.path}, which belongs to ${owner}`;
    }),
  );
  if (clashes.length > 0) {
    const shown = clashes.slice(0, 5).join("; ") + (clashes.length > 5 ? `; and ${clashes.length - 5} more` : "");
    return fail("ownership", `refused: ${shown}; the environment was not touched`);
  }
  return undefined;
}

/** Splits a commit's time into its parts as it reaches each one (CommitTimings). */
class CommitClock {
  private readonly parts: CommitTimings = { stageMs: 0 };
  private last: number;

  constructor(private readonly startedAt: number) {
    this.last = startedAt;
  }

  /** The part that ends now, less `excluding` (milliseconds of it already counted as a part of its own). */
  mark(part: keyof CommitTimings, excluding = 0): void {
    const now = performance.now();
    this.parts[part] = Math.round(now - this.last - excluding);
    this.last = now;
  }

  set(part: keyof CommitTimings, ms: number): void {
    this.parts[part] = Math.round(ms);
  }

  done(): { durationMs: number; timings: CommitTimings } {
    return { durationMs: performance.now() - this.startedAt, timings: { ...this.parts } };
  }
}

function fail(stage: CommitStage, error: string): CommitResult {
  return { ok: false, error, rolledBack: false, stage };
}
