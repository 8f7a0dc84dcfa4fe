import { accessSync, constants } from "node:fs";
import { lstat, readlink, realpath } from "node:fs/promises";
import { basename, delimiter, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { execa } from "execa";
import { z } from "zod";
import { forbiddenMount, within, type ContainedSettings, type MountGuard } from "../config/contained-paths.js";
import { isolatedEnv } from "../config/python.js";
import { errorMessage, type Result } from "../errors.js";

/** One host path inside the contained upstream, at the same path. */
export interface ContainedMount {
  /** Where it appears in the container: the host path as the interpreters and the configuration name it. */
  target: string;
  /** What Docker mounts there: the target's real path, so a link cannot swap in something unchecked. */
  source: string;
  mode: "ro" | "rw";
  /** Why it is there, for `pipgate doctor`: "environment default (sys.prefix)", "upstream.sandbox.workdir" … */
  why: string;
}

/** A mount with where its target's own file really lives (for a link: the link, not what it points to). */
type Located = ContainedMount & { located: string };

export interface ContainedPlan {
  /** Sorted parents first, nested read-only mounts that add nothing removed. */
  mounts: ContainedMount[];
  /** The Python version the image must carry: the upstream interpreter's, else the first environment's. */
  pythonVersion: string | undefined;
}

export interface PlanInput {
  settings: ContainedSettings;
  /** The upstream's argv: its argv[0] is the upstream interpreter when it is a python and `python` is unset. */
  command: readonly string[];
  /** The configured target environments' interpreters, by name. */
  environments: Readonly<Record<string, string>>;
  guard: MountGuard;
}

/** `python`, `python3`, `python3.11`: an argv[0] that names an interpreter. */
const PYTHON_NAME = /^python(\d+(\.\d+)?)?$/;
/** How long an interpreter gets to say where it lives. */
const QUERY_TIMEOUT_MS = 20_000;
/** Links followed from a configured interpreter before giving up (the kernel's own limit is 40). */
const MAX_LINKS = 40;

// Standard library only, isolated: where the interpreter's files are and what it is.
const QUERY =
  "import sys, os, json; print(json.dumps({'prefix': sys.prefix, 'base_prefix': sys.base_prefix, 'executable': os.path.realpath(sys.executable), 'version': '%d.%d.%d' % sys.version_info[:3]}))";

const AnswerSchema = z.strictObject({
  prefix: z.string().min(1).max(4096),
  base_prefix: z.string().min(1).max(4096),
  executable: z.string().min(1).max(4096),
  version: z.string().regex(/^\d+\.\d+\.\d+$/),
});
type Answer = z.infer<typeof AnswerSchema>;

/**
 * What a contained upstream sees of the host, computed from the interpreters themselves: each one's
 * sys.prefix, sys.base_prefix and real executable (and every link on the way to it) read-only, the
 * configured extra mounts, the working directory read-write, and nothing else. Every mount is checked
 * twice against the guard — at its path and at its real path — and no writable mount may reach into an
 * environment or hold one, so the code the upstream runs can read the environments but never change them.
 */
export async function planContainedMounts(input: PlanInput): Promise<Result<ContainedPlan>> {
  const { settings, guard } = input;
  const wanted: Array<{ target: string; mode: "ro" | "rw"; why: string; link?: true }> = [];
  const interpreterTrees: Array<{ path: string; why: string }> = [];

  const upstreamPython = settings.python ?? upstreamInterpreter(input.command);
  const interpreters: Array<{ python: string; who: string }> = [
    ...(upstreamPython === undefined ? [] : [{ python: upstreamPython, who: "the upstream interpreter" }]),
    ...Object.entries(input.environments).map(([name, python]) => ({ python, who: `environment ${name}` })),
  ];
  let pythonVersion: string | undefined;
  for (const { python, who } of interpreters) {
    const answer = await askInterpreter(python);
    if (!answer.ok) return { ok: false, error: `${who}: ${answer.error}` };
    pythonVersion ??= answer.value.version;
    const links = await linkChain(python);
    if (!links.ok) return { ok: false, error: `${who}: ${links.error}` };
    for (const [path, what] of [
      [answer.value.prefix, "sys.prefix"],
      [answer.value.base_prefix, "sys.base_prefix"],
      [answer.value.executable, "the interpreter"],
      ...links.value.map((link) => [link, "a link to the interpreter"]),
    ] as const) {
      if (!isAbsolute(path)) return { ok: false, error: `${who}: ${python} reports ${what} as ${path}, which is not an absolute path` };
      const why = `${who} (${what})`;
      const link = what === "a link to the interpreter";
      wanted.push({ target: resolve(path), mode: "ro", why, ...(link ? { link: true as const } : {}) });
      if (!link) interpreterTrees.push({ path: resolve(path), why });
    }
  }
  for (const path of settings.mounts.read_only) wanted.push({ target: path, mode: "ro", why: "upstream.sandbox.mounts.read_only" });
  wanted.push({ target: settings.workdir, mode: "rw", why: "the working directory" });
  for (const path of settings.mounts.read_write) wanted.push({ target: path, mode: "rw", why: "upstream.sandbox.mounts.read_write" });

  const mounts: Located[] = [];
  for (const { link, ...entry } of wanted) {
    let source: string;
    let located: string;
    try {
      source = await realpath(entry.target);
      // A link is shown by whatever mount holds the link file itself; mounted on its own, it is its target's file.
      located = link === true ? join(await realpath(dirname(entry.target)), basename(entry.target)) : source;
    } catch (error) {
      return { ok: false, error: `${entry.why}: ${entry.target} cannot be mounted: ${errorMessage(error)}` };
    }
    for (const path of new Set([entry.target, located, source])) {
      const why = forbiddenMount(path, guard);
      if (why !== undefined) return { ok: false, error: `${entry.why}: ${path}${path === entry.target ? "" : ` (the real path of ${entry.target})`} ${why}` };
    }
    mounts.push({ ...entry, source, located });
  }

  // A writable mount must neither lie in an interpreter's tree nor hold one: the environments stay read-only.
  for (const mount of mounts.filter((m) => m.mode === "rw")) {
    for (const tree of interpreterTrees) {
      for (const [a, b] of [
        [mount.target, tree.path],
        [mount.source, tree.path],
      ] as const) {
        if (within(a, b) || within(b, a)) {
          return {
            ok: false,
            error: `${mount.why}: ${mount.target} is writable in the container and overlaps ${tree.path}, ${tree.why}, which must stay read-only: choose a directory outside every environment`,
          };
        }
      }
    }
  }
  return { ok: true, value: { mounts: dedupe(mounts).map(({ located: _located, ...mount }) => mount), pythonVersion } };
}

/** argv[0] when it names a python: absolute, or found on PATH as a shell would. */
export function upstreamInterpreter(command: readonly string[], path = process.env.PATH ?? ""): string | undefined {
  const program = command[0];
  if (program === undefined || !PYTHON_NAME.test(basename(program))) return undefined;
  if (isAbsolute(program)) return program;
  if (program.includes("/")) return undefined; // relative to pipgate's cwd: too ambiguous to mount
  for (const dir of path.split(delimiter)) {
    if (!isAbsolute(dir)) continue;
    try {
      accessSync(join(dir, program), constants.X_OK);
      return join(dir, program);
    } catch {
      // not here
    }
  }
  return undefined;
}

async function askInterpreter(python: string): Promise<Result<Answer>> {
  const run = await execa(python, ["-I", "-c", QUERY], {
    env: isolatedEnv(),
    extendEnv: false,
    reject: false,
    stdin: "ignore",
    timeout: QUERY_TIMEOUT_MS,
    maxBuffer: 64 * 1024,
  });
  if (run.failed) return { ok: false, error: `cannot ask ${python} where it lives: ${run.stderr.trim().split("\n").pop() || run.shortMessage}` };
  let raw: unknown;
  try {
    raw = JSON.parse(run.stdout);
  } catch (error) {
    return { ok: false, error: `${python} printed something that is not JSON: ${errorMessage(error)}` };
  }
  const parsed = AnswerSchema.safeParse(raw);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, error: `unexpected answer from ${python}: ${parsed.error.message}` };
}

