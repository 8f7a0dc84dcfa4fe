import { isAbsolute, normalize } from "node:path";

/** An environment as the upstream names it: mcp-python-interpreter's list_python_environments. */
export interface UpstreamEnvironment {
  name: string;
  path: string;
}

const MAX_ENVIRONMENTS = 256;
const MAX_FIELD = 4096;

/**
 * What an upstream's list_python_environments said, read leniently and bounded (its text is the
 * upstream's): a JSON array of `{ name, path }`, or the interpreter server's text form of `- Name: N`
 * lines each followed by `  Path: P`. Anything else yields nothing.
 */
export function parseUpstreamEnvironments(text: string): UpstreamEnvironment[] {
  const bounded = text.slice(0, 1024 * 1024);
  const found: UpstreamEnvironment[] = [];
  const keep = (name: unknown, path: unknown) => {
    if (typeof name !== "string" || typeof path !== "string" || name === "" || path === "") return;
    if (name.length > MAX_FIELD || path.length > MAX_FIELD || found.length >= MAX_ENVIRONMENTS) return;
    found.push({ name, path });
  };
  try {
    const parsed: unknown = JSON.parse(bounded);
    if (Array.isArray(parsed)) {
      for (const entry of parsed)
        if (typeof entry === "object" && entry !== null) keep((entry as Record<string, unknown>).name, (entry as Record<string, unknown>).path);
      return found;
    }
  } catch {
    // the text form
  }
  let name: string | undefined;
  for (const line of bounded.split("\n")) {
    const named = /^\s*-\s*Name:\s*(.+?)\s*$/.exec(line);
    if (named !== null) {
      name = named[1];
      continue;
    }
    const path = /^\s*Path:\s*(.+?)\s*$/.exec(line);
    if (path !== null && name !== undefined) {
      keep(name, path[1]);
      name = undefined;
    }
  }
  return found;
}

/**
 * Where pipgate's environments and the upstream's names disagree, so that an install pipgate commits to
 * `default` would not be what the upstream's `run_python_code(environment="default")` imports. `prefixOf`
 * asks an interpreter for its sys.prefix, to tell two spellings of one venv from two venvs.
 */
export async function environmentMismatches(
  pipgate: Readonly<Record<string, string>>,
  upstream: readonly UpstreamEnvironment[],
  prefixOf: (python: string) => Promise<string | undefined>,
): Promise<string[]> {
  const problems: string[] = [];
  const theirs = new Map(upstream.map((env) => [env.name, env.path]));
  for (const [name, python] of Object.entries(pipgate)) {
    const path = theirs.get(name);
    if (path === undefined) {
      const fallback =
        name === "default" ? ` (the interpreter server then runs "default" as "system", its own interpreter: start it with --python-path ${python})` : "";
      problems.push(
        `pipgate's environment ${JSON.stringify(name)} is not one the upstream names${fallback}; upstream names: ${[...theirs.keys()].join(", ") || "none"}`,
      );
      continue;
    }
    if (isAbsolute(path) && normalize(path) === normalize(python)) continue;
    const [mine, other] = await Promise.all([prefixOf(python), isAbsolute(path) ? prefixOf(path) : Promise.resolve(undefined)]);
    if (mine !== undefined && mine === other) continue;
    problems.push(
      `${JSON.stringify(name)} is ${python} in pipgate.yaml but ${path} in the upstream: what pipgate installs into ${name} is not what the upstream imports; give both the same interpreter`,
    );
  }
  return problems;
}
