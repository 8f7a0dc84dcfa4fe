import { execa } from "execa";
import { z } from "zod";
import { errorMessage, type Result } from "../errors.js";
import { normalizeName } from "../requirement/name.js";
import { isolatedEnv } from "./pip-command.js";

// Runs only the standard library in the target interpreter: where pip will write, what is installed,
// and which wheels install outside site-packages (.data/data, .data/headers go under the prefix).
const INSPECT = `
import sys, sysconfig, json, zipfile, importlib.metadata as md
paths = sysconfig.get_paths()
installed = []
for d in md.distributions():
    name = d.metadata["Name"] if d.metadata is not None else None
    if name:
        installed.append({"name": name, "version": d.version, "requires": list(d.requires or [])})
def outside(p):
    with zipfile.ZipFile(p) as z:
        for n in z.namelist():
            parts = n.split("/")
            if len(parts) > 2 and parts[0].endswith(".data") and parts[1] in ("data", "headers"):
                return True
    return False
print(json.dumps({
    "prefix": sys.prefix, "base_prefix": sys.base_prefix,
    "purelib": paths["purelib"], "platlib": paths["platlib"], "scripts": paths["scripts"], "data": paths["data"],
    "installed": installed, "outside": [outside(p) for p in sys.argv[1:]],
}))
`;

const PinSchema = z.object({ name: z.string().min(1), version: z.string().min(1) });
const InstalledSchema = PinSchema.extend({ requires: z.array(z.string()).default([]) });

/** An installed distribution with its Requires-Dist lines: what a new install must not break. */
export type InstalledDist = z.infer<typeof InstalledSchema>;

export const InterpreterInfoSchema = z.object({
  prefix: z.string(),
  base_prefix: z.string(),
  purelib: z.string(),
  platlib: z.string(),
  scripts: z.string(),
  data: z.string(),
  installed: z.array(InstalledSchema),
  outside: z.array(z.boolean()).describe("per wheel: does it install files under the prefix, outside site-packages"),
});
/** What the commit needs to know about a target interpreter before it backs anything up. */
export type InterpreterInfo = z.infer<typeof InterpreterInfoSchema>;

/** Asks the interpreter itself (isolated) for its install paths and installed distributions. */
export async function inspectInterpreter(python: string, wheelFiles: readonly string[] = []): Promise<Result<InterpreterInfo>> {
  const run = await execa(python, ["-I", "-c", INSPECT, ...wheelFiles], {
    env: isolatedEnv(process.env),
    extendEnv: false,
    reject: false,
    stdin: "ignore",
  });
  if (run.failed) return { ok: false, error: `cannot inspect ${python}: ${lastLine(run.stderr) || run.shortMessage}` };
  return parseJson(run.stdout, InterpreterInfoSchema, python);
}

/**
 * What an environment holds, as its interpreter's importlib.metadata sees it (what pip itself reads):
 * one interpreter start, not pip's start-up, on every install request.
 */
export async function listInstalled(python: string): Promise<Result<InstalledDist[]>> {
  const info = await inspectInterpreter(python);
  if (!info.ok) return info;
  const seen = new Set<string>();
  const pins: InstalledDist[] = [];
  for (const { name, version, requires } of info.value.installed) {
    const key = normalizeName(name);
    if (seen.has(key)) continue; // the first on sys.path wins, as for pip
    seen.add(key);
    pins.push({ name, version, requires });
  }
  return { ok: true, value: pins };
}

function parseJson<T>(text: string, schema: z.ZodType<T>, python: string): Result<T> {
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
