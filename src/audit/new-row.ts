import { canonicalJson } from "./canonical-json.js";
import { recordHash, type StoredRow } from "./chain.js";
import { newAuditId } from "./id.js";
import { normalizeName } from "../requirement/name.js";
import { GENESIS_HASH, type AuditBody, type AuditInput, type RecordOutcome } from "./types.js";

/** The body keys a record keeps, in the order its columns do not (canonical JSON sorts them anyway). */
export const AUDIT_BODY_KEYS = [
  "arguments",
  "reason",
  "request",
  "decision",
  "resolved",
  "sandbox",
  "commit",
  "approval",
  "durationMs",
  "broker",
  "recovery",
  "upstream",
  "shadow",
  "provenance",
] as const satisfies ReadonlyArray<keyof AuditBody>;

// Every body field is kept: a field added to AuditBody but not here would be dropped on write, silently.
type Unkept = Exclude<keyof AuditBody, (typeof AUDIT_BODY_KEYS)[number]>;
export const AUDIT_BODY_COMPLETE: [Unkept] extends [never] ? true : Unkept = true;

/**
 * The next row of the chain after `head`, hashed: the one definition of a record's stored form, so the
 * SQLite and PostgreSQL stores write rows that hash and verify alike (and exports match byte for byte).
 */
export function newAuditRow(
  input: Omit<AuditInput, "outcome"> & { outcome: RecordOutcome },
  head: { seq: number; hash: string } | undefined,
  time: Date,
): StoredRow {
  const { identity, tool, environment, package: pkg, outcome } = input;
  const body: Record<string, unknown> = {};
  for (const key of AUDIT_BODY_KEYS) if (input[key] !== undefined) body[key] = input[key];
  const unhashed = {
    seq: (head?.seq ?? 0) + 1,
    id: newAuditId(time),
    time: time.toISOString(),
    identity,
    tool,
    environment: environment ?? null,
    package: pkg === undefined ? null : normalizeName(pkg),
    outcome,
    body: canonicalJson(body),
    prev_hash: head?.hash ?? GENESIS_HASH,
  };
  return { ...unhashed, hash: recordHash(unhashed) };
}

/** body.request.requestId, when it is a string: how an outcome finds its intent. */
export function requestIdOf(input: { request?: unknown }): string | null {
  const request = input.request;
  if (typeof request !== "object" || request === null) return null;
  const id = (request as { requestId?: unknown }).requestId;
  return typeof id === "string" ? id : null;
}
