import { normalizeName } from "../requirement/name.js";

/** What a distribution's filename says about it; pip decides from the filename alone too. */
export type ParsedFilename =
  { kind: "wheel"; version: string; pythonTags: string[]; abiTags: string[]; platformTags: string[] } | { kind: "sdist"; version: string };

const SDIST_SUFFIXES = [".tar.gz", ".zip"] as const;

/**
 * Parses a wheel (PEP 427) or sdist (PEP 625, and the legacy `name-version.zip`) filename of the
 * given project. Anything else — eggs, installers, a name that is not the project's — is undefined,
 * so such files are never offered to pip.
 */
export function parseDistFilename(filename: string, project: string): ParsedFilename | undefined {
  const normalized = normalizeName(project);
  if (filename.endsWith(".whl")) {
    const parts = filename.slice(0, -4).split("-");
    if (parts.length !== 5 && parts.length !== 6) return undefined;
    const [name, version] = parts;
    const [pythonTag, abiTag, platformTag] = parts.slice(-3);
    if (name === undefined || version === undefined || pythonTag === undefined || abiTag === undefined || platformTag === undefined) {
      return undefined;
    }
    if (normalizeName(name) !== normalized || version === "") return undefined;
    return {
      kind: "wheel",
      version,
      pythonTags: pythonTag.split("."),
      abiTags: abiTag.split("."),
      platformTags: platformTag.split("."),
    };
  }
  const suffix = SDIST_SUFFIXES.find((s) => filename.toLowerCase().endsWith(s));
  if (suffix === undefined) return undefined;
  const stem = filename.slice(0, -suffix.length);
  // Legacy sdists may keep dashes in the name: find the split where the prefix is the project.
  for (let i = stem.indexOf("-"); i > 0; i = stem.indexOf("-", i + 1)) {
    if (normalizeName(stem.slice(0, i)) === normalized) {
      const version = stem.slice(i + 1);
      return version === "" ? undefined : { kind: "sdist", version };
    }
  }
  return undefined;
}
