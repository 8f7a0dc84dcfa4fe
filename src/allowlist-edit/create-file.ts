import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, linkSync, openSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { errorMessage, type Result } from "../errors.js";

/**
 * Creates a file that must not exist yet, all at once: the bytes go to a temporary file in the same
 * directory, flushed, then hard-linked to the name. The link fails if the name exists (even if it
 * appeared a moment ago), so nothing is ever overwritten, and a reader sees no file or the whole file.
 */
export function createAtomically(path: string, text: string, mode = 0o644): Result<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    const fd = openSync(temp, "wx", mode);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    linkSync(temp, path);
    return { ok: true, value: undefined };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return { ok: false, error: `${path} exists; nothing was overwritten (--force replaces it)` };
    return { ok: false, error: `cannot write ${path}: ${errorMessage(error)}` };
  } finally {
    rmSync(temp, { force: true });
  }
}
