import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { resolve } from "node:path";
import { lintUnused, type LintFinding } from "../allowlist-edit/lint.js";
import { LOCK_LIMITS, parseLockFile } from "../allowlist-edit/lock-file.js";
import { formatSync, pinsFromLock, planSync } from "../allowlist-edit/sync.js";
import { pinsFromEnvironment, type SourcePin } from "../allowlist-edit/venv-pins.js";
import { inspectEnvironment, type EnvironmentState } from "../commit/interpreter.js";
import { errorMessage, type Result } from "../errors.js";
import { CliError, EXIT, parseCli, requireConfig, type CliIo } from "./common.js";

// The allowlist commands that read a venv or a lock file: `sync`, and the venv half of `lint`.

export const SYNC_USAGE =
  "usage: pipgate allowlist sync --from-venv PY | --from-lock FILE [--dry-run] [--json] [--env ENV | --file FILE] [--config FILE]\n" +
  "  makes the allowlist's pins match what the venv's interpreter PY has installed, or a lock file (name==version\n" +
  "  lines with optional --hash=sha256: options, as pip-compile and pip freeze write them; any other line is refused);\n" +
  "  adds missing projects and updates pins that do not admit the version, each with a comment saying where it came\n" +
  "  from; keeps ranges that already admit it; removes nothing (lint --unused finds what nothing needs).\n" +
  "  Prints the change of every pin (+ added, ~ updated, = kept); --dry-run writes nothing; --json prints\n" +
  "  { file, source, dry_run, written, changes: [{ name, action, previous, specifier, comment }] }";

/** What allowlist.ts already knows how to do with the target file; passed in so this module does not import it back. */
export interface AllowlistFileOps {
  targetFile(values: { config: string; env?: string | undefined; file?: string | undefined }): string;
  readText(path: string, missingAsEmpty?: boolean): string;
  commit(path: string, before: string, after: string, io: CliIo): boolean;
}

const TARGET = { env: { type: "string" }, file: { type: "string" } } as const;

/** `pipgate allowlist sync`: the allowlist follows a venv or a lock file, in one atomic write. */
export async function syncAllowlist(argv: string[], io: CliIo, ops: AllowlistFileOps): Promise<number> {
  const { values, positionals } = parseCli(argv, {
    ...TARGET,
    "from-venv": { type: "string" },
    "from-lock": { type: "string" },
    "dry-run": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  });
  if (positionals.length > 0) throw new CliError(SYNC_USAGE);
  const fromVenv = values["from-venv"];
  const fromLock = values["from-lock"];
  if ((fromVenv === undefined) === (fromLock === undefined)) throw new CliError(`give exactly one of --from-venv PY and --from-lock FILE\n${SYNC_USAGE}`);
  const path = ops.targetFile(values);

  let pins: SourcePin[];
  let source: { kind: "venv" | "lock"; path: string };
  if (fromVenv !== undefined) {
    const python = resolve(fromVenv);
    const state = await inspectEnvironment(python);
    if (!state.ok) throw new CliError(state.error, EXIT.failure);
    const found = pinsFromEnvironment(state.value, python);
    for (const skipped of found.skipped) io.stderr(`warning: ${python} has ${skipped}, which an allowlist cannot pin; skipped\n`);
    pins = found.pins;
    source = { kind: "venv", path: python };
  } else {
    const file = fromLock ?? "";
    const text = readBounded(resolve(file), LOCK_LIMITS.maxBytes);
    if (!text.ok) throw new CliError(text.error, EXIT.failure);
    const lock = parseLockFile(text.value);
    if (!lock.ok) {
      for (const error of lock.errors) io.stderr(`${file}:${error.line}: ${error.message}\n`);
      io.stderr(`nothing written: ${lock.errors.length} line(s) of ${file} are not plain pinned requirements\n`);
      return EXIT.failure;
    }
    pins = pinsFromLock(lock.pins, file);
    source = { kind: "lock", path: resolve(file) };
  }

  const before = ops.readText(path, true);
  const plan = planSync(before, pins);
  if (!plan.ok) {
    io.stderr(`${plan.errors.join("\n")}\nnothing written\n`);
    return EXIT.failure;
  }
  const dryRun = values["dry-run"];
  const changed = plan.text !== before;
  if (changed && !dryRun && !ops.commit(path, before, plan.text, io)) return EXIT.failure;
  const written = changed && !dryRun;
  if (values.json) {
    io.stdout(`${JSON.stringify({ file: path, source, dry_run: dryRun, written, changes: plan.changes }, null, 2)}\n`);
    return EXIT.ok;
  }
  const outcome = !changed ? `${path} already matches; nothing written` : dryRun ? `dry run: ${path} not written` : `wrote ${path}`;
  io.stdout(`${formatSync(plan.changes)}${outcome}\n`);
  return EXIT.ok;
}

/**
 * The interpreter `lint --unused` reads: `--venv PY`, else the environment's own (from pipgate.yaml),
 * which a `--file` target does not have.
 */
export function lintPython(values: { config: string; env?: string | undefined; file?: string | undefined; venv?: string | undefined }): string {
  if (values.venv !== undefined) return resolve(values.venv);
  if (values.file !== undefined) throw new CliError("lint --unused with --file needs --venv PY: the interpreter of the venv the allowlist is for");
  const config = requireConfig(values.config);
  const name = values.env ?? "default";
  const env = Object.hasOwn(config.environments, name) ? config.environments[name] : undefined;
  if (env === undefined) throw new CliError(`no environment named ${JSON.stringify(name)} in ${config.file}`);
  return env.python;
}

/** The `unused` findings of an allowlist against what a venv holds; a venv that cannot be read is an error, not a clean bill. */
export async function unusedFindings(text: string, python: string): Promise<LintFinding[]> {
  const state: Result<EnvironmentState> = await inspectEnvironment(python);
  if (!state.ok) throw new CliError(`--unused needs the venv: ${state.error}`, EXIT.failure);
  return lintUnused(text, state.value, python);
}

/** Reads a file of at most `max` bytes without reading more than that (a lock file is outside input). */
function readBounded(path: string, max: number): Result<string> {
  let fd: number | undefined;
  try {
    // non-blocking, so a FIFO in place of the file cannot hang the command before fstat refuses it
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const stat = fstatSync(fd);
    if (!stat.isFile()) return { ok: false, error: `${path} is not a regular file` };
    if (stat.size > max) return { ok: false, error: `${path} is larger than ${max} bytes; a lock file is not that big` };
    const buffer = Buffer.alloc(stat.size);
    let read = 0;
    while (read < stat.size) {
      const n = readSync(fd, buffer, read, stat.size - read, read);
      if (n === 0) break;
      read += n;
    }
    return { ok: true, value: buffer.subarray(0, read).toString("utf8") };
  } catch (error) {
    return { ok: false, error: `cannot read ${path}: ${errorMessage(error)}` };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
