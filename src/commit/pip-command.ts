import type { EntryPoints } from "../verify/entry-points.js";
import type { Pin } from "./request.js";

/** A wheel copied into the private find-links directory, with the digest of that copy. */
export interface StagedWheel extends Pin {
  file: string;
  sha256: string;
  /** what the verify stage's inspection of these bytes found (VerifiedWheel.entryPoints) */
  entryPoints?: EntryPoints;
}

/**
 * One exact, hash-pinned line per wheel: pip refuses anything whose bytes differ (DESIGN property 3),
 * and `==` keeps it from choosing another version.
 */
export function requirementsText(wheels: readonly StagedWheel[]): string {
  return wheels.map((w) => `${w.name}==${w.version} --hash=sha256:${w.sha256}\n`).join("");
}

/**
 * The install command line for the venv's own interpreter. No index, no builds, no dependencies pip
 * would pick itself, no config files: only the staged wheels can be installed. Byte-compiling stays
 * on (pip's default) so the environment behaves as after a plain install.
 */
export function pipInstallArgs(requirementsFile: string, findLinksDir: string): string[] {
  return [
    "-I",
    "-m",
    "pip",
    "install",
    "--isolated",
    "--no-index",
    "--find-links",
    findLinksDir,
    "--no-deps",
    "--require-hashes",
    "--only-binary",
    ":all:",
    "--no-cache-dir",
    "--disable-pip-version-check",
    "--no-input",
    "--progress-bar",
    "off",
    "--no-warn-script-location",
    "--requirement",
    requirementsFile,
  ];
}

export { isolatedEnv } from "../config/python.js";
