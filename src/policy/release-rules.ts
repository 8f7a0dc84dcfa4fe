import type { Allowlist } from "../config/allowlist.js";
import type { IndexFile, ReleaseInfo, Vulnerability } from "../index/types.js";
import { checkMalware, type OsvView } from "./malware.js";
import { contentActions } from "../config/allowlist-schema.js";
import { contentPlaceholder } from "./content-rule.js";
import { provenancePlaceholder } from "./provenance-rule.js";
import { detectLicense, licenseAllowed } from "./license.js";
import { describeExemption, findExemptions, findIgnore } from "./exemptions.js";
import type { RuleResult } from "./types.js";
import { compareVersions, pythonSatisfies } from "./versions.js";
import { isCompatibleWheel, linuxPlatform } from "./wheel-tags.js";
import { parseDistFilename } from "../index/filename.js";

const DAY_MS = 86_400_000;

/** Everything the release-level rules read about one candidate version. */
export interface VersionContext {
  name: string;
  version: string;
  /** the index's files for this version */
  files: readonly IndexFile[];
  /** JSON API metadata; undefined when the index publishes none */
  release: ReleaseInfo | undefined;
  /** the release this one replaces (newest older), for allow_vulnerability_fix */
  predecessor: ReleaseInfo | undefined;
  pinnedExactly: boolean;
  allowlist: Allowlist;
  pythonVersion: string;
  now: Date;
  /** the offline OSV database (rules.osv), when configured */
  osv?: OsvView | undefined;
}

/** The release-level verdict: every rule's result, the files pip may use, and a hint when it failed. */
export interface VersionVerdict {
  passed: boolean;
  rules: RuleResult[];
  files: IndexFile[];
  hint: string | undefined;
}

type Check = { result: RuleResult; hint?: string };

/** Runs every release rule (all of them, so a refusal also says what did pass). */
export function evaluateVersion(ctx: VersionContext): VersionVerdict {
  const label = `${ctx.name} ${ctx.version}`;
  const checks: Check[] = [];
  const exists = ctx.files.length > 0;
  checks.push(
    exists
      ? { result: { rule: "exists", outcome: "pass", detail: `${label} is on the index (${ctx.files.length} file${ctx.files.length === 1 ? "" : "s"})` } }
      : { result: { rule: "exists", outcome: "fail", detail: `${label} has no installable files on the index` } },
  );

  const malware = checkMalware(ctx.osv, ctx.name, ctx.version, ctx.now);
  checks.push(malware.hint === undefined ? { result: malware.result } : { result: malware.result, hint: malware.hint });
  const yanked = checkYanked(ctx, label);
  checks.push(yanked.check);
  checks.push(checkReleaseAge(ctx, label, yanked.files));
  const python = checkRequiresPython(ctx, label, yanked.files);
  checks.push(python.check);
  checks.push(checkVulnerabilities(ctx, label, malware.vulnerabilities));
  checks.push(checkLicense(ctx, label));
  const wheels = checkWheels(ctx, label, python.files);
  checks.push(wheels.check);
  checks.push({ result: contentPlaceholder(contentActions(ctx.allowlist.rules)) });
  checks.push({ result: provenancePlaceholder(ctx.allowlist.rules.provenance) });

  const failed = checks.find((check) => check.result.outcome === "fail");
  return {
    passed: failed === undefined,
    rules: checks.map((check) => check.result),
    files: wheels.files,
    hint: failed?.hint,
  };
}

function checkYanked(ctx: VersionContext, label: string): { check: Check; files: IndexFile[] } {
  const live = ctx.files.filter((file) => file.yanked === false);
  if (ctx.files.length === 0 || live.length > 0) {
    return { check: { result: { rule: "yanked", outcome: "pass", detail: `${label} is not yanked` } }, files: live };
  }
  const reason = ctx.files.find((file) => file.yanked !== false && file.yanked !== "")?.yanked;
  const why = reason ? ` (${reason})` : "";
  if (ctx.pinnedExactly) {
    return {
      check: { result: { rule: "yanked", outcome: "pass", detail: `${label} was yanked${why}, but is pinned exactly, which PEP 592 allows` } },
      files: [...ctx.files],
    };
  }
  return {
    check: {
      result: { rule: "yanked", outcome: "fail", detail: `${label} was yanked${why}; a yanked release is used only when pinned exactly` },
      hint: `pin it exactly (${ctx.name}==${ctx.version}) only if you need this very release; otherwise request another version`,
    },
    files: [],
  };
}

