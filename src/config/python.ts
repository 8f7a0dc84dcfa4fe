import { execFile } from "node:child_process";
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

/** An interpreter's answer is one short line; anything longer is not an answer (and is not buffered). */
const ANSWER_MAX_BYTES = 64 * 1024;
const PROBE_TIMEOUT_MS = 20_000;

/**
 * Runs `python -I -c code` in the isolated environment and resolves with its trimmed stdout. Plain
 * node:child_process, not execa: this probe runs before `pipgate install`'s first stage, and execa
 * with its dependencies is some 130 modules to load.
 */
function askInterpreter(python: string, code: string): Promise<Result<string>> {
  return new Promise((resolve) => {
    execFile(
      python,
      ["-I", "-c", code],
      { env: isolatedEnv(), timeout: PROBE_TIMEOUT_MS, maxBuffer: ANSWER_MAX_BYTES, encoding: "utf8", windowsHide: true },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve({ ok: true, value: stdout.trim() });
          return;
        }
        const said = stderr.trim().split("\n").slice(-3).join(" | ").slice(0, 500);
        resolve({ ok: false, error: `${errorMessage(error)}${said === "" || errorMessage(error).includes(said) ? "" : `: ${said}`}` });
      },
    );
  });
}

/** The full version (e.g. "3.11.7") of an interpreter. */
export async function pythonVersion(python: string): Promise<Result<string>> {
  const answer = await askInterpreter(python, "import sys; print('%d.%d.%d' % sys.version_info[:3])");
  return answer.ok ? answer : { ok: false, error: `cannot run the environment's interpreter ${python}: ${answer.error}` };
}

/** An interpreter's sys.prefix: the venv it belongs to, however its path is spelt. */
export async function pythonPrefix(python: string): Promise<Result<string>> {
  const answer = await askInterpreter(python, "import sys; print(sys.prefix)");
  return answer.ok ? answer : { ok: false, error: `cannot run the interpreter ${python}: ${answer.error}` };
}
