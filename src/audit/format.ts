import type { AuditRecord } from "./types.js";

// C0 controls, DEL, C1 controls (CSI 0x9b included) and the bidirectional overrides and isolates.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Record fields are attacker-controlled: a package name can carry escape sequences that recolour, move the
 * cursor or reverse text in an auditor's terminal. Every such character is shown as a visible \u escape.
 */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

// What JSON.stringify leaves raw inside strings: DEL, C1 controls and the bidirectional controls.
const UNSAFE_IN_JSON = /[\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** The whole record, pretty JSON (still valid JSON), with the characters JSON leaves raw escaped too. */
export function formatRecordJson(record: AuditRecord): string {
  return JSON.stringify(record, null, 2).replace(UNSAFE_IN_JSON, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function truncate(text: string, width: number): string {
  const chars = [...text];
  return chars.length <= width ? text : `${chars.slice(0, Math.max(0, width - 1)).join("")}…`;
}

function pad(text: string, width: number): string {
  return text + " ".repeat(Math.max(0, width - [...text].length));
}

const COLUMNS = ["time", "id", "identity", "tool", "env", "package", "outcome", "reason"] as const;
type Column = (typeof COLUMNS)[number];

/** Column limits: long values are cut with an ellipsis so one hostile value cannot push the table apart. */
export const COLUMN_MAX: Readonly<Record<Column, number>> = {
  time: 20,
  id: 30,
  identity: 20,
  tool: 24,
  env: 16,
  package: 28,
  outcome: 17,
  reason: 60,
};

function cells(record: AuditRecord): Record<Column, string> {
  const raw: Record<Column, string> = {
    time: record.time.replace(/\.\d+Z$/, "Z"),
    id: record.id,
    identity: record.identity,
    tool: record.tool,
    env: record.environment ?? "-",
    package: record.package ?? "-",
    outcome: record.outcome,
    reason: (record.reason ?? "").replace(/\s+/g, " "),
  };
  for (const column of COLUMNS) raw[column] = truncate(terminalSafe(raw[column]), COLUMN_MAX[column]);
  return raw;
}

/** A compact table, columns as wide as their widest (capped) value; the header names them. */
export function formatTable(records: AuditRecord[]): string {
  const rows = records.map(cells);
  const widths = Object.fromEntries(COLUMNS.map((column) => [column, Math.max(column.length, ...rows.map((row) => [...row[column]].length))])) as Record<
    Column,
    number
  >;
  const line = (row: Record<Column, string>) =>
    COLUMNS.map((column, i) => (i === COLUMNS.length - 1 ? row[column] : pad(row[column], widths[column])))
      .join("  ")
      .trimEnd();
  const header = Object.fromEntries(COLUMNS.map((column) => [column, column.toUpperCase()])) as Record<Column, string>;
  return [line(header), ...rows.map(line)].join("\n") + "\n";
}

/** One record a line at fixed widths, for `tail`, where later lines must align without knowing them yet. */
export function formatLine(record: AuditRecord): string {
  const row = cells(record);
  return (
    COLUMNS.map((column, i) => (i === COLUMNS.length - 1 ? row[column] : pad(row[column], COLUMN_MAX[column])))
      .join("  ")
      .trimEnd() + "\n"
  );
}
