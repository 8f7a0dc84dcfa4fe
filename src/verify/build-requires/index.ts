// What an sdist needs to build, read from bytes the index proxy has verified and pipgate does not trust:
// the one place that parses an sdist's archive, its pyproject.toml and a build tool's METADATA.
import type { Result } from "../../errors.js";
import { isValidName, normalizeName } from "../../requirement/name.js";
import { parseHeaders } from "../headers.js";
import { openZip } from "../zip-reader.js";
import { readPyproject, type SdistLimits } from "./sdist.js";
import { readBuildSystemRequires, type TomlLimits } from "./toml.js";

export { DEFAULT_SDIST_LIMITS, type SdistLimits } from "./sdist.js";
export { DEFAULT_TOML_LIMITS, readBuildSystemRequires, type TomlLimits } from "./toml.js";

/** One PEP 508 requirement, as far as deciding which projects a build may fetch needs it. */
export interface BuildRequirement {
  /** PEP 503 normalised. */
  name: string;
  /** Normalised extra names. */
  extras: string[];
  /** The version specifier as written ("" for none, or for a URL requirement). */
  specifier: string;
  /** The environment marker as written, after the ";". */
  marker: string | undefined;
}

/** What pip assumes for an sdist without a usable `[build-system]` (PEP 518's default). */
export const LEGACY_BUILD_REQUIRES: readonly string[] = ["setuptools>=40.8.0", "wheel"];

export type SdistBuildRequires =
  | { source: "pyproject"; requires: BuildRequirement[] }
  /** `reason` says why no declaration was read: none there, or one that could not be read (fail closed). */
  | { source: "legacy-default"; requires: BuildRequirement[]; reason: string };

export interface BuildRequiresLimits extends SdistLimits, TomlLimits {
  /** A METADATA larger than this is not read. */
  maxMetadataBytes: number;
  /** Requires-Dist lines read from one METADATA. */
  maxRequiresDist: number;
}

const DEFAULT_METADATA_LIMITS = { maxMetadataBytes: 4 * 1024 * 1024, maxRequiresDist: 256 };
const UTF8 = new TextDecoder("utf-8", { fatal: true });

const CLAUSE = /^\s*(?:===|~=|==|!=|<=|>=|<|>)\s*[A-Za-z0-9.*+!_-]+\s*$/;
const REQUIREMENT = /^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[([^\]]*)\])?\s*([^;]*?)\s*(?:;(.*))?$/s;

/** Reads a PEP 508 requirement's name, extras, specifier and marker; undefined when it is not one. */
export function parseBuildRequirement(text: string): BuildRequirement | undefined {
  const match = REQUIREMENT.exec(text);
  if (match === null) return undefined;
  const [, name = "", extrasText, versionText = "", marker] = match;
  const extras =
    extrasText === undefined
      ? []
      : extrasText
          .split(",")
          .map((extra) => extra.trim())
          .filter((extra) => extra !== "");
  if (!extras.every(isValidName)) return undefined;
  let specifier = versionText;
  if (specifier.startsWith("@")) specifier = "";
  else if (specifier.startsWith("(") && specifier.endsWith(")")) specifier = specifier.slice(1, -1).trim();
  if (specifier !== "" && !specifier.split(",").every((clause) => CLAUSE.test(clause))) return undefined;
  return { name: normalizeName(name), extras: extras.map(normalizeName), specifier, marker: marker?.trim() };
}

function legacy(reason: string): SdistBuildRequires {
  return { source: "legacy-default", requires: LEGACY_BUILD_REQUIRES.map((text) => parseBuildRequirement(text) as BuildRequirement), reason };
}

/**
 * The requirements pip installs to build this sdist: its pyproject.toml's `[build-system] requires`,
 * or PEP 518's legacy default when it declares none — or when anything about the archive or the file
 * cannot be read within the caps, so that a hostile sdist gets no more than the default.
 */
export async function sdistBuildRequires(filename: string, bytes: Buffer, limits: Partial<BuildRequiresLimits> = {}): Promise<SdistBuildRequires> {
  const found = await readPyproject(filename, bytes, limits);
  if (!found.ok) return legacy(found.error);
  if (found.value === undefined) return legacy("the sdist has no pyproject.toml");
  let text: string;
  try {
    text = UTF8.decode(found.value);
  } catch {
    return legacy("pyproject.toml is not UTF-8");
  }
  const declared = readBuildSystemRequires(text, limits);
  if (!declared.ok) return legacy(declared.error);
  if (declared.value === undefined) return legacy("pyproject.toml declares no [build-system] requires");
  const requires: BuildRequirement[] = [];
  for (const entry of declared.value) {
    const parsed = parseBuildRequirement(entry);
    if (parsed === undefined) return legacy(`pyproject.toml: ${JSON.stringify(entry.slice(0, 80))} is not a requirement`);
    requires.push(parsed);
  }
  return { source: "pyproject", requires };
}

/** A wheel's Requires-Dist, from its one `.dist-info/METADATA`, read with the strict zip reader. */
export function wheelRequiresDist(bytes: Buffer, limits: Partial<BuildRequiresLimits> = {}): Result<BuildRequirement[]> {
  const caps = { ...DEFAULT_METADATA_LIMITS, ...limits };
  const opened = openZip(bytes);
  if (!opened.ok) return opened;
  const archive = opened.value;
  if (archive.problems.length > 0) return { ok: false, error: archive.problems[0] ?? "the wheel is malformed" };
  const entries = archive.entries.filter((entry) => /^[^/]+\.dist-info\/METADATA$/.test(entry.name));
  const [entry] = entries;
  if (entry === undefined || entries.length > 1) return { ok: false, error: "the wheel has no single .dist-info/METADATA" };
  if (entry.size > caps.maxMetadataBytes) return { ok: false, error: `${entry.name} is larger than ${caps.maxMetadataBytes} bytes` };
  const data = archive.read(entry);
  if (!data.ok) return data;
  let text: string;
  try {
    text = UTF8.decode(data.value);
  } catch {
    return { ok: false, error: `${entry.name} is not UTF-8` };
  }
  const lines = parseHeaders(text).all("Requires-Dist");
  if (lines.length > caps.maxRequiresDist) return { ok: false, error: `${entry.name} has more than ${caps.maxRequiresDist} Requires-Dist lines` };
  const requires: BuildRequirement[] = [];
  for (const line of lines) {
    const parsed = parseBuildRequirement(line);
    if (parsed !== undefined) requires.push(parsed);
  }
  return { ok: true, value: requires };
}

/**
 * The extras a marker restricts a requirement to (`extra == "toml"`); undefined when it names none.
 * A marker that mentions `extra` in a form not read here restricts it to no extra at all.
 */
export function markerExtras(marker: string | undefined): string[] | undefined {
  if (marker === undefined || !/\bextra\b/.test(marker)) return undefined;
  const extras: string[] = [];
  const pattern = /\bextra\s*==\s*(["'])([^"']*)\1|(["'])([^"']*)\3\s*==\s*extra\b/g;
  for (const match of marker.matchAll(pattern)) extras.push(normalizeName(match[2] ?? match[4] ?? ""));
  return extras;
}