function checkReleaseAge(ctx: VersionContext, label: string, files: readonly IndexFile[]): Check {
  const cooldown = ctx.allowlist.rules.min_release_age_days;
  if (cooldown === 0) return { result: { rule: "release-age", outcome: "skip", detail: "no cooldown configured (min_release_age_days: 0)" } };
  const times = (files.length > 0 ? files : ctx.files).map((file) => file.uploadTime?.getTime()).filter((time): time is number => time !== undefined);
  if (ctx.release?.uploadTime !== undefined) times.push(ctx.release.uploadTime.getTime());
  const exemption = findExemptions(ctx.allowlist.exemptions, "min_release_age", ctx.name, ctx.version, ctx.now);
  const expiredNote = exemption.expired === undefined ? "" : `; an exemption expired on ${exemption.expired.expires.slice(0, 10)} and no longer applies`;
  if (times.length === 0) {
    if (exemption.active !== undefined) {
      return { result: { rule: "release-age", outcome: "pass", detail: `upload time unknown, but exempted ${describeExemption(exemption.active)}` } };
    }
    return {
      result: {
        rule: "release-age",
        outcome: "fail",
        detail: `the index gives no upload time for ${label}, so the ${cooldown}-day cooldown cannot be verified${expiredNote}`,
      },
      hint: "ask a maintainer for an exemption (rule min_release_age) if this release is needed",
    };
  }
  const uploaded = Math.min(...times);
  const ageMs = ctx.now.getTime() - uploaded;
  const age = describeAge(Math.max(0, ageMs));
  if (ageMs >= cooldown * DAY_MS) {
    return { result: { rule: "release-age", outcome: "pass", detail: `uploaded ${age} ago, older than the ${cooldown}-day cooldown` } };
  }
  const young = `uploaded ${age} ago, inside the ${cooldown}-day cooldown`;
  if (exemption.active !== undefined) {
    return { result: { rule: "release-age", outcome: "pass", detail: `${young}, but exempted ${describeExemption(exemption.active)}` } };
  }
  const fixed = ctx.allowlist.rules.allow_vulnerability_fix ? fixedVulnerabilities(ctx) : [];
  if (fixed.length > 0) {
    return {
      result: {
        rule: "release-age",
        outcome: "pass",
        detail: `${young}, but it fixes ${fixed.join(", ")} of ${ctx.predecessor?.version ?? "the release it replaces"} (allow_vulnerability_fix)`,
      },
    };
  }
  const until = new Date(uploaded + cooldown * DAY_MS).toISOString().slice(0, 16).replace("T", " ");
  return {
    result: { rule: "release-age", outcome: "fail", detail: `${young}${expiredNote}` },
    hint: `it becomes eligible after ${until} UTC; request an older version, or ask a maintainer for an exemption (rule min_release_age)`,
  };
}

/** Advisories of the replaced release that this version fixes (fixed_in names a version ≤ this one and newer than it). */
function fixedVulnerabilities(ctx: VersionContext): string[] {
  const previous = ctx.predecessor;
  if (previous === undefined) return [];
  return previous.vulnerabilities
    .filter((v) => v.withdrawn === undefined)
    .filter((v) => v.fixedIn.some((fix) => safeCompare(fix, ctx.version) <= 0 && safeCompare(fix, previous.version) > 0))
    .map((v) => v.id);
}

function safeCompare(a: string, b: string): number {
  try {
    return compareVersions(a, b);
  } catch {
    return Number.NaN;
  }
}

