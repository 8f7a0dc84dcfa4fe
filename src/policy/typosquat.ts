import { normalizeName } from "../requirement/name.js";

/**
 * A lookalike index over a list of project names (most important first). Built once per list: the
 * deletion neighbourhood of every name's skeleton makes a lookup a few dozen map probes.
 */
export interface NameIndex {
  readonly size: number;
  has(name: string): boolean;
  /** the first indexed name (by list order, exact lookalikes first) the given name imitates, if any */
  lookalike(name: string): Lookalike | undefined;
}

export interface Lookalike {
  name: string;
  why: string;
}

/** Names shorter than this (as skeletons) are only compared for exact lookalikes: distance 1 is too loose for them. */
const MIN_FUZZY_LENGTH = 4;

/**
 * The form two names are compared in: PEP 503 normalised, separators dropped, and characters that
 * look alike folded together (0→o, 1/i→l, rn→m, vv→w).
 */
export function skeleton(name: string): string {
  return normalizeName(name).replace(/-/g, "").replace(/0/g, "o").replace(/[1i]/g, "l").replace(/rn/g, "m").replace(/vv/g, "w");
}

/** The skeleton without a `py`/`python` prefix or suffix, when something substantial remains. */
function stripPython(skel: string): string {
  let core = skel;
  for (const prefix of ["python", "py"]) {
    if (core.startsWith(prefix) && core.length - prefix.length >= 3) {
      core = core.slice(prefix.length);
      break;
    }
  }
  for (const suffix of ["python", "py"]) {
    if (core.endsWith(suffix) && core.length - suffix.length >= 3) {
      core = core.slice(0, -suffix.length);
      break;
    }
  }
  return core;
}

function deletions(text: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += 1) out.push(text.slice(0, i) + text.slice(i + 1));
  return out;
}

/** Optimal string alignment distance, capped: enough to confirm "at most one edit or one adjacent swap". */
export function editDistanceAtMostOne(a: string, b: string): boolean {
  if (a === b) return true;
  if (Math.abs(a.length - b.length) > 1) return false;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i += 1;
  if (a.length === b.length) {
    if (a.slice(i + 1) === b.slice(i + 1)) return true; // substitution
    return a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2); // transposition
  }
  return a.length > b.length ? a.slice(i + 1) === b.slice(i) : a.slice(i) === b.slice(i + 1);
}

/** Most keys name one entry: store a bare id then, an array only on collision (builds several times faster). */
type Bucket = number | number[];

function push(map: Map<string, Bucket>, key: string, value: number): void {
  const bucket = map.get(key);
  if (bucket === undefined) map.set(key, value);
  else if (typeof bucket === "number") {
    if (bucket !== value) map.set(key, [bucket, value]);
  } else if (bucket[bucket.length - 1] !== value) bucket.push(value);
}

function ids(bucket: Bucket | undefined): readonly number[] {
  return bucket === undefined ? [] : typeof bucket === "number" ? [bucket] : bucket;
}

/** Builds the index; the order of `names` is the preference order for suggestions. */
export function createNameIndex(names: Iterable<string>): NameIndex {
  const list: { name: string; skel: string }[] = [];
  const normalizedSet = new Set<string>();
  const bySkeleton = new Map<string, Bucket>();
  const byStripped = new Map<string, Bucket>();
  const byDeletion = new Map<string, Bucket>();
  for (const raw of names) {
    const name = normalizeName(raw.trim());
    if (name === "" || normalizedSet.has(name)) continue;
    normalizedSet.add(name);
    const skel = skeleton(name);
    const id = list.length;
    list.push({ name, skel });
    push(bySkeleton, skel, id);
    push(byStripped, stripPython(skel), id);
    if (skel.length >= MIN_FUZZY_LENGTH) for (const d of deletions(skel)) push(byDeletion, d, id);
  }

  return {
    size: list.length,
    has: (name) => normalizedSet.has(normalizeName(name)),
    lookalike(raw) {
      const name = normalizeName(raw);
      const skel = skeleton(name);
      const stripped = stripPython(skel);
      let best: { id: number; exact: boolean } | undefined;
      const consider = (bucket: Bucket | undefined, exact: boolean, verify: boolean) => {
        for (const id of ids(bucket)) {
          const entry = list[id];
          if (entry === undefined || entry.name === name) continue;
          if (verify && !editDistanceAtMostOne(skel, entry.skel)) continue;
          if (best === undefined || (exact && !best.exact) || (exact === best.exact && id < best.id)) best = { id, exact };
        }
      };
      consider(bySkeleton.get(skel), true, false);
      consider(bySkeleton.get(stripped), true, false);
      consider(byStripped.get(skel), true, false);
      consider(byStripped.get(stripped), true, false);
      if (skel.length >= MIN_FUZZY_LENGTH) {
        consider(byDeletion.get(skel), false, true);
        for (const d of deletions(skel)) {
          if (d.length >= MIN_FUZZY_LENGTH) consider(bySkeleton.get(d), false, true);
          consider(byDeletion.get(d), false, true);
        }
      }
      if (best === undefined) return undefined;
      const target = list[best.id];
      if (target === undefined) return undefined;
      return { name: target.name, why: explain(name, target.name, best.exact) };
    },
  };
}

function explain(name: string, target: string, exact: boolean): string {
  if (!exact) return `one character away from ${target}`;
  if (name.replace(/-/g, "") === target.replace(/-/g, "")) return `differs from ${target} only in separators`;
  const skelName = skeleton(name);
  const skelTarget = skeleton(target);
  if (skelName === skelTarget) return `looks like ${target} (confusable characters)`;
  return `${target} with a py/python prefix or suffix changed`;
}
