import { once } from "node:events";
import type { Writable } from "node:stream";
import type { Result } from "../errors.js";
import { formatIssues } from "../config/issues.js";
import { AuditRecordSchema, orderRecordKeys, type AuditRecord } from "./types.js";

/** Writes a chunk and waits for the stream to drain when it asks to, so a large export stays in bounded memory. */
async function write(out: Writable, chunk: string): Promise<void> {
  if (!out.write(chunk)) await once(out, "drain");
}

/** The full records, one JSON object a line: the lossless export, re-importable and re-verifiable. */
export async function writeJsonl(records: Iterable<AuditRecord> | AsyncIterable<AuditRecord>, out: Writable): Promise<number> {
  let count = 0;
  for await (const record of records) {
    await write(out, `${JSON.stringify(orderRecordKeys(record))}\n`);
    count += 1;
  }
  return count;
}

/** The CSV columns, in order: what a spreadsheet needs to filter; the full record is in JSONL. */
export const CSV_COLUMNS = ["seq", "id", "time", "identity", "tool", "environment", "package", "outcome", "reason", "resolved", "hash", "would_deny"] as const;

/**
 * One cell, quoted per RFC 4180 when it holds a comma, quote or line break. Package names and reasons
 * are attacker-controlled and CSV files get opened in spreadsheets, so a text cell that starts like a
 * formula (= + - @ tab CR) is prefixed with an apostrophe to keep it text (the OWASP advice).
 */
export function csvCell(value: string | number | undefined): string {
  if (value === undefined) return "";
  if (typeof value === "number") return String(value);
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The columns a spreadsheet user filters on, one record a row, CRLF line ends (RFC 4180). */
export async function writeCsv(records: Iterable<AuditRecord> | AsyncIterable<AuditRecord>, out: Writable): Promise<number> {
  await write(out, `${CSV_COLUMNS.join(",")}\r\n`);
  let count = 0;
  for await (const record of records) {
    const resolved = record.resolved?.map((d) => `${d.name}==${d.version}`).join(";");
    const cells = [
      record.seq,
      record.id,
      record.time,
      record.identity,
      record.tool,
      record.environment,
      record.package,
      record.outcome,
      record.reason,
      resolved,
      record.hash,
      // shadow mode: the rules that would have refused it (empty when enforced, or nothing would)
      record.shadow?.would_deny === true ? record.shadow.refusals.map((r) => `${r.name}:${r.rules.join("+")}`).join(";") : undefined,
    ].map(csvCell);
    await write(out, `${cells.join(",")}\r\n`);
    count += 1;
  }
  return count;
}

/** Reads a JSONL export back into records; each line goes through the record schema, errors name the line. */
export function importJsonl(text: string): Result<AuditRecord[], string[]> {
  const records: AuditRecord[] = [];
  const issues: string[] = [];
  text.split("\n").forEach((line, index) => {
    if (line.trim() === "") return;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (error) {
      issues.push(`line ${index + 1}: not JSON: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    const parsed = AuditRecordSchema.safeParse(raw);
    if (parsed.success) records.push(orderRecordKeys(parsed.data));
    else issues.push(...formatIssues(parsed.error, `line ${index + 1}: `));
  });
  return issues.length === 0 ? { ok: true, value: records } : { ok: false, error: issues };
}
