import { execa } from "execa";
import { errorMessage, type Result } from "../errors.js";

/**
 * Environment for every Python process pipgate starts on the host: nothing ambient (PIP_*, PYTHON*,
 * a user's pip.conf) may change what pip resolves or installs (DESIGN property 7).
 */
export function isolatedEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    if (key.startsWith("PIP_") || key.startsWith("PYTHON") || key === "VIRTUAL_ENV") continue;
    env[key] = value;
  }
  return { ...env, PIP_CONFIG_FILE: "/dev/null", PYTHONNOUSERSITE: "1", PIP_DISABLE_PIP_VERSION_CHECK: "1", ...extra };
}

/** The full version (e.g. "3.11.7") of an interpreter. */
export async function pythonVersion(python: string): Promise<Result<string>> {
  try {
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
