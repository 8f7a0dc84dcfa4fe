import { createHash } from "node:crypto";

/** One RECORD row: a path (relative to the directory holding the .dist-info, or absolute), its hash and size. */
export interface RecordRow {
  path: string;
  hash: string;
  size: string;
}

/** The RECORD hash form (binary distribution format): `sha256=` and urlsafe base64 without padding. */
export function recordHash(bytes: Uint8Array): string {
  return `sha256=${createHash("sha256").update(bytes).digest("base64url")}`;
}

/**
 * Parses RECORD as the csv module writes it (quoted fields, doubled quotes, \n or \r\n line ends). A row
 * that is not three fields, or a quote left open, makes the whole RECORD unreadable: an uninstall that
 * misread it would remove the wrong files.
 */
export function parseRecord(text: string): RecordRow[] {
  const rows: RecordRow[] = [];
  let fields: string[] = [];
  let field = "";
  let quoted = false;
  let atFieldStart = true;
  const endRow = (): void => {
    fields.push(field);
    const nonEmpty = fields.length > 1 || fields[0] !== "";
    if (nonEmpty) {
      const [path = "", hash = "", size = ""] = fields;
      if (fields.length !== 3 || path === "") throw new Error(`RECORD row ${rows.length + 1} is not "path,hash,size"`);
      rows.push({ path, hash, size });
    }
    fields = [];
    field = "";
    atFieldStart = true;
  };
  for (let i = 0; i < text.length; i += 1) {
    const char = text[i] ?? "";
    if (quoted) {
      if (char !== '"') field += char;
      else if (text[i + 1] === '"') {
        field += '"';
        i += 1;
      } else quoted = false;
      continue;
    }
    if (char === '"' && atFieldStart) {
      quoted = true;
      atFieldStart = false;
    } else if (char === ",") {
      fields.push(field);
      field = "";
      atFieldStart = true;
    } else if (char === "\n" || char === "\r") {
      if (char === "\r" && text[i + 1] === "\n") i += 1;
      endRow();
    } else {
      field += char;
      atFieldStart = false;
    }
  }
  if (quoted) throw new Error("RECORD ends inside a quoted field");
  if (field !== "" || fields.length > 0) endRow();
  return rows;
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Writes RECORD rows as pip does (its csv writer, one row per line), sorted for a stable file. */
export function formatRecord(rows: readonly RecordRow[]): string {
  return [...rows]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((row) => `${csvField(row.path)},${csvField(row.hash)},${csvField(row.size)}\n`)
    .join("");
}
