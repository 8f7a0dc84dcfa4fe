import { createHash } from "node:crypto";
import { canonicalJson } from "./canonical-json.js";
import { GENESIS_HASH, type VerifyResult } from "./types.js";

/** A row of the `audit` table exactly as stored: what the hash covers, and the hash. */
export interface StoredRow {
  seq: number;
  id: string;
  time: string;
  identity: string;
  tool: string;
  environment: string | null;
  package: string | null;
  outcome: string;
  body: string;
  prev_hash: string;
  hash: string;
}

/**
 * The hash of a record: sha256 over the canonical JSON of its columns and its predecessor's hash, so a
 * change to any column, to its position (seq) or to its predecessor changes it. `seq` may be overridden
 * to ask "would this content be valid at another position?" when diagnosing a broken chain.
 */
export function recordHash(row: Omit<StoredRow, "hash">, seq: number = row.seq): string {
  const covered = {
    seq,
    id: row.id,
    time: row.time,
    identity: row.identity,
    tool: row.tool,
    environment: row.environment,
    package: row.package,
    outcome: row.outcome,
    body: row.body,
    prevHash: row.prev_hash,
  };
  return createHash("sha256").update(canonicalJson(covered), "utf8").digest("hex");
}

/**
 * Walks the chain in seq order and stops at the first row that is out of place. Streaming, so a large log
 * costs one pass; only when something is wrong does it load every row (`loadAll`) to say what happened.
 */
export function verifyChain(rows: Iterable<StoredRow>, loadAll: () => StoredRow[]): VerifyResult {
  let expectedSeq = 1;
  let expectedPrev = GENESIS_HASH;
  let count = 0;
  for (const row of rows) {
    if (row.seq !== expectedSeq || row.prev_hash !== expectedPrev || recordHash(row) !== row.hash) {
      const all = loadAll();
      return { ok: false, count: all.length, firstBad: diagnose(all, row.seq) };
    }
    expectedPrev = row.hash;
    expectedSeq += 1;
    count += 1;
  }
  return { ok: true, count, head: expectedPrev };
}

type FirstBad = Extract<VerifyResult, { ok: false }>["firstBad"];

/**
 * Explains the first anomaly. How each tampering shows up (the hash covers seq and the predecessor's hash):
 * - edited: a row's content no longer hashes to its stored hash at its own seq and at no other seq; or a
 *   row hashes fine but the next row was chained to a hash that is nowhere in the log (the row was edited
 *   and its hash recomputed: the successor still remembers the original).
 * - deleted: the seq numbers jump; the row after the gap is named.
 * - reordered: a row's content hashes correctly only at another seq (rows' contents or seq numbers were
 *   exchanged); the first such row in seq order is named.
 * - inserted: a row hashes fine but a later one was chained past it, or everything after it is shifted by one.
 */
function diagnose(rows: StoredRow[], badSeq: number): FirstBad {
  const index = rows.findIndex((row) => row.seq === badSeq);
  const row = rows[index];
  if (row === undefined) throw new Error(`verify: row ${badSeq} vanished during the check`);
  const previous = index > 0 ? rows[index - 1] : undefined;
  const expectedSeq = previous === undefined ? 1 : previous.seq + 1;
  const expectedPrev = previous === undefined ? GENESIS_HASH : previous.hash;
  const byHash = new Map(rows.map((r) => [r.hash, r] as const));
  const bySeq = new Map(rows.map((r) => [r.seq, r] as const));
  const at = (r: StoredRow, problem: FirstBad["problem"], detail: string): FirstBad => ({
    seq: r.seq,
    id: r.id,
    problem,
    detail,
  });

  if (row.seq !== expectedSeq) {
    const moved = byHash.get(row.prev_hash);
    if (row.prev_hash !== expectedPrev && moved !== undefined && moved.seq > row.seq) {
      return at(moved, "reordered", `record ${moved.id} was moved from seq ${expectedSeq} to seq ${moved.seq}`);
    }
    const range = row.seq - 1 === expectedSeq ? `seq ${expectedSeq} is` : `seq ${expectedSeq}..${row.seq - 1} are`;
    return at(row, "deleted", `${range} missing before record ${row.id} (seq ${row.seq})`);
  }

  if (recordHash(row) !== row.hash) {
    const mismatched = rows.filter((r) => recordHash(r) !== r.hash).map((r) => r.seq);
    const candidates = new Set([...mismatched, row.seq - 1, row.seq + 1]);
    candidates.delete(row.seq);
    const home = [...candidates].find((seq) => seq > 0 && recordHash(row, seq) === row.hash);
    if (home === undefined) {
      return at(row, "edited", `record ${row.id} (seq ${row.seq}) no longer matches its hash: its content was changed`);
    }
    const occupant = bySeq.get(home);
    if (home < row.seq && occupant !== undefined && recordHash(occupant) === occupant.hash && occupant.prev_hash === row.prev_hash) {
      return at(occupant, "inserted", `record ${occupant.id} (seq ${home}) was inserted: record ${row.id} was chained there and now sits at seq ${row.seq}`);
    }
    const swapped = occupant !== undefined && recordHash(occupant, row.seq) === occupant.hash ? `; it changed places with record ${occupant.id}` : "";
    return at(row, "reordered", `record ${row.id} sits at seq ${row.seq} but belongs at seq ${home}${swapped}`);
  }

  const pointee = byHash.get(row.prev_hash);
  if (pointee !== undefined && pointee.seq < row.seq - 1) {
    const intruder = bySeq.get(pointee.seq + 1) ?? row;
    return at(intruder, "inserted", `record ${row.id} (seq ${row.seq}) was chained to seq ${pointee.seq}: record ${intruder.id} was inserted after it`);
  }
  if (pointee !== undefined && pointee.seq > row.seq) {
    return at(row, "reordered", `record ${row.id} (seq ${row.seq}) is chained to record ${pointee.id}, which comes after it (seq ${pointee.seq})`);
  }
  if (previous === undefined) {
    return at(row, "deleted", `the first record ${row.id} is chained to a predecessor that is not in the log: earlier records were removed`);
  }
  // The stored data cannot tell an edited-and-rehashed predecessor from a forged successor; say both.
  return at(
    previous,
    "edited",
    `record ${previous.id} (seq ${previous.seq}) was changed and its hash recomputed: the next record ${row.id} was chained to ${row.prev_hash.slice(0, 12)}…, which is not in the log (or record ${row.id} itself was forged)`,
  );
}
