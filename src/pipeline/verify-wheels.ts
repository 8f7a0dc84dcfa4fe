import { existsSync } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import type { VerifiedWheel } from "../commit/request.js";
import type { EnvironmentRuntime } from "../config/environments.js";
import { contentActions } from "../config/allowlist-schema.js";
import { decideExact, type ContentFinding } from "../policy/index.js";
import { inspectWheel } from "../verify/wheel.js";
import type { PipelineDeps, VerifyStageDeps } from "./deps.js";
import { requirers, type ResolvedItem } from "./pip-report.js";

export type Verified =
  | { ok: true; wheels: VerifiedWheel[]; entryPoints: string[]; content?: ContentFinding[] }
  | { ok: false; error: string; resolved?: Array<{ name: string; version: string; sha256: string }>; content?: ContentFinding[] };

/**
 * The bytes of every resolved distribution: wheels as the proxy served them (hash checked against the
 * index), sdists as the sandbox built them (hashed by the output sink as they arrived), all in the
 * content-addressed store.
 */
export async function collectFiles(
  deps: Pick<PipelineDeps, "stateDir">,
  items: ResolvedItem[],
  served: Map<string, { sha256: string; path: string }>,
  built: ReadonlyMap<string, { path: string; sha256: string }>,
): Promise<{ ok: true; wheels: VerifiedWheel[] } | { ok: false; error: string }> {
  const wheels: VerifiedWheel[] = [];
  for (const item of items) {
    if (item.kind === "wheel") {
      const file = served.get(item.filename);
      if (file === undefined || item.sha256 === undefined || file.sha256 !== item.sha256) {
        return { ok: false, error: `${item.filename} was not fetched through pipgate's proxy with a matching sha256; refused` };
      }
      wheels.push({ name: item.name, version: item.version, path: file.path, sha256: file.sha256 });
      continue;
    }
    if (!served.has(item.filename)) return { ok: false, error: `${item.filename} was not fetched through pipgate's proxy; refused` };
    const prefix = `${item.name.replace(/-/g, "_")}-${item.version}-`.toLowerCase();
    const wheelName = [...built.keys()].find((name) => name.toLowerCase().startsWith(prefix) && name.endsWith(".whl"));
    const received = wheelName === undefined ? undefined : built.get(wheelName);
    if (wheelName === undefined || received === undefined) return { ok: false, error: `the sandbox built no wheel for ${item.displayName} ${item.version}` };
    const dir = join(deps.stateDir, "files", received.sha256);
    const path = join(dir, wheelName);
    if (
      await stat(path).then(
        () => false,
        () => true,
      )
    ) {
      await mkdir(dir, { recursive: true });
      await rename(received.path, path);
    } else await rm(received.path, { force: true });
    wheels.push({ name: item.name, version: item.version, path, sha256: received.sha256 });
  }
  return { ok: true, wheels };
}

/**
 * Every wheel passes the environment's current policy (DESIGN 2) and inspection; `items` (the resolution
 * report, when there is one) names the chain of a refused dependency.
 */
export async function verifyWheels(
  deps: VerifyStageDeps,
  env: EnvironmentRuntime,
  wheels: readonly VerifiedWheel[],
  items: readonly ResolvedItem[],
): Promise<Verified> {
  const entryPoints: string[] = [];
  const content: ContentFinding[] = [];
  const inspectedWheels: VerifiedWheel[] = [];
  for (const wheel of wheels) {
    const exact = await decideExact(wheel.name, wheel.version, env, deps.policyDeps);
    // A refused dependency is named with the chain that pulled it in, whichever check refused it.
    const parents = requirers(items, wheel.name);
    const via = parents.map(({ item: parent, requirement }) => `${parent.displayName} ${parent.version} requires ${requirement}; `).join("");
    if (!exact.allowed) return { ok: false, error: `${via}${exact.reason}` };
    if (!existsSync(wheel.path)) return { ok: false, error: `${basename(wheel.path)} is no longer in pipgate's store` };
    const options = { allowPth: env.allowlist.pthAllowed.has(wheel.name), content: contentActions(env.allowlist.rules) };
    const inspected = deps.inspections === undefined ? inspectWheel(wheel.path, options) : deps.inspections.inspect(wheel.path, options);
    const filename = basename(wheel.path);
    if (!inspected.ok) return { ok: false, error: `${via}${filename}: ${inspected.error}` };
    for (const signal of inspected.inspection.signals) content.push({ ...signal, detail: `${filename}: ${signal.detail}` });
    if (inspected.inspection.problems.length > 0) {
      return { ok: false, error: `${via}${filename} failed inspection: ${inspected.inspection.problems.slice(0, 3).join("; ")}`, content };
    }
    for (const [script, target] of Object.entries(inspected.inspection.entryPoints.console_scripts)) entryPoints.push(`${script} = ${target}`);
    // The commit re-hashes these bytes before use, and then needs no inspection of its own for them.
    inspectedWheels.push({ ...wheel, entryPoints: inspected.inspection.entryPoints });
  }
  return { ok: true, wheels: inspectedWheels, entryPoints, content };
}
