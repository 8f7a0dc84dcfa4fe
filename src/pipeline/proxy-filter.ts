import type { EnvironmentRuntime } from "../config/environments.js";
import type { IndexFile } from "../index/types.js";
import type { ProxyFilter } from "../index/proxy.js";
import { versionSatisfies } from "../requirement/index.js";

/**
 * Build backends the sandbox may fetch to turn an sdist into a wheel. They run only inside the sandbox
 * and never reach a target environment unless the allowlist names them: verification refuses a resolved
 * set that contains one that is not allowed.
 */
export const BUILD_BACKENDS: readonly string[] = [
  "setuptools",
  "wheel",
  "flit-core",
  "hatchling",
  "poetry-core",
  "pdm-backend",
  "setuptools-scm",
  "packaging",
  "pathspec",
  "pluggy",
  "trove-classifiers",
  "editables",
  "tomli",
  "typing-extensions",
];

/**
 * What the sandbox sees of the index: projects on the allowlist (and the build backends), versions
 * inside the allowlist's specifier, no yanked file unless it is the exact pin, no sdist when the
 * environment is wheels-only. The full metadata rules run again on the resolved set before commit.
 */
export function proxyFilterFor(env: EnvironmentRuntime, pinned: { name: string; version: string }): ProxyFilter {
  const { allowlist } = env;
  return {
    project(name) {
      if (allowlist.deny.has(name)) return `${name} is on the deny list of environment ${env.name}`;
      if (allowlist.packages.has(name)) return undefined;
      if (BUILD_BACKENDS.includes(name)) return undefined;
      return `${name} is not on the allowlist of environment ${env.name}`;
    },
    file(name, file: IndexFile) {
      const allowed = allowlist.packages.get(name);
      if (allowed === undefined) return BUILD_BACKENDS.includes(name) ? (file.kind === "wheel" ? undefined : "build backends are served as wheels only") : `${name} is not allowed`;
      const isPinned = name === pinned.name && file.version === pinned.version;
      if (!versionSatisfies(file.version, allowed.specifier, { prereleases: isPinned || undefined })) {
        return `${name} ${file.version} is outside the allowed range ${allowed.specifier || "*"}`;
      }
      if (file.yanked !== false && !isPinned) return `${name} ${file.version} is yanked`;
      if (allowlist.rules.wheels_only && file.kind === "sdist") return `${name} ${file.version} has only an sdist and environment ${env.name} is wheels-only`;
      return undefined;
    },
  };
}
