import { buildSdist, buildWheel } from "../test/fixtures/dists.js";
import type { ProjectSpec } from "../test/fixtures/index-server.js";

/** The requirement P1 and P2 install: a wheel with three dependencies, one of which is only an sdist. */
export const APP_REQUIREMENT = "quillmark==1.4.0";

/** P4's packages: one small wheel per agent, so every agent's install really installs something. */
export const AGENT_PACKAGES = Array.from({ length: 8 }, (_, index) => `scribe-tool-${String(index + 1)}`);

/** Names P4's agents check (allowed, metadata cached after the first look). */
export const CHECKED_PACKAGES = ["quillmark", "quillmark-core", "inkwell-fmt"];

/**
 * The local index's projects for the whole run. Built once: the bytes (and so the hashes) stay the
 * same across repetitions, as they would on a real index.
 */
export function benchProjects(): ProjectSpec[] {
  const wheel = (name: string, version: string, dependencies: string[] = []) => ({
    name,
    releases: [{ version, dists: [buildWheel({ name, version, dependencies })] }],
  });
  return [
    wheel("quillmark", "1.4.0", ["quillmark-core>=2.0", "inkwell-fmt>=0.9", "parchment-build>=3.1"]),
    wheel("quillmark-core", "2.2.1"),
    wheel("inkwell-fmt", "0.9.3"),
    { name: "parchment-build", releases: [{ version: "3.1.0", dists: [buildSdist({ name: "parchment-build", version: "3.1.0" })] }] },
    ...AGENT_PACKAGES.map((name) => wheel(name, "1.0.0")),
  ];
}

/** One allowlist for every bench environment: exactly the bench's projects, any version. */
export function benchAllowlist(): Record<string, unknown> {
  const names = ["quillmark", "quillmark-core", "inkwell-fmt", "parchment-build", ...AGENT_PACKAGES];
  return { packages: Object.fromEntries(names.map((name) => [name, "*"])) };
}
