import { readFile, realpath } from "node:fs/promises";
import { join, resolve } from "node:path";
import { errorMessage, type Result } from "../errors.js";
import type { Db } from "../state/db.js";
import { backupRoots, discardBackup, isInside, readManifest, restoreBackup } from "./backup.js";
import { inspectInterpreter } from "./interpreter.js";
import { getJournal, setJournalState, unfinishedJournals, type JournalRow } from "./journal.js";
import { withEnvironmentLock } from "./lock.js";
import { killStrayWriters } from "./stray.js";
import { checkUndoPaths, restoreUndo, UNDO_MANIFEST, UndoManifestSchema, type UndoManifest } from "./undo.js";

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
export async function recoverUnfinishedCommits(db: Db, stateDir: string, envs: Record<string, { python: string }>): Promise<Recovery[]> {
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
  await killStrayWriters(row.backup_dir, python);
  const info = await inspectInterpreter(python);
  if (!info.ok) throw new Error(info.error);
  const undo = await readUndo(row.backup_dir);
  if (undo !== undefined) {
    // The journal says what to unlink and link back: accept only paths inside this interpreter's venv.
    if (!undo.ok) throw new Error(undo.error);
    if (undo.value.python !== python) throw new Error(`the undo journal in ${row.backup_dir} belongs to ${undo.value.python}, not ${python}`);
    await checkUndoPaths(undo.value, info.value.prefix);
    await restoreUndo(row.backup_dir, undo.value);
  } else {
    const manifest = await readManifest(row.backup_dir);
    if (!manifest.ok) throw new Error(manifest.error);
    // The manifest says what to delete and replace: accept only the interpreter's own install paths.
    const allowed = await backupRoots(info.value, true);
    if (!allowed.ok) throw new Error(allowed.error);
    const known = new Set([...allowed.value, ...(await realPaths([info.value.purelib, info.value.platlib, info.value.scripts]))]);
    for (const root of manifest.value.roots) {
      if (!known.has(root.path)) throw new Error(`backup root ${root.path} is not an install path of ${python}`);
    }
    await restoreBackup(row.backup_dir, manifest.value);
  }
  setJournalState(db, row.id, "rolled-back");
  await discardBackup(row.backup_dir);
  return "rolled-back";
}

/** A per-path backup's manifest, undefined when the backup is a roots backup (or was never finished). */
async function readUndo(backupDir: string): Promise<Result<UndoManifest> | undefined> {
  let text: string;
  try {
    text = await readFile(join(backupDir, UNDO_MANIFEST), "utf8");
  } catch {
    return undefined;
  }
  try {
    const parsed = UndoManifestSchema.safeParse(JSON.parse(text));
    return parsed.success ? { ok: true, value: parsed.data } : { ok: false, error: `undo journal in ${backupDir} is invalid: ${parsed.error.message}` };
  } catch (error) {
    return { ok: false, error: `undo journal in ${backupDir} is unreadable: ${errorMessage(error)}` };
  }
}

async function realPaths(paths: readonly string[]): Promise<string[]> {
  return Promise.all(paths.map((p) => realpath(p).catch(() => p)));
}
