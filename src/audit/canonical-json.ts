/**
 * JSON with keys sorted at every depth, so that the same record always serialises to the same bytes
 * and its hash can be recomputed by anyone, in any language, from the stored values.
 * Follows JSON.stringify for everything else: toJSON is honoured, undefined/functions/symbols are dropped
 * from objects and become null in arrays, non-finite numbers become null; bigints become strings.
 */
export function canonicalJson(value: unknown): string {
  const text = encode(value);
  return text === undefined ? "null" : text;
}

function encode(value: unknown): string | undefined {
  const plain = toJsonValue(value);
  if (plain === undefined || typeof plain === "function" || typeof plain === "symbol") return undefined;
  if (plain === null) return "null";
  if (typeof plain === "bigint") return JSON.stringify(plain.toString());
  if (typeof plain === "number") return Number.isFinite(plain) ? JSON.stringify(plain) : "null";
  if (typeof plain === "string" || typeof plain === "boolean") return JSON.stringify(plain);
  if (Array.isArray(plain)) return `[${plain.map((item) => encode(item) ?? "null").join(",")}]`;
  const entries = Object.keys(plain as object)
    .sort()
    .flatMap((key) => {
      const item = encode((plain as Record<string, unknown>)[key]);
      return item === undefined ? [] : [`${JSON.stringify(key)}:${item}`];
    });
  return `{${entries.join(",")}}`;
}

function toJsonValue(value: unknown): unknown {
  if (value !== null && typeof value === "object" && typeof (value as { toJSON?: unknown }).toJSON === "function") {
    return (value as { toJSON: () => unknown }).toJSON();
  }
  return value;
}
