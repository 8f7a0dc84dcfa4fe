/** Headers of an email-style file (METADATA, WHEEL): every value of a repeatable field is kept. */
export interface Headers {
  get(field: string): string | undefined;
  all(field: string): string[];
  /** Lines that are neither a header nor a continuation, for the caller to report. */
  malformed: string[];
}

/**
 * Parses the header block of core metadata or WHEEL (RFC 822 style, as Python's email parser reads
 * it): `Field: value`, continuation lines indented, the block ending at the first blank line.
 * Field names compare case-insensitively.
 */
export function parseHeaders(text: string): Headers {
  const fields = new Map<string, string[]>();
  const malformed: string[] = [];
  let last: { values: string[]; index: number } | undefined;
  for (const line of text.replace(/\r\n?/g, "\n").split("\n")) {
    if (line === "") break;
    if (/^[ \t]/.test(line)) {
      if (last === undefined) malformed.push(line);
      else last.values[last.index] += "\n" + line.trim();
      continue;
    }
    const match = /^([^:\s]+):[ \t]*(.*)$/.exec(line);
    if (match === null) {
      malformed.push(line);
      last = undefined;
      continue;
    }
    const key = (match[1] ?? "").toLowerCase();
    const values = fields.get(key) ?? [];
    values.push((match[2] ?? "").trim());
    fields.set(key, values);
    last = { values, index: values.length - 1 };
  }
  return {
    get: (field) => fields.get(field.toLowerCase())?.[0],
    all: (field) => fields.get(field.toLowerCase()) ?? [],
    malformed,
  };
}
