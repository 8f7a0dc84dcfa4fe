import type { EnvironmentRuntime } from "../config/environments.js";
import { markerExtras, parseBuildRequirement, sdistBuildRequires, wheelRequiresDist, type BuildRequirement } from "../verify/build-requires/index.js";
import type { IndexFile } from "../index/types.js";
import type { ProxyFilter } from "../index/proxy.js";
import { versionSatisfies } from "../requirement/index.js";

/**
 * Served as soon as a run builds any sdist: what a legacy sdist builds with, and what setuptools'
 * backend asks for at build time (`wheel`) though no file declares it.
 */
export const BASE_BUILD_TOOLS: readonly string[] = ["setuptools", "wheel"];

/** Build tools one run may fetch at most; past it a declaration adds nothing (fail closed). */
export const MAX_BUILD_TOOLS = 256;

/** The proxy filter of one sandbox run, with the build tools its sdists have made available so far. */
export interface SandboxProxyFilter extends ProxyFilter {
  buildTools(): string[];
}

interface BuildTool {
  extras: Set<string>;
  /** Exact pins (`==1.2`, `===1.2`) some declaration names: a yanked file is served only for one. */
  pins: Set<string>;
}

/**
 * The closure of the build requirements of the sdists a run fetched: each sdist's declared (or legacy
 * default) requirements, then, as each build tool's wheel is served, its own Requires-Dist (those
 * behind an `extra` marker only when that extra was asked for). Names only; pip picks the versions.
 */
function createBuildTools() {
  const tools = new Map<string, BuildTool>();
  const wheelRequires = new Map<string, BuildRequirement[]>();

  const consider = (parent: string, requirement: BuildRequirement): void => {
    const only = markerExtras(requirement.marker);
    if (only === undefined || only.some((extra) => tools.get(parent)?.extras.has(extra) === true)) add(requirement);
  };
  const add = (requirement: BuildRequirement): void => {
    let tool = tools.get(requirement.name);
    if (tool === undefined) {
      if (tools.size >= MAX_BUILD_TOOLS) return;
      tool = { extras: new Set(), pins: new Set() };
      tools.set(requirement.name, tool);
    }
    const fresh = requirement.extras.filter((extra) => !(tool as BuildTool).extras.has(extra));
    for (const extra of fresh) tool.extras.add(extra);
    if (/^\s*===?\s*[^\s,*]+\s*$/.test(requirement.specifier)) tool.pins.add(requirement.specifier.trim());
    // A new extra may bring in requirements of a wheel already served.
    if (fresh.length > 0) for (const dependency of wheelRequires.get(requirement.name) ?? []) consider(requirement.name, dependency);
  };

  return {
    has: (name: string) => tools.has(name),
    names: () => [...tools.keys()].sort(),
    pinned: (name: string, version: string) => [...(tools.get(name)?.pins ?? [])].some((pin) => versionSatisfies(version, pin, { prereleases: true })),
    add,
    fromWheel(name: string, requires: BuildRequirement[]): void {
      wheelRequires.set(name, requires);
      for (const requirement of requires) consider(name, requirement);
    },
  };
}

/**
 * What the sandbox sees of the index: projects on the allowlist, versions inside the allowlist's
 * specifier, no yanked file unless it is the exact pin, no sdist when the environment is wheels-only;
 * and the build tools of the sdists it fetched, as wheels only, never yanked unless pinned, never one
 * on the deny list. Build tools run only inside the sandbox and never reach a target environment
 * unless the allowlist names them: the full metadata rules run again on the resolved set before commit.
 */
export function proxyFilterFor(env: EnvironmentRuntime, pinned: { name: string; version: string }): SandboxProxyFilter {
  const { allowlist } = env;
  const tools = createBuildTools();
  return {
    project(name) {
      if (allowlist.deny.has(name)) return `${name} is on the deny list of environment ${env.name}`;
      if (allowlist.packages.has(name)) return undefined;
      if (tools.has(name)) return undefined;
      return `${name} is not on the allowlist of environment ${env.name}`;
    },
    file(name, file: IndexFile) {
      const allowed = allowlist.packages.get(name);
      if (allowed === undefined) {
        if (!tools.has(name)) return `${name} is not allowed`;
        if (file.kind !== "wheel") return "build tools are served as wheels only";
        if (file.yanked !== false && !tools.pinned(name, file.version)) return `${name} ${file.version} is yanked`;
        return undefined;
      }
      const isPinned = name === pinned.name && file.version === pinned.version;
      if (!versionSatisfies(file.version, allowed.specifier, { prereleases: isPinned || undefined })) {
        return `${name} ${file.version} is outside the allowed range ${allowed.specifier || "*"}`;
      }
      if (file.yanked !== false && !isPinned) return `${name} ${file.version} is yanked`;
      if (allowlist.rules.wheels_only && file.kind === "sdist") return `${name} ${file.version} has only an sdist and environment ${env.name} is wheels-only`;
      return undefined;
    },
    async served(name, file, bytes) {
      if (file.kind === "sdist") {
        const declared = await sdistBuildRequires(file.filename, bytes);
        for (const base of BASE_BUILD_TOOLS) tools.add(parseBuildRequirement(base) as BuildRequirement);
        for (const requirement of declared.requires) tools.add(requirement);
        const names = declared.requires.map((requirement) => requirement.name).join(", ");
        return declared.source === "pyproject" ? `build requirements declared: ${names}` : `${declared.reason}: building with the legacy default (${names})`;
      }
      if (!tools.has(name)) return undefined;
      const requires = wheelRequiresDist(bytes);
      if (!requires.ok) return `the requirements of build tool ${name} were not read (${requires.error}); they are not served`;
      tools.fromWheel(name, requires.value);
      return undefined;
    },
    buildTools: () => tools.names(),
  };
}

/**
 * The proxy filter of a decision-only resolution (a check): the install filter, except that a project
 * neither allowed nor denied is served too, as wheels only and never yanked, so the resolver can see
 * the whole tree and every missing name is reported at once. Allowed projects keep their exact install
 * rules (ranges, yanked, wheels-only), so the set resolved is the one the install would resolve once the
 * missing names are allowed; denied projects stay hidden. Nothing a check resolves reaches an
 * environment: its run is asked for no verified set (resolveInSandbox's "check" mode answers with
 * names and versions only), its files land in the run's own scratch store, not in pipgate's, and an
 * install always uses proxyFilterFor and holds every wheel to policy again before commit.
 */
export function checkFilterFor(env: EnvironmentRuntime, pinned: { name: string; version: string }): SandboxProxyFilter {
  const strict = proxyFilterFor(env, pinned);
  const unlisted = (name: string): boolean => !env.allowlist.packages.has(name) && !env.allowlist.deny.has(name);
  return {
    ...strict,
    project: (name) => (unlisted(name) ? undefined : strict.project(name)),
    file(name, file: IndexFile) {
      if (!unlisted(name)) return strict.file(name, file);
      if (file.kind !== "wheel") return `${name} is not on the allowlist of environment ${env.name}; a check resolves it from wheels only`;
      if (file.yanked !== false) return `${name} ${file.version} is yanked`;
      return undefined;
    },
  };
}
