import { echo } from "./echo.js";
import { REQUIREMENT_LIMITS } from "./limits.js";
import { refuse } from "./messages.js";
import { isValidName, normalizeName } from "./name.js";
import { screenRequirement } from "./screen.js";
import { parseSpecifierSet } from "./specifier.js";
import type { ParseResult, Requirement } from "./types.js";

/** File names pip would install from disk even without a slash in them. */
const ARCHIVE = /\.(?:whl|zip|tar|tgz|tbz|tbz2|txz|tlz|tar\.gz|tar\.bz2|tar\.xz|tar\.lz|tar\.lzma)$/i;
const NAME_FORM = 'a project name is ASCII letters and digits, with ".", "-" or "_" allowed only between them';

/**
 * Parses one requirement string as pipgate accepts it (PEP 508 without URLs or markers):
 * `name`, `name[extra,...]`, then an optional specifier set, bare or in parentheses
 * (`name>=1,<2`, `name (>=1,<2)`). Anything else is refused with a message an agent can act on;
 * nothing here does I/O.
 */
export function parseRequirement(raw: string): ParseResult {
  const screened = screenRequirement(raw);
  if (screened !== undefined) return screened;
  const text = raw.trim();
  const quoted = echo(raw);

  const name = /^[^\s[(<>=!~,]*/.exec(text)?.[0] ?? "";
  if (name === "") {
    return refuse("invalid-name", `package_name ${quoted} does not start with a project name; ${NAME_FORM}. Shell syntax is never interpreted.`);
  }
  if (name.length > REQUIREMENT_LIMITS.name) {
    return refuse(
      "too-long",
      `package_name ${quoted} has a ${name.length}-character name; pipgate accepts names of at most ${REQUIREMENT_LIMITS.name} characters.`,
    );
  }
  if (ARCHIVE.test(name)) {
    return refuse(
      "path",
      `package_name ${quoted} is an archive file name, which pip would read from disk; pipgate installs only from its configured index, never from local files.`,
    );
  }
  if (!isValidName(name)) {
    const word = text.split(/\s/)[0] ?? name;
    return refuse("invalid-name", `package_name ${quoted} has the invalid project name ${echo(word)}; ${NAME_FORM}. Shell syntax is never interpreted.`);
  }

  let rest = text.slice(name.length).trimStart();
  let extras: string[] = [];
  if (rest.startsWith("[")) {
    const parsed = parseExtras(rest, quoted);
    if (!parsed.ok) return parsed;
    extras = parsed.extras;
    rest = parsed.rest;
  }

  let specifierText = rest;
  const parenthesised = rest.startsWith("(");
  if (parenthesised) {
    if (!rest.endsWith(")")) {
      return refuse("invalid-specifier", `package_name ${quoted} opens a parenthesis it does not close; write "name (>=1.0)" or "name>=1.0".`);
    }
    specifierText = rest.slice(1, -1);
  }
  const specifier = parseSpecifierSet(specifierText, parenthesised);
  if (!specifier.ok) {
    return refuse(specifier.tooLong === true ? "too-long" : "invalid-specifier", `package_name ${quoted}: ${specifier.problem}.`);
  }
  const requirement: Requirement = { raw, name, normalized: normalizeName(name), extras, specifier: specifier.specifier };
  return { ok: true, requirement };
}

type ExtrasResult = { ok: true; extras: string[]; rest: string } | Extract<ParseResult, { ok: false }>;

function parseExtras(rest: string, quoted: string): ExtrasResult {
  const close = rest.indexOf("]");
  if (close < 0) {
    return refuse("invalid-specifier", `package_name ${quoted} opens a list of extras with "[" and does not close it; write extras as "name[extra1,extra2]".`);
  }
  const inner = rest.slice(1, close);
  const listed = inner.trim() === "" ? [] : inner.split(",").map((extra) => extra.trim());
  if (listed.length > REQUIREMENT_LIMITS.extras) {
    return refuse("too-long", `package_name ${quoted} lists ${listed.length} extras; pipgate accepts at most ${REQUIREMENT_LIMITS.extras}.`);
  }
  for (const extra of listed) {
    if (extra.length > REQUIREMENT_LIMITS.extra) {
      return refuse(
        "too-long",
        `package_name ${quoted} has a ${extra.length}-character extra; pipgate accepts extras of at most ${REQUIREMENT_LIMITS.extra} characters.`,
      );
    }
    if (!isValidName(extra)) {
      return refuse(
        "invalid-specifier",
        `package_name ${quoted} has the invalid extra ${echo(extra)}; extras are names like project names, written "name[extra1,extra2]".`,
      );
    }
  }
  const extras = [...new Set(listed.map(normalizeName))];
  return { ok: true, extras, rest: rest.slice(close + 1).trimStart() };
}

/** The requirement as pipgate hands it on: rebuilt from its parts, never the caller's raw text. */
export function formatRequirement(requirement: Requirement): string {
  const extras = requirement.extras.length > 0 ? `[${requirement.extras.join(",")}]` : "";
  return `${requirement.normalized}${extras}${requirement.specifier}`;
}
