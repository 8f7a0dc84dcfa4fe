import { z } from "zod";

/**
 * One readable `path: message` line per schema issue, so a bad file names the place to fix. Given the
 * schema that was parsed, an unknown key (strict objects refuse them: a misspelt rule must not be
 * silently ignored) gets its own line naming the nearest known key, or the keys that are known.
 */
export function formatIssues(error: z.ZodError, prefix = "", schema?: z.ZodType): string[] {
  return error.issues.flatMap((issue) => {
    if (issue.code === "unrecognized_keys") {
      const known = schema === undefined ? [] : knownKeysAt(schema, issue.path);
      return issue.keys.map((key) => `${prefix}${joinPath([...issue.path, key])}: ${unknownKeyMessage(key, known)}`);
    }
    // a record key that fails its own schema: say why (the key's message), not zod's "Invalid key in record"
    if (issue.code === "invalid_key" && issue.issues.length > 0) {
      return [...new Set(issue.issues.map((inner) => inner.message))].map((message) => `${prefix}${joinPath(issue.path)}: ${message}`);
    }
    return [`${prefix}${joinPath(issue.path)}: ${issue.message}`];
  });
}

function joinPath(path: readonly PropertyKey[]): string {
  return path.length > 0 ? path.map(String).join(".") : "(top level)";
}

/** "unknown key; did you mean min_release_age_days?", or the keys that are known when none is close. */
export function unknownKeyMessage(key: string, known: readonly string[]): string {
  const hint = knownKeyHint(key, known);
  return hint === undefined ? "unknown key" : `unknown key; ${hint}`;
}

/** "did you mean X?" when a known key is close, else "known keys: …" (nothing when none is known). */
export function knownKeyHint(key: string, known: readonly string[]): string | undefined {
  const nearest = nearestKey(key, known);
  if (nearest !== undefined) return `did you mean ${nearest}?`;
  return known.length > 0 ? `known keys: ${known.join(", ")}` : undefined;
}

/**
 * The known key a typo most likely meant: the smallest edit distance (case, '-' and '_' aside), if it is
 * small for the key's length (at most 1 for short keys, up to 3 for long ones); ties go to the first.
 */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  const fold = (s: string) => s.toLowerCase().replaceAll("-", "_");
  const limit = Math.max(1, Math.min(3, Math.floor(key.length / 4)));
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(fold(key), fold(candidate));
    if (distance <= limit && (best === undefined || distance < best.distance)) best = { key: candidate, distance };
  }
  return best?.key;
}

/** Levenshtein distance with adjacent transpositions counted as one edit (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, (before[j - 2] ?? 0) + 1);
      current.push(value);
    }
    before = previous;
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The keys an object (or a record with enumerated keys) at `path` inside `schema` accepts. */
function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let node: z.ZodType | undefined = schema;
  for (const segment of path) {
    node = node === undefined ? undefined : childAt(node, segment);
  }
  if (node === undefined) return [];
  const inner = unwrap(node);
  return keysOf(inner);
}

/** An object's keys; a union's (`false | true | {…}`) are those of its object options. */
function keysOf(inner: z.ZodType): string[] {
  if (inner instanceof z.ZodObject) return Object.keys(inner.shape);
  if (inner instanceof z.ZodRecord && inner.keyType instanceof z.ZodEnum) return inner.keyType.options.map(String);
  if (inner instanceof z.ZodUnion) return [...new Set((inner.options as readonly z.ZodType[]).flatMap((option) => keysOf(unwrap(option))))];
  return [];
}

function childAt(schema: z.ZodType, segment: PropertyKey): z.ZodType | undefined {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodObject) {
    const shape = inner.shape as Record<string, z.ZodType>;
    return typeof segment === "string" && Object.hasOwn(shape, segment) ? shape[segment] : undefined;
  }
  if (inner instanceof z.ZodRecord) return inner.valueType as z.ZodType;
  if (inner instanceof z.ZodArray) return inner.element as z.ZodType;
  if (inner instanceof z.ZodUnion) {
    for (const option of inner.options as readonly z.ZodType[]) {
      const child = childAt(option, segment);
      if (child !== undefined) return child;
    }
  }
  return undefined;
}

/** Sees through the wrappers that do not change an object's keys: optional, default, pipe and the like. */
function unwrap(schema: z.ZodType): z.ZodType {
  let node = schema;
  for (;;) {
    if (
      node instanceof z.ZodOptional ||
      node instanceof z.ZodNullable ||
      node instanceof z.ZodDefault ||
      node instanceof z.ZodPrefault ||
      node instanceof z.ZodNonOptional ||
      node instanceof z.ZodCatch ||
      node instanceof z.ZodReadonly
    ) {
      node = node.unwrap() as z.ZodType;
    } else if (node instanceof z.ZodPipe) {
      node = node.in as z.ZodType;
    } else {
      return node;
    }
  }
}
