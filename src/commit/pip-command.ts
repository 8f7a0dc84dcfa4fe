import type { Pin } from "./request.js";

/** A wheel copied into the private find-links directory, with the digest of that copy. */
export interface StagedWheel extends Pin {
  file: string;
  sha256: string;
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

/** `pip list` with the same isolation, for reporting what an environment holds. */
export function pipListArgs(): string[] {
  return ["-I", "-m", "pip", "list", "--isolated", "--format", "json", "--disable-pip-version-check", "--no-input"];
}

/**
 * The environment for every pip pipgate runs on the host (DESIGN property 7): no PIP_* or PYTHON*
 * variable survives, config files are pointed at /dev/null and the user site is off, so neither a
 * pip.conf nor an exported index URL can widen or change what gets installed. (`python -I` ignores
 * PYTHON* anyway; stripping them too keeps the rule independent of the flag.)
 */
export function isolatedEnv(ambient: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(ambient)) {
    if (value === undefined) continue;
    const upper = key.toUpperCase();
    if (upper.startsWith("PIP_") || upper.startsWith("PYTHON") || upper === "VIRTUAL_ENV") continue;
    env[key] = value;
  }
  env.PIP_CONFIG_FILE = "/dev/null";
  env.PYTHONNOUSERSITE = "1";
  return env;
}