function checkRequiresPython(ctx: VersionContext, label: string, files: readonly IndexFile[]): { check: Check; files: IndexFile[] } {
  const py = ctx.pythonVersion;
  const releaseLevel = ctx.release?.requiresPython;
  if (!pythonSatisfies(py, releaseLevel)) {
    return {
      check: {
        result: { rule: "requires-python", outcome: "fail", detail: `${label} requires Python ${releaseLevel ?? ""}; this environment runs ${py}` },
        hint: `request a version of ${ctx.name} that supports Python ${py}`,
      },
      files: [],
    };
  }
  const fitting = files.filter((file) => pythonSatisfies(py, file.requiresPython));
  if (files.length > 0 && fitting.length === 0) {
    const constraints = [...new Set(files.map((file) => file.requiresPython))].join(", ");
    return {
      check: {
        result: { rule: "requires-python", outcome: "fail", detail: `no file of ${label} supports Python ${py} (requires-python ${constraints})` },
        hint: `request a version of ${ctx.name} that supports Python ${py}`,
      },
      files: [],
    };
  }
  const constraint = releaseLevel ?? fitting.find((file) => file.requiresPython !== undefined)?.requiresPython;
  return {
    check: {
      result: {
        rule: "requires-python",
        outcome: "pass",
        detail:
          constraint === undefined
            ? `${label} states no Python constraint (this environment runs Python ${py})`
            : `requires-python ${constraint} admits Python ${py}`,
      },
    },
    files: fitting,
  };
}

/** The index's advisories and the OSV database's, an advisory known to both (by id or alias) counted once. */
function mergeAdvisories(fromIndex: readonly Vulnerability[], fromOsv: readonly Vulnerability[]): Vulnerability[] {
  const merged = [...fromIndex];
  const known = new Set(fromIndex.flatMap((v) => [v.id, ...v.aliases]));
  for (const vulnerability of fromOsv) {
    if ([vulnerability.id, ...vulnerability.aliases].some((id) => known.has(id))) continue;
    merged.push(vulnerability);
    known.add(vulnerability.id);
  }
  return merged;
}

function checkVulnerabilities(ctx: VersionContext, label: string, fromOsv: readonly Vulnerability[]): Check {
  if (ctx.allowlist.rules.vulnerabilities === "allow") {
    return { result: { rule: "vulnerabilities", outcome: "skip", detail: "not checked (rules.vulnerabilities: allow)" } };
  }
  if (ctx.release === undefined && ctx.osv?.snapshot === undefined) {
    return { result: { rule: "vulnerabilities", outcome: "skip", detail: `the index publishes no vulnerability data for ${label}` } };
  }
  const notes: string[] = [];
  const open: { id: string; fixedIn: string[] }[] = [];
  for (const vulnerability of mergeAdvisories(ctx.release?.vulnerabilities ?? [], fromOsv)) {
    if (vulnerability.withdrawn !== undefined) continue;
    const ignore = findIgnore(ctx.allowlist.vulnerabilityIgnore, [vulnerability.id, ...vulnerability.aliases], ctx.now);
    if (ignore.active !== undefined) {
      notes.push(`${vulnerability.id} ignored ${describeExemption(ignore.active)}`);
      continue;
    }
    if (ignore.expired !== undefined) notes.push(`the ignore of ${vulnerability.id} expired on ${ignore.expired.expires.slice(0, 10)}`);
    open.push({ id: vulnerability.id, fixedIn: vulnerability.fixedIn });
  }
  if (open.length === 0) {
    const detail = notes.length === 0 ? `no known vulnerabilities in ${label}` : `no vulnerabilities in force for ${label} (${notes.join("; ")})`;
    return { result: { rule: "vulnerabilities", outcome: "pass", detail } };
  }
  const exemption = findExemptions(ctx.allowlist.exemptions, "vulnerabilities", ctx.name, ctx.version, ctx.now);
  const list = open.map((v) => (v.fixedIn.length > 0 ? `${v.id} (fixed in ${v.fixedIn.join(", ")})` : v.id)).join(", ");
  if (exemption.active !== undefined) {
    return { result: { rule: "vulnerabilities", outcome: "pass", detail: `${label} has ${list}, but is exempted ${describeExemption(exemption.active)}` } };
  }
  const fixes = open.flatMap((v) => v.fixedIn).filter((fix) => safeCompare(fix, ctx.version) > 0);
  const newestFix = fixes.sort((a, b) => safeCompare(b, a))[0];
  return {
    result: {
      rule: "vulnerabilities",
      outcome: "fail",
      detail: `${label} has known vulnerabilities: ${list}${notes.length > 0 ? ` (${notes.join("; ")})` : ""}`,
    },
    hint: newestFix === undefined ? `request another version of ${ctx.name}` : `request ${ctx.name}>=${newestFix}`,
  };
}

