import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createNameIndex, type NameIndex } from "./typosquat.js";

const DATA_FILE = "top-pypi-projects.txt";

/** The popular-names list, read from disk on first use and kept by its owner (no module state). */
export interface PopularNames {
  names(): readonly string[];
  index(): NameIndex;
}

/**
 * Lazily loads the typosquat reference list. The file lives in `src/policy/data/`; the build does not
 * copy data files, so from `dist/src/policy/` the module walks up to the package root (the directory
 * whose package.json is pipgate's) and reads it from `src/policy/data/` there. A file next to the
 * module (`./data/`, if a build ever copies it) wins.
 */
export function createPopularNames(file: string | undefined = undefined): PopularNames {
  let names: readonly string[] | undefined;
  let index: NameIndex | undefined;
  const load = (): readonly string[] => {
    names ??= parseNameList(readFileSync(file ?? locateDataFile(), "utf8"));
    return names;
  };
  return {
    names: load,
    index() {
      index ??= createNameIndex(load());
      return index;
    },
  };
}

/** One name a line; `#` starts a comment line. */
export function parseNameList(text: string): string[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

/** Finds src/policy/data/top-pypi-projects.txt from this module's location, under src/ or dist/. */
export function locateDataFile(moduleUrl: string = import.meta.url): string {
  const here = dirname(fileURLToPath(moduleUrl));
  const beside = join(here, "data", DATA_FILE);
  if (existsSync(beside)) return beside;
  for (let dir = here; ; dir = dirname(dir)) {
    const candidate = join(dir, "src", "policy", "data", DATA_FILE);
    if (existsSync(join(dir, "package.json")) && existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) break;
  }
  throw new Error(`${DATA_FILE} not found beside ${here} or under a package root above it`);
}

/** The popular-names list shipped with pipgate, loaded on first use by whoever holds the returned object. */
export function loadPopularNames(): PopularNames {
  return createPopularNames();
}
