import { join } from "node:path";
import { execa } from "execa";
import { pythonVersion } from "../config/python.js";
import { packageRoot } from "../paths.js";
import { imageFor, pythonMinor } from "../sandbox/spec.js";
import { CliError, EXIT, parseCli, requireConfig, type CommandHelp, type Subcommand } from "./common.js";

const USAGE = "usage: pipgate sandbox build-image [--config FILE] [--python 3.X]";

export const sandboxHelp: CommandHelp = {
  usage: `${USAGE}\n  build the sandbox image each environment's Python needs (--python: just that minor version)\n`,
  actions: { "build-image": `${USAGE}\n  build the sandbox image each environment's Python needs (--python: just that minor version)\n` },
};

/**
 * `pipgate sandbox build-image`: builds the image each environment's Python needs. Without a registry
 * the image comes from debootstrap (Debian bookworm, Python 3.11); an environment on another minor
 * version is refused with what to do instead.
 */
export const sandbox: Subcommand = async (argv, io) => {
  const [action, ...rest] = argv;
  if (action !== "build-image") throw new CliError(USAGE);
  const { values } = parseCli(rest, { python: { type: "string" } }, false);
  let minors: string[];
  let configured: string | undefined;
  if (values.python !== undefined) {
    minors = [values.python];
  } else {
    const config = requireConfig(values.config);
    configured = config.sandbox.image;
    const found = new Set<string>();
    for (const [name, env] of Object.entries(config.environments)) {
      const version = await pythonVersion(env.python);
      if (!version.ok) throw new CliError(`environment ${name}: ${version.error}`, EXIT.failure);
      found.add(pythonMinor(version.value));
    }
    minors = [...found];
  }
  const script = join(packageRoot(), "sandbox", "build-image.sh");
  let failed = false;
  for (const minor of minors) {
    const tag = imageFor(`${minor}.0`, configured);
    io.stderr(`building ${tag} for Python ${minor}\n`);
    const result = await execa("bash", [script, "--expect-python", minor, "--tag", tag], { reject: false, stdout: "pipe", stderr: "inherit" });
    if (result.exitCode === 3) {
      io.stderr(
        `cannot build a sandbox for Python ${minor}: this host builds images from Debian bookworm, which carries Python 3.11. ` +
          `Use an environment on Python 3.11, or build sandbox/Dockerfile with --build-arg PYTHON=${minor} where a registry is reachable.\n`,
      );
      failed = true;
    } else if (result.exitCode !== 0) {
      io.stderr(`building ${tag} failed (exit ${String(result.exitCode)})\n`);
      failed = true;
    } else {
      io.stdout(`${String(result.stdout).trim()}\n`);
    }
  }
  return failed ? EXIT.failure : EXIT.ok;
};
