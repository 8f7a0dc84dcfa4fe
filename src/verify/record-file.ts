/** One row of a wheel's RECORD: the installer trusts it for what to verify and, later, what to delete. */
export interface RecordRow {
  path: string;
  hash: string;
  size: string;
  /** 1-based line, so problems can point at it. */
  line: number;
}

/** Parses RECORD as Python's csv module writes it (comma-separated, double-quoted fields). */
export function parseRecord(text: string): { rows: RecordRow[]; malformed: number[] } {
  const rows: RecordRow[] = [];
  const malformed: number[] = [];
  let fields: string[] = [];
  let field = "";
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  const endRow = (): void => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0] === "")) {
      const [path = "", hash = "", size = ""] = fields;
      if (fields.length !== 3 || path === "") malformed.push(rowLine);
      else rows.push({ path, hash, size, line: rowLine });
    }
    fields = [];
    field = "";
    rowLine = line;
  };
  const input = text.replace(/\r\n?/g, "\n");
  for (let i = 0; i < input.length; i++) {
    const char = input[i];
    if (quoted) {
      if (char === '"' && input[i + 1] === '"') {
        field += '"';
        i++;
      } else if (char === '"') quoted = false;
      else {
        if (char === "\n") line++;
        field += char;
      }
    } else if (char === '"' && field === "") quoted = true;
    else if (char === ",") {
      fields.push(field);
      field = "";
    } else if (char === "\n") {
      line++;
      endRow();
    } else field += char;
  }
  if (quoted) malformed.push(rowLine);
  else if (field !== "" || fields.length > 0) endRow();
  return { rows, malformed };
}
