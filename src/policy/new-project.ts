import type { Rules } from "../config/allowlist-schema.js";
import type { ProjectInfo } from "../index/types.js";
import type { RuleResult } from "./types.js";

const DAY_MS = 86_400_000;

/**
 * The new-project rule: a project whose first upload is younger than new_project_min_age_days, or that
 * has fewer than new_project_min_releases releases, is refused whatever version is asked for — the
 * "immaturity" a fresh squat or a hallucinated name that someone registered shows. Read from the index's
 * project page (PEP 700 upload times); no upload time at all fails closed when an age is required.
 */
export function checkNewProject(project: ProjectInfo, rules: Pick<Rules, "new_project_min_age_days" | "new_project_min_releases">, now: Date): RuleResult {
  const minAge = rules.new_project_min_age_days;
  const minReleases = rules.new_project_min_releases;
  if (minAge === 0 && minReleases === 0) {
    return { rule: "new-project", outcome: "skip", detail: "not checked (new_project_min_age_days and new_project_min_releases are 0)" };
  }
  const releases = new Set(project.versions).size;
  const times = project.files.map((file) => file.uploadTime?.getTime()).filter((time): time is number => time !== undefined);
  const first = times.length === 0 ? undefined : Math.min(...times);
  const signals: string[] = [];
  if (minReleases > 0 && releases < minReleases)
    signals.push(`it has ${releases} release${releases === 1 ? "" : "s"}, fewer than new_project_min_releases: ${minReleases}`);
  if (minAge > 0) {
    if (first === undefined) signals.push(`the index gives no upload time, so new_project_min_age_days: ${minAge} cannot be verified`);
    else if (now.getTime() - first < minAge * DAY_MS) {
      const days = Math.floor(Math.max(0, now.getTime() - first) / DAY_MS);
      signals.push(
        `its first upload was ${days} day${days === 1 ? "" : "s"} ago (${new Date(first).toISOString().slice(0, 10)}), younger than new_project_min_age_days: ${minAge}`,
      );
    }
  }
  if (signals.length > 0) return { rule: "new-project", outcome: "fail", detail: `${project.name} looks new: ${signals.join("; ")}` };
  const age = first === undefined ? "" : `, first upload ${new Date(first).toISOString().slice(0, 10)}`;
  return { rule: "new-project", outcome: "pass", detail: `${project.name} has ${releases} release${releases === 1 ? "" : "s"}${age}` };
}
