import { z } from "zod";
import { errorMessage, type Result } from "../errors.js";
import { MARKER_VARIABLES, type MarkerEnvironment } from "../requirement/marker.js";
import { normalizeName } from "../requirement/name.js";
import { isolatedEnv } from "./pip-command.js";

// Runs only the standard library in the target interpreter: where pip will write, what is installed,
// its PEP 508 marker values (as packaging's default_environment() computes them), and for each wheel
// given: whether it installs outside site-packages (.data/data, .data/headers go under the prefix),
// its Requires-Dist, and which of the files it would write another distribution's RECORD owns.
const INSPECT_FUNCTION = `
import sys, os, re, platform, sysconfig, json, zipfile, configparser, email.parser, importlib.metadata as md, importlib.util
def inspect(wheels):
    paths = sysconfig.get_paths()
    def norm(name):
        return re.sub(r"[-_.]+", "-", name).lower()
    def full_version(info):
        v = "%d.%d.%d" % (info.major, info.minor, info.micro)
        return v if info.releaselevel == "final" else v + info.releaselevel[0] + str(info.serial)
    markers = {
        "implementation_name": sys.implementation.name,
        "implementation_version": full_version(sys.implementation.version),
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }
    dists = []
    installed = []
    for d in md.distributions():
        name = d.metadata["Name"] if d.metadata is not None else None
        if name:
            dists.append((name, d))
            installed.append({"name": name, "version": d.version, "requires": list(d.requires or [])})
    def outside(p):
        with zipfile.ZipFile(p) as z:
            for n in z.namelist():
                parts = n.split("/")
                if len(parts) > 2 and parts[0].endswith(".data") and parts[1] in ("data", "headers"):
                    return True
        return False
    def targets(z):
        names = [n for n in z.namelist() if not n.endswith("/")]
        info = next(n.split("/")[0] for n in names if n.count("/") == 1 and n.endswith(".dist-info/WHEEL"))
        meta = email.parser.HeaderParser().parsestr(z.read(info + "/METADATA").decode("utf-8"))
        purelib = re.search(r"^Root-Is-Purelib:[ \\t]*true[ \\t]*$", z.read(info + "/WHEEL").decode("utf-8"), re.I | re.M)
        lib = paths["purelib"] if purelib else paths["platlib"]
        data = info[: -len(".dist-info")] + ".data"
        out = []
        for n in names:
            parts = n.split("/")
            if parts[0] != data:
                out.append(os.path.join(lib, *parts))
            elif len(parts) > 2 and parts[1] in ("purelib", "platlib", "scripts", "data"):
                out.append(os.path.join(paths[parts[1]], *parts[2:]))
        if info + "/entry_points.txt" in names:
            ep = configparser.ConfigParser(delimiters=("=",), interpolation=None)
            ep.optionxform = str
            ep.read_string(z.read(info + "/entry_points.txt").decode("utf-8"))
            for section in ("console_scripts", "gui_scripts"):
                if ep.has_section(section):
                    out.extend(os.path.join(paths["scripts"], k) for k in ep.options(section))
        return list(meta.get_all("Requires-Dist") or []), out
    incoming = []
    if wheels:
        read = []
        for p in wheels:
            with zipfile.ZipFile(p) as z:
                read.append(targets(z))
        # Only a file on disk can be overwritten: when none of the targets exists (a new distribution),
        # no RECORD needs reading, so the check costs what the install writes, not what the venv holds.
        owners = {}
        if any(os.path.lexists(t) for _, files in read for t in files):
            seen = set()
            for name, d in dists:
                if norm(name) in seen:
                    continue
                seen.add(norm(name))
                for f in d.files or []:
                    owners.setdefault(os.path.normpath(str(d.locate_file(f))), (name, d.version))
        claimed = {}
        for p, (requires, files) in zip(wheels, read):
            mine = norm(os.path.basename(p).split("-")[0])
            clashes = []
            for t in files:
                t = os.path.normpath(t)
                owner = owners.get(t)
                if owner is not None and norm(owner[0]) != mine:
                    clashes.append({"path": t, "owner": owner[0], "owner_version": owner[1]})
                other = claimed.setdefault(t, mine)
                if other != mine:
                    clashes.append({"path": t, "owner": other, "owner_version": None})
            incoming.append({"requires": requires, "clashes": clashes[:20]})
    return {
        "prefix": sys.prefix, "base_prefix": sys.base_prefix, "cache_tag": sys.implementation.cache_tag,
        "magic": importlib.util.MAGIC_NUMBER.hex(),
        "purelib": paths["purelib"], "platlib": paths["platlib"], "scripts": paths["scripts"], "data": paths["data"],
        "installed": installed, "outside": [outside(p) for p in wheels], "markers": markers, "incoming": incoming,
    }
`;

/** One inspection, of the wheels named on the command line. */
const INSPECT = `${INSPECT_FUNCTION}
print(json.dumps(inspect(sys.argv[1:])))
`;

// A broker that stays up keeps one inspector per interpreter (inspector.ts): one inspection per line of
// stdin (a JSON list of wheel files), answered by one line. Each starts from what a fresh interpreter
// would see: the path finders' caches are dropped first, and when a .pth file of site-packages has
// changed since the inspector started (which a new interpreter would have read), it answers "restart"
// and exits instead. It ends with its stdin, so it never outlives its broker.
export const INSPECT_WORKER = `${INSPECT_FUNCTION}
def pth_files():
    seen = []
    for d in sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}):
        try:
            names = sorted(n for n in os.listdir(d) if n.endswith(".pth"))
        except OSError:
            continue
        for n in names:
            try:
                st = os.stat(os.path.join(d, n))
                seen.append((d, n, st.st_mtime_ns, st.st_size, st.st_ino))
            except OSError:
                seen.append((d, n))
    return seen
started = pth_files()
for line in sys.stdin:
    if pth_files() != started:
        print(json.dumps({"restart": True}), flush=True)
        break
    importlib.invalidate_caches()
    # importlib.metadata keeps each path entry's listing (FastPath, cached per entry where it exists).
    clear = getattr(getattr(getattr(md, "FastPath", None), "__new__", None), "cache_clear", None)
    if clear is not None:
        clear()
    try:
        answer = {"ok": inspect(json.loads(line))}
    except Exception as error:
        answer = {"error": "%s: %s" % (type(error).__name__, error)}
    print(json.dumps(answer), flush=True)
`;

