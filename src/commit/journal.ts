import { z } from "zod";
import type { Db } from "../state/db.js";

/**
 * A commit's life in the journal. "preparing": the backup is being taken, the venv is untouched.
 * "started": the backup is whole and pip may run; a row left here means the venv must be restored.
 * The rest are final.
 */
export const JournalStateSchema = z.enum(["preparing", "started", "done", "rolled-back", "abandoned"]);
export type JournalState = z.infer<typeof JournalStateSchema>;

export const JournalRowSchema = z.object({
  id: z.string(),
  environment: z.string(),
  audit_id: z.string(),
  started_at: z.string(),
  backup_dir: z.string(),
  state: JournalStateSchema,
});
export type JournalRow = z.infer<typeof JournalRowSchema>;

/** The journal is the only state that survives a crash, so every transition is its own statement. */
export function insertJournal(db: Db, row: Omit<JournalRow, "state">): void {
  db.prepare(
    `INSERT INTO commit_journal (id, environment, audit_id, started_at, backup_dir, state)
     VALUES (@id, @environment, @audit_id, @started_at, @backup_dir, 'preparing')`,
  ).run(row);
}

/** Each transition is committed on its own: the row must say the truth at any instant of a crash. */
export function setJournalState(db: Db, id: string, state: JournalState): void {
  db.prepare(`UPDATE commit_journal SET state = ? WHERE id = ?`).run(state, id);
}

/** Re-read under the lock: another pipgate may have finished the commit meanwhile. */
export function getJournal(db: Db, id: string): JournalRow | undefined {
  const row: unknown = db.prepare(`SELECT * FROM commit_journal WHERE id = ?`).get(id);
  return row === undefined ? undefined : JournalRowSchema.parse(row);
}

/** Rows a crash left behind, oldest first. */
export function unfinishedJournals(db: Db): JournalRow[] {
  const rows: unknown[] = db.prepare(`SELECT * FROM commit_journal WHERE state IN ('preparing', 'started') ORDER BY started_at, rowid`).all();
  return rows.map((row) => JournalRowSchema.parse(row));
}

/** The commits of one request, newest last: what start-up recovery reads for an interrupted request. */
export function journalsOf(db: Db, auditId: string): JournalRow[] {
  const rows: unknown[] = db.prepare(`SELECT * FROM commit_journal WHERE audit_id = ? ORDER BY started_at, rowid`).all(auditId);
  return rows.map((row) => JournalRowSchema.parse(row));
}