/** Every link between a configured interpreter path and the file it ends at (the path first). */
async function linkChain(python: string): Promise<Result<string[]>> {
  const links: string[] = [];
  let current = resolve(python);
  for (let hop = 0; hop < MAX_LINKS; hop += 1) {
    try {
      if (!(await lstat(current)).isSymbolicLink()) return { ok: true, value: links };
      links.push(current);
      current = resolve(dirname(current), await readlink(current));
    } catch (error) {
      return { ok: false, error: `cannot follow ${current}: ${errorMessage(error)}` };
    }
  }
  return { ok: false, error: `${python} is behind more than ${MAX_LINKS} links` };
}

/**
 * Mounts in the order Docker must make them (parents first). A read-only mount inside another read-only
 * mount that shows the same files adds nothing and is dropped; a read-only mount inside a writable one is
 * kept (it makes that part read-only), and so is a writable one inside a read-only one.
 */
function dedupe(mounts: readonly Located[]): Located[] {
  const sorted = [...mounts].sort((a, b) => depth(a.target) - depth(b.target) || a.target.localeCompare(b.target) || (a.mode === "rw" ? -1 : 1));
  const kept: Located[] = [];
  for (const mount of sorted) {
    const same = kept.find((other) => other.target === mount.target);
    if (same !== undefined) {
      // The same path wanted writable and read-only: read-only wins (fail closed).
      if (same.mode === "rw" && mount.mode === "ro") kept[kept.indexOf(same)] = { ...same, mode: "ro", why: `${same.why}, read-only as ${mount.why} asks` };
      continue;
    }
    const covering = [...kept].reverse().find((other) => within(mount.target, other.target));
    if (mount.mode === "ro" && covering?.mode === "ro" && join(covering.source, relative(covering.target, mount.target)) === mount.located) continue;
    kept.push(mount);
  }
  return kept;
}

function depth(path: string): number {
  return path === "/" ? 0 : path.split("/").length - 1;
}
