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

/**
 * Lookups answered by a scan of the whole list before the maps are built. A one-shot command makes one
 * or two lookups, and building the maps for ~5,000 names (~50,000 keys) cost it 60–90 ms with the
 * garbage collection they cause, more than its whole policy stage; a long-running broker makes
 * thousands and wants the maps. Both paths give the same answer (the unit tests compare them).
 */
export const SCANNED_LOOKUPS = 4;

interface Entry {
  name: string;
  skel: string;
  stripped: string;
}

/** What a lookup compares: the asked-for name, its skeleton, and that skeleton without py/python. */
interface Probe {
  name: string;
  skel: string;
  stripped: string;
}

/** Pure: the best of two candidates (an exact lookalike beats a fuzzy one, then the earlier in the list). */
function better(best: { id: number; exact: boolean } | undefined, id: number, exact: boolean): boolean {
  return best === undefined || (exact && !best.exact) || (exact === best.exact && id < best.id);
}

/**
 * The lookalike by one pass over the list. An exact lookalike shares a skeleton (or its py-less core);
 * a fuzzy one is at most one edit from the skeleton, with both skeletons long enough: precisely the
 * candidates the maps' deletion neighbourhoods reach.
 */
function scan(list: readonly Entry[], probe: Probe): { id: number; exact: boolean } | undefined {
  const fuzzy = probe.skel.length >= MIN_FUZZY_LENGTH;
  let best: { id: number; exact: boolean } | undefined;
  for (let id = 0; id < list.length; id += 1) {
    const entry = list[id] as Entry;
    if (entry.name === probe.name) continue;
    const exact = entry.skel === probe.skel || entry.skel === probe.stripped || entry.stripped === probe.skel || entry.stripped === probe.stripped;
    if (exact) {
      if (better(best, id, true)) best = { id, exact: true };
      // the list is in preference order: nothing after the first exact lookalike can win
      return best;
    }
    if (fuzzy && best === undefined && entry.skel.length >= MIN_FUZZY_LENGTH && editDistanceAtMostOne(probe.skel, entry.skel)) best = { id, exact: false };
  }
  return best;
}

/** The maps of a built index: skeleton, py-less skeleton and deletion neighbourhood to list positions. */
interface Maps {
  bySkeleton: Map<string, Bucket>;
  byStripped: Map<string, Bucket>;
  byDeletion: Map<string, Bucket>;
}

function buildMaps(list: readonly Entry[]): Maps {
  const maps: Maps = { bySkeleton: new Map(), byStripped: new Map(), byDeletion: new Map() };
  list.forEach((entry, id) => {
    push(maps.bySkeleton, entry.skel, id);
    push(maps.byStripped, entry.stripped, id);
    if (entry.skel.length >= MIN_FUZZY_LENGTH) for (const d of deletions(entry.skel)) push(maps.byDeletion, d, id);
  });
  return maps;
}

/** The lookalike by a few dozen map probes. */
function probeMaps(list: readonly Entry[], maps: Maps, probe: Probe): { id: number; exact: boolean } | undefined {
  let best: { id: number; exact: boolean } | undefined;
  const consider = (bucket: Bucket | undefined, exact: boolean, verify: boolean) => {
    for (const id of ids(bucket)) {
      const entry = list[id];
      if (entry === undefined || entry.name === probe.name) continue;
      if (verify && !editDistanceAtMostOne(probe.skel, entry.skel)) continue;
      if (better(best, id, exact)) best = { id, exact };
    }
  };
  consider(maps.bySkeleton.get(probe.skel), true, false);
  consider(maps.bySkeleton.get(probe.stripped), true, false);
  consider(maps.byStripped.get(probe.skel), true, false);
  consider(maps.byStripped.get(probe.stripped), true, false);
  if (probe.skel.length >= MIN_FUZZY_LENGTH) {
    consider(maps.byDeletion.get(probe.skel), false, true);
    for (const d of deletions(probe.skel)) {
      if (d.length >= MIN_FUZZY_LENGTH) consider(maps.bySkeleton.get(d), false, true);
      consider(maps.byDeletion.get(d), false, true);
    }
  }
  return best;
}

/**
 * Builds the index; the order of `names` is the preference order for suggestions. The first
 * `scannedLookups` lookups scan the list; the maps are built on the next.
 */
export function createNameIndex(names: Iterable<string>, scannedLookups: number = SCANNED_LOOKUPS): NameIndex {
  const list: Entry[] = [];
  const normalizedSet = new Set<string>();
  for (const raw of names) {
    const name = normalizeName(raw.trim());
    if (name === "" || normalizedSet.has(name)) continue;
    normalizedSet.add(name);
    const skel = skeleton(name);
    list.push({ name, skel, stripped: stripPython(skel) });
  }
  let maps: Maps | undefined;
  let lookups = 0;

  return {
    size: list.length,
    has: (name) => normalizedSet.has(normalizeName(name)),
    lookalike(raw) {
      const name = normalizeName(raw);
      const skel = skeleton(name);
      const probe: Probe = { name, skel, stripped: stripPython(skel) };
      lookups += 1;
      if (maps === undefined && lookups > scannedLookups) maps = buildMaps(list);
      const best = maps === undefined ? scan(list, probe) : probeMaps(list, maps, probe);
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
