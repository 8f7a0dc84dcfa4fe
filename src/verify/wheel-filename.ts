import { isValidName, normalizeName } from "../requirement/name.js";
import { isValidVersion } from "../requirement/version.js";

/** What a wheel's filename promises; the archive's metadata must keep that promise. */
export interface WheelFilename {
  /** PEP 503 normalised. */
  name: string;
  version: string;
  build?: string;
  /** Expanded compatibility tags, e.g. `py2.py3-none-any` → ["py2-none-any", "py3-none-any"]. */
  tags: string[];
}

const TAG_PART = /^[A-Za-z0-9_]+$/;

function expandTags(python: string, abi: string, platform: string): string[] | undefined {
  const parts = [python.split("."), abi.split("."), platform.split(".")];
  if (parts.some((list) => list.some((tag) => !TAG_PART.test(tag)))) return undefined;
  const [pythons = [], abis = [], platforms = []] = parts;
  return pythons.flatMap((p) => abis.flatMap((a) => platforms.map((pl) => `${p}-${a}-${pl}`)));
}

/**
 * Parses `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl` (binary distribution format).
 * Undefined for anything else, including a version that is not PEP 440: the installer would refuse it too.
 */
export function parseWheelFilename(filename: string): WheelFilename | undefined {
  if (!filename.endsWith(".whl") || filename.includes("/") || filename.includes("\\")) return undefined;
  const parts = filename.slice(0, -4).split("-");
  if (parts.length !== 5 && parts.length !== 6) return undefined;
  const [name = "", version = ""] = parts;
  const [python = "", abi = "", platform = ""] = parts.slice(-3);
  const build = parts.length === 6 ? parts[2] : undefined;
  if (!isValidName(name) || !isValidVersion(version)) return undefined;
  if (build !== undefined && !/^\d[A-Za-z0-9_.]*$/.test(build)) return undefined;
  const tags = expandTags(python, abi, platform);
  if (tags === undefined) return undefined;
  const parsed: WheelFilename = { name: normalizeName(name), version, tags };
  if (build !== undefined) parsed.build = build;
  return parsed;
}
