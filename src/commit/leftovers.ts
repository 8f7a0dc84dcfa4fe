import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Db } from "../state/db.js";
import { unfinishedJournals } from "./journal.js";

/**
 * Backups that no unfinished commit needs: what a crash between "done" and the backup's removal, or a
 * failed discard, leaves behind. The directory listing is read before the journal, and a commit's
 * journal row is written before its backup directory, so a live commit's backup is always seen with its
 * row and kept; recovery has already restored the dead ones that needed it.
 */
export async function sweepStaleBackups(db: Db, stateDir: string): Promise<string[]> {
  const dir = join(stateDir, "backups");
  const names = await readdir(dir).catch(() => [] as string[]);
  if (names.length === 0) return [];
  const needed = new Set(unfinishedJournals(db).map((row) => row.id));
  const removed: string[] = [];
  for (const name of names) {
    if (needed.has(name)) continue;
    await rm(join(dir, name), { recursive: true, force: true });
    removed.push(join(dir, name));
  }
  return removed;
}
