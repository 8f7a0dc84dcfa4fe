import { errorMessage, type Result } from "../errors.js";

/**
 * The environment for every Python process pipgate starts on the host (DESIGN property 7): no PIP_*,
 * PYTHON* or VIRTUAL_ENV variable survives, pip's config file is /dev/null and the user site is off, so
 * neither a pip.conf nor an exported index URL can widen or change what gets resolved or installed.
 */
export function isolatedEnv(ambient: Readonly<Record<string, string | undefined>> = process.env): Record<string, string> {
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

/** The full version (e.g. "3.11.7") of an interpreter. */
export async function pythonVersion(python: string): Promise<Result<string>> {
  try {
    // loaded on first use, not at import: commands that never run the interpreter skip it
    const { execa } = await import("execa");
    const { stdout } = await execa(python, ["-I", "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"], {
      env: isolatedEnv(),
      extendEnv: false,
      timeout: 20_000,
    });
    return { ok: true, value: stdout.trim() };
  } catch (error) {
    return { ok: false, error: `cannot run the environment's interpreter ${python}: ${errorMessage(error)}` };
  }
}

/** An interpreter's sys.prefix: the venv it belongs to, however its path is spelt. */
export async function pythonPrefix(python: string): Promise<Result<string>> {
  try {
    const { execa } = await import("execa");
    const { stdout } = await execa(python, ["-I", "-c", "import sys; print(sys.prefix)"], { env: isolatedEnv(), extendEnv: false, timeout: 20_000 });
    return { ok: true, value: stdout.trim() };
  } catch (error) {
    return { ok: false, error: `cannot run the interpreter ${python}: ${errorMessage(error)}` };
  }
}
