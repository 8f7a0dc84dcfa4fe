import { explain } from "@renovatebot/pep440";
import { z } from "zod";
import { normalizeName, parseRequirement } from "../requirement/index.js";

/** How `import` turns a requirement line into an allowlist specifier. */
export const PIN_STYLES = ["exact", "compatible", "any"] as const;
export const PinStyleSchema = z.enum(PIN_STYLES).describe('exact: ==V; compatible: >=V,<next major (next minor for 0.x); any: "*"');
export type PinStyle = z.infer<typeof PinStyleSchema>;

/** One requirement read from a requirements file or `pip freeze` output. */
export interface ImportedRequirement {
  line: number;
  name: string;
  /** the line's own specifier set, compact; "" when it has none */
  specifier: string;
}

/** A warning or refusal tied to a line of the requirements file, so the maintainer can find it. */
export interface LineNote {
  line: number;
  message: string;
}

/** What a requirements file holds: usable lines, lines skipped with a warning, and lines refused. */
export interface RequirementsFile {
  requirements: ImportedRequirement[];
  warnings: LineNote[];
  errors: LineNote[];
}

const URL_OR_PATH = /^(?:[a-z][a-z0-9+.-]*:\/\/|[a-z][a-z0-9+.-]*\+[a-z]+:|\.{1,2}\/|\/|~)/i;
const DIRECT_REFERENCE = /^[A-Za-z0-9._-]+\s*(?:\[[^\]]*\])?\s*@/;

/**
 * Reads requirements as pip writes and reads them: comments, continuation lines, options (`-r`, `-e`,
 * `--index-url` …) and URLs or paths are skipped with a warning (they name no project on the index);
 * `name @ url` is refused, since pipgate installs only from its index; markers are dropped with a warning,
 * because an allowlist applies on every platform; trailing `--hash` options are ignored.
 */
export function parseRequirementsFile(text: string): RequirementsFile {
  const result: RequirementsFile = { requirements: [], warnings: [], errors: [] };
  const physical = text.split(/\r?\n/);
  for (let i = 0; i < physical.length; i += 1) {
    const line = i + 1;
    let logical = physical[i] ?? "";
    while (logical.endsWith("\\") && i + 1 < physical.length) {
      i += 1;
      logical = `${logical.slice(0, -1)} ${physical[i] ?? ""}`;
    }
    const content = logical.replace(/(^|\s+)#.*$/, "").trim();
    if (content === "") continue;
    if (content.startsWith("-")) {
      result.warnings.push({ line, message: `skipped the option line ${JSON.stringify(content)}: only project requirements are imported` });
      continue;
    }
    if (URL_OR_PATH.test(content)) {
      result.warnings.push({ line, message: `skipped ${JSON.stringify(content)}: a URL or path names no project on the index` });
      continue;
    }
    if (DIRECT_REFERENCE.test(content)) {
      result.errors.push({
        line,
        message: `refused ${JSON.stringify(content)}: a direct reference (name @ url) bypasses the index, which pipgate never does; list the project by name instead`,
      });
      continue;
    }
    let requirement = content;
    const option = /\s--?[a-z]/i.exec(requirement);
    if (option !== null) {
      const options = requirement.slice(option.index).trim();
      requirement = requirement.slice(0, option.index).trim();
      if (!/^(?:--hash[=\s]\S+\s*)+$/.test(options)) result.warnings.push({ line, message: `ignored the options ${JSON.stringify(options)}` });
    }
    const semicolon = requirement.indexOf(";");
    if (semicolon >= 0) {
      result.warnings.push({
        line,
        message: `dropped the environment marker ${JSON.stringify(requirement.slice(semicolon + 1).trim())}: an allowlist applies on every platform`,
      });
      requirement = requirement.slice(0, semicolon).trim();
    }
    const parsed = parseRequirement(requirement);
    if (!parsed.ok) {
      result.errors.push({ line, message: parsed.message.replace(/^package_name /, "") });
      continue;
    }
    const earlier = result.requirements.findIndex((entry) => normalizeName(entry.name) === parsed.requirement.normalized);
    if (earlier >= 0) {
      result.warnings.push({
        line,
        message: `${parsed.requirement.name} appears again (first on line ${result.requirements[earlier]?.line}); the later line wins`,
      });
      result.requirements.splice(earlier, 1);
    }
    result.requirements.push({ line, name: parsed.requirement.name, specifier: parsed.requirement.specifier });
  }
  return result;
}

/**
 * The allowlist specifier for an imported requirement:
 * - `exact`: a pinned line (`==V`, `===V`) stays pinned exactly, `==V`;
 * - `compatible`: a pinned line becomes `>=V,<NEXT`: that version or any later one in the same major
 *   series (for 0.x, the same minor series, since 0.x releases break at the minor), never an older one;
 * - `any`: `"*"`.
 * A line with a range (`>=2`) keeps its own range under `exact` and `compatible`; a line without any
 * specifier becomes `"*"`.
 */
export function pinSpecifier(requirement: ImportedRequirement, style: PinStyle): string {
  if (style === "any" || requirement.specifier === "") return "*";
  const pinned = /^===?([^,*]+)$/.exec(requirement.specifier)?.[1];
  if (pinned === undefined) return requirement.specifier;
  const version = explain(pinned);
  if (version === null) return requirement.specifier;
  if (style === "exact") return `==${pinned}`;
  const lower = pinned.split("+")[0] ?? pinned;
  const [major = 0, minor = 0] = version.release;
  const epoch = version.epoch > 0 ? `${version.epoch}!` : "";
  const upper = major > 0 ? `${major + 1}` : `0.${minor + 1}`;
  return `>=${lower},<${epoch}${upper}`;
}
