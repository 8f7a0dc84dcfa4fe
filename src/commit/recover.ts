import { readFile, realpath } from "node:fs/promises";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { errorMessage } from "../errors.js";
import type { Db } from "../state/db.js";
import { backupRoots, discardBackup, isInside, readManifest, restoreBackup } from "./backup.js";
import { inspectInterpreter } from "./interpreter.js";
import { getJournal, setJournalState, unfinishedJournals, type JournalRow } from "./journal.js";
import { withEnvironmentLock } from "./lock.js";

/** One unfinished commit found at start-up, so the caller can write its request's outcome record. */
export interface Recovery {
  journalId: string;
  environment: string;
  auditId: string;
  /** The environment is back in its state before that commit (restored, or never touched). */
  restored: boolean;
  /** rolled-back: the venv was restored from the backup; abandoned: the commit was still backing up. */
  action?: "rolled-back" | "abandoned";
  error?: string;
}

/**
 * Run at start-up, before serving: every commit a crash left unfinished is rolled back from its backup,
 * under the environment's lock (a dead broker's lock is stale and taken over). A commit that was still
 * backing up had not touched the venv; its partial backup is dropped.
 */
export async function recoverUnfinishedCommits(
  db: Db,
  stateDir: string,
  envs: Record<string, { python: string }>,
): Promise<Recovery[]> {
  const reports: Recovery[] = [];
  for (const row of unfinishedJournals(db)) {
    const report = { journalId: row.id, environment: row.environment, auditId: row.audit_id };
    const env = envs[row.environment];
    if (env === undefined) {
      reports.push({ ...report, restored: false, error: `environment ${row.environment} is no longer configured; backup kept in ${row.backup_dir}` });
      continue;
    }
    try {
      const outcome = await withEnvironmentLock(stateDir, row.environment, () => recoverOne(db, stateDir, row, env.python), {
        timeoutMs: 60_000,
      });
      if (outcome !== "finished-elsewhere") reports.push({ ...report, restored: true, action: outcome });
    } catch (error) {
      reports.push({ ...report, restored: false, error: errorMessage(error) });
    }
  }
  return reports;
}

async function recoverOne(db: Db, stateDir: string, row: JournalRow, python: string): Promise<"rolled-back" | "abandoned" | "finished-elsewhere"> {
  // Another live pipgate may have finished it while this one waited for the lock.
  const current = getJournal(db, row.id);
  if (current === undefined || (current.state !== "preparing" && current.state !== "started")) return "finished-elsewhere";
  const backupsDir = await realpath(join(resolve(stateDir), "backups")).catch(() => resolve(stateDir, "backups"));
  if (!isInside(resolve(row.backup_dir), backupsDir)) throw new Error(`journal names a backup outside ${backupsDir}`);
  if (current.state === "preparing") {
    await discardBackup(row.backup_dir);
    setJournalState(db, row.id, "abandoned");
    return "abandoned";
  }
  await killStrayPip(row.backup_dir, python);
  const manifest = await readManifest(row.backup_dir);
  if (!manifest.ok) throw new Error(manifest.error);
  // The manifest says what to delete and replace: accept only the interpreter's own install paths.
  const info = await inspectInterpreter(python);
  if (!info.ok) throw new Error(info.error);
  const allowed = await backupRoots(info.value, true);
  if (!allowed.ok) throw new Error(allowed.error);
  const known = new Set([...allowed.value, ...(await realPaths([info.value.purelib, info.value.platlib, info.value.scripts]))]);
  for (const root of manifest.value.roots) {
    if (!known.has(root.path)) throw new Error(`backup root ${root.path} is not an install path of ${python}`);
  }
  await restoreBackup(row.backup_dir, manifest.value);
  setJournalState(db, row.id, "rolled-back");
  await discardBackup(row.backup_dir);
  return "rolled-back";
}

/** A pip the dead broker started may still be writing: kill it (only if it is that interpreter's pip). */
async function killStrayPip(backupDir: string, python: string): Promise<void> {
  const pid = Number(await readFile(join(backupDir, "pip.pid"), "utf8").catch(() => ""));
  if (!Number.isInteger(pid) || pid <= 0) return;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
  const args = cmdline.split("\0");
  if (!(args[0] === python && args.includes("pip") && args.includes("install"))) return;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    return;
  }
  for (let i = 0; i < 500 && (await running(pid)); i += 1) await sleep(10);
}

/** Alive and not a zombie: a zombie writes nothing, and its reaper may be slow. */
async function running(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  return stat !== "" && stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
}

async function realPaths(paths: readonly string[]): Promise<string[]> {
  return Promise.all(paths.map((p) => realpath(p).catch(() => p)));
}
