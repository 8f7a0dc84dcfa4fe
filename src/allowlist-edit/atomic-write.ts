import { randomBytes } from "node:crypto";
import { closeSync, fchmodSync, fsyncSync, openSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { errorMessage, type Result } from "../errors.js";

/** The real file behind a path (an allowlist may be a symlink into a shared checkout: edit its target, keep the link). */
export function realFile(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/**
 * Replaces a file's contents all at once: a temporary file in the same directory, flushed, then renamed
 * over the original. A server reloading the allowlist sees the old bytes or the new ones, never half.
 * `expected` is what the file held when the edit began; if someone else changed it since, nothing is written.
 */
export function writeAtomically(path: string, text: string, expected?: string): Result<void> {
  const target = realFile(path);
  let mode = 0o644;
  try {
    mode = statSync(target).mode & 0o7777;
    if (expected !== undefined && readFileSync(target, "utf8") !== expected) {
      return { ok: false, error: `${path} changed while it was being edited; nothing written, run the command again` };
    }
  } catch {
    if (expected !== undefined && expected !== "") return { ok: false, error: `${path} disappeared while it was being edited; nothing written` };
  }
  const temp = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    const fd = openSync(temp, "wx", mode);
    try {
      fchmodSync(fd, mode);
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, target);
    return { ok: true, value: undefined };
  } catch (error) {
    rmSync(temp, { force: true });
    return { ok: false, error: `cannot write ${path}: ${errorMessage(error)}` };
  }
}
