/**
 * A unified-style line diff of two tool definitions' description and schemas, for an operator deciding
 * whether to accept a changed definition. Both sides come from an upstream (hostile): lines are capped
 * in number (the LCS table is lines × lines) and in width, and control characters are shown escaped so
 * a definition cannot rewrite the operator's terminal.
 */
const MAX_LINES = 2000;
const MAX_WIDTH = 400;

/** Escapes what a terminal would interpret (ESC, CR, other C0/C1 controls); keeps tabs. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function lines(text: string): string[] {
  return text.split("\n").map((line) => {
    const shown = printable(line);
    return shown.length > MAX_WIDTH ? `${shown.slice(0, MAX_WIDTH)}…` : shown;
  });
}

/** `-`/`+`/` ` lines between two texts (longest common subsequence); empty when equal. */
export function lineDiff(before: string, after: string): string[] {
  if (before === after) return [];
  const a = lines(before);
  const b = lines(after);
  if (a.length > MAX_LINES || b.length > MAX_LINES) return [`  (too long to diff: ${a.length} and ${b.length} lines)`];
  const table: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i -= 1) {
    for (let j = b.length - 1; j >= 0; j -= 1) {
      const row = table[i] ?? [];
      row[j] = a[i] === b[j] ? (table[i + 1]?.[j + 1] ?? 0) + 1 : Math.max(table[i + 1]?.[j] ?? 0, row[j + 1] ?? 0);
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      out.push(`  ${a[i] ?? ""}`);
      i += 1;
      j += 1;
    } else if (j < b.length && (i >= a.length || (table[i]?.[j + 1] ?? 0) >= (table[i + 1]?.[j] ?? 0))) {
      out.push(`+ ${b[j] ?? ""}`);
      j += 1;
    } else {
      out.push(`- ${a[i] ?? ""}`);
      i += 1;
    }
  }
  return out;
}

/** The diff of every part of a definition that changed, each under its own heading. */
export function definitionDiff(accepted: Record<string, unknown>, current: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const field of ["title", "description", "inputSchema", "outputSchema", "annotations"]) {
    const show = (value: unknown) => (value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value, null, 2));
    const diff = lineDiff(show(accepted[field]), show(current[field]));
    if (diff.length > 0) out.push(`  --- ${field} (accepted)`, `  +++ ${field} (now)`, ...diff.map((line) => `  ${line}`));
  }
  return out;
}