const MarkerEnvironmentSchema = z.object(
  Object.fromEntries(MARKER_VARIABLES.map((name) => [name, z.string()])) as Record<(typeof MARKER_VARIABLES)[number], z.ZodString>,
) satisfies z.ZodType<MarkerEnvironment>;

const PinSchema = z.object({ name: z.string().min(1), version: z.string().min(1) });
const InstalledSchema = PinSchema.extend({ requires: z.array(z.string()).default([]) });

/** An installed distribution with its Requires-Dist lines: what a new install must not break. */
export type InstalledDist = z.infer<typeof InstalledSchema>;

export const InterpreterInfoSchema = z.object({
  prefix: z.string(),
  base_prefix: z.string(),
  cache_tag: z.string().nullable().describe("names its byte-compiled files: __pycache__/{stem}.{cache_tag}.pyc"),
  magic: z
    .string()
    .regex(/^[0-9a-f]{2,32}$/)
    .describe("the bytecode magic number: with the cache tag, what a .pyc must be made for"),
  purelib: z.string(),
  platlib: z.string(),
  scripts: z.string(),
  data: z.string(),
  installed: z.array(InstalledSchema),
  outside: z.array(z.boolean()).describe("per wheel: does it install files under the prefix, outside site-packages"),
  markers: MarkerEnvironmentSchema,
  incoming: z
    .array(
      z.object({
        requires: z.array(z.string()).describe("the wheel's Requires-Dist"),
        clashes: z
          .array(z.object({ path: z.string(), owner: z.string(), owner_version: z.string().nullable() }))
          .describe("files it would write that another distribution owns (owner_version null: another wheel of this install)"),
      }),
    )
    .describe("per wheel given, in order"),
});
/** What the commit needs to know about a target interpreter before it backs anything up. */
export type InterpreterInfo = z.infer<typeof InterpreterInfoSchema>;

/** Asks the interpreter itself (isolated) for its install paths and installed distributions. */
export async function inspectInterpreter(python: string, wheelFiles: readonly string[] = [], inspector?: Inspector): Promise<Result<InterpreterInfo>> {
  if (inspector !== undefined) return inspector.inspect(python, wheelFiles);
  return inspectOnce(python, wheelFiles);
}

/** What answers inspections from an interpreter that is already running (inspector.ts). */
export interface Inspector {
  inspect(python: string, wheelFiles: readonly string[]): Promise<Result<InterpreterInfo>>;
  close(): void;
}

/** One interpreter start for one inspection: the reference an inspector falls back to. */
export async function inspectOnce(python: string, wheelFiles: readonly string[] = []): Promise<Result<InterpreterInfo>> {
  const { execa } = await import("execa"); // on first use: start-up (pipgate install) does not load it
  const run = await execa(python, ["-I", "-c", INSPECT, ...wheelFiles], {
    env: isolatedEnv(process.env),
    extendEnv: false,
    reject: false,
    stdin: "ignore",
  });
  if (run.failed) return { ok: false, error: `cannot inspect ${python}: ${lastLine(run.stderr) || run.shortMessage}` };
  return parseJson(run.stdout, InterpreterInfoSchema, python);
}

/** What an environment holds and what its markers say: what a new install is checked against. */
export interface EnvironmentState {
  installed: InstalledDist[];
  markers: MarkerEnvironment;
}

/**
 * What an environment holds, as its interpreter's importlib.metadata sees it (what pip itself reads),
 * with its marker values: one interpreter start, not pip's start-up, on every install request.
 */
export async function inspectEnvironment(python: string, inspector?: Inspector): Promise<Result<EnvironmentState>> {
  const info = await inspectInterpreter(python, [], inspector);
  if (!info.ok) return info;
  return { ok: true, value: { installed: firstOnPath(info.value.installed), markers: info.value.markers } };
}

/** The installed distributions as listInstalled reports them. */
export async function listInstalled(python: string): Promise<Result<InstalledDist[]>> {
  const state = await inspectEnvironment(python);
  return state.ok ? { ok: true, value: state.value.installed } : state;
}

/** One entry per project: the first on sys.path wins, as for pip and importlib. */
export function firstOnPath(installed: readonly InstalledDist[]): InstalledDist[] {
  const seen = new Set<string>();
  const pins: InstalledDist[] = [];
  for (const { name, version, requires } of installed) {
    const key = normalizeName(name);
    if (seen.has(key)) continue;
    seen.add(key);
    pins.push({ name, version, requires });
  }
  return pins;
}

export function parseJson<T>(text: string, schema: z.ZodType<T>, python: string): Result<T> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: `${python} printed something that is not JSON: ${errorMessage(error)}` };
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) return { ok: false, error: `unexpected answer from ${python}: ${parsed.error.message}` };
  return { ok: true, value: parsed.data };
}

/** The line of a failing process's stderr that usually says why. */
export function lastLine(text: string): string {
  const lines = text.trim().split("\n");
  return (lines[lines.length - 1] ?? "").trim();
}