function checkLicense(ctx: VersionContext, label: string): Check {
  const allowed = ctx.allowlist.rules.licenses;
  const detected = detectLicense(ctx.release);
  const exemption = findExemptions(ctx.allowlist.exemptions, "license", ctx.name, ctx.version, ctx.now);
  if (detected === undefined) {
    if (allowed.length === 0) return { result: { rule: "license", outcome: "pass", detail: "licence unknown, but any licence is allowed" } };
    if (ctx.allowlist.rules.unknown_license === "allow") {
      return { result: { rule: "license", outcome: "pass", detail: `licence of ${label} unknown; allowed (unknown_license: allow)` } };
    }
    if (exemption.active !== undefined) {
      return { result: { rule: "license", outcome: "pass", detail: `licence unknown, but exempted ${describeExemption(exemption.active)}` } };
    }
    return {
      result: { rule: "license", outcome: "fail", detail: `the licence of ${label} cannot be determined (unknown_license: deny)` },
      hint: "ask a maintainer to review the licence and add an exemption (rule license)",
    };
  }
  const what = `${detected.expression} (from ${detected.source})`;
  if (allowed.length === 0) return { result: { rule: "license", outcome: "pass", detail: `${what}; any licence is allowed` } };
  if (licenseAllowed(detected.expression, allowed)) {
    return { result: { rule: "license", outcome: "pass", detail: `${what} is among the allowed licences` } };
  }
  if (exemption.active !== undefined) {
    return { result: { rule: "license", outcome: "pass", detail: `${what} is not allowed, but exempted ${describeExemption(exemption.active)}` } };
  }
  return {
    result: { rule: "license", outcome: "fail", detail: `${what} is not among the allowed licences (${allowed.join(", ")})` },
    hint: "ask a maintainer to review the licence and add an exemption (rule license)",
  };
}

function checkWheels(ctx: VersionContext, label: string, files: readonly IndexFile[]): { check: Check; files: IndexFile[] } {
  const platform = linuxPlatform(ctx.pythonVersion);
  const wheels = files.filter((file) => {
    if (file.kind !== "wheel") return false;
    const parsed = parseDistFilename(file.filename, ctx.name);
    return parsed?.kind === "wheel" && isCompatibleWheel(parsed, platform);
  });
  const sdists = files.filter((file) => file.kind === "sdist");
  const target = `Python ${ctx.pythonVersion} on linux ${platform.arch}`;
  if (!ctx.allowlist.rules.wheels_only) {
    if (wheels.length === 0 && sdists.length === 0 && files.length > 0) {
      return {
        check: {
          result: { rule: "wheels-only", outcome: "fail", detail: `no file of ${label} can be installed on ${target} (no compatible wheel, no sdist)` },
        },
        files: [],
      };
    }
    return {
      check: {
        result: {
          rule: "wheels-only",
          outcome: "skip",
          detail: wheels.length > 0 ? `off; ${wheels.length} compatible wheel(s)` : `off; ${label} will be built from its sdist in the sandbox`,
        },
      },
      files: [...wheels, ...sdists],
    };
  }
  if (wheels.length > 0) {
    return {
      check: { result: { rule: "wheels-only", outcome: "pass", detail: `${wheels.length} compatible wheel(s), e.g. ${wheels[0]?.filename ?? ""}` } },
      files: wheels,
    };
  }
  const exemption = findExemptions(ctx.allowlist.exemptions, "wheels_only", ctx.name, ctx.version, ctx.now);
  if (exemption.active !== undefined && sdists.length > 0) {
    return {
      check: {
        result: { rule: "wheels-only", outcome: "pass", detail: `no wheel for ${target}, but a build is exempted ${describeExemption(exemption.active)}` },
      },
      files: sdists,
    };
  }
  const present =
    files.length === 0
      ? "no files"
      : files
          .map((file) => file.filename)
          .slice(0, 3)
          .join(", ");
  return {
    check: {
      result: { rule: "wheels-only", outcome: "fail", detail: `${label} has no wheel for ${target} (${present}); wheels_only refuses builds from source` },
      hint: `request a version of ${ctx.name} that publishes a compatible wheel`,
    },
    files: [],
  };
}

function describeAge(ms: number): string {
  const days = Math.floor(ms / DAY_MS);
  if (days >= 1) return `${days} day${days === 1 ? "" : "s"}`;
  const hours = Math.floor(ms / 3_600_000);
  return hours >= 1 ? `${hours} hour${hours === 1 ? "" : "s"}` : "less than an hour";
}
