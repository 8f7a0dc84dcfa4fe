import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Db } from "./db.js";

const KEY = "broker_id";
const ID = /^brk_[a-z2-9]{10}@[^\s]{1,255}$/;

/**
 * This state directory's broker id, made on first use and kept in its own SQLite file: `brk_` and ten
 * base32 characters, then `@` and the host it was made on (a label for people; the random part is what
 * is unique). A fleet's install approval is owned by the broker that queued it (approvals/store.ts), and
 * every process opened on this state directory — `serve`, the CLI beside it — is that broker: it has the
 * same environments. A value that is not an id is refused rather than replaced: approvals name it.
 */
export function brokerIdOf(db: Db): string {
  const read = db.prepare<[string], { value: unknown }>("SELECT value FROM local_meta WHERE key = ?");
  let row = read.get(KEY);
  if (row === undefined) {
    // Made once; of two processes starting on a new state directory at once, the first insert wins.
    const alphabet = "abcdefghijkmnpqrstuvwxyz23456789";
    const made = `brk_${[...randomBytes(10)].map((byte) => alphabet[byte % alphabet.length]).join("")}@${hostname() || "localhost"}`;
    db.prepare("INSERT OR IGNORE INTO local_meta (key, value) VALUES (?, ?)").run(KEY, made);
    row = read.get(KEY);
  }
  const id = row?.value;
  if (typeof id !== "string" || !ID.test(id)) {
    throw new Error(
      `the state database's broker id (local_meta.${KEY}) is ${JSON.stringify(id)}, not an id of the form brk_…@host: restore it, or delete the row to make a new one`,
    );
  }
  return id;
}
