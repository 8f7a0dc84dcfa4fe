import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { errorMessage, type Result } from "../../errors.js";

/**
 * Reads a file that came out of a sandbox: without following a link, without blocking on a FIFO or a
 * device (O_NONBLOCK), only if the opened file is a regular one, and only up to `maxBytes` — checked on
 * the descriptor, so what is checked is what is read.
 */
export async function readBounded(path: string, maxBytes: number): Promise<Result<Buffer>> {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    return { ok: false, error: `cannot open ${path}: ${errorMessage(error)}` };
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) return { ok: false, error: `${path} is not a regular file` };
    if (stat.size > maxBytes) return { ok: false, error: `${path} is ${stat.size} bytes, more than the ${maxBytes} allowed` };
    const buffer = Buffer.alloc(stat.size);
    let filled = 0;
    while (filled < stat.size) {
      const { bytesRead } = await handle.read(buffer, filled, stat.size - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return { ok: true, value: buffer.subarray(0, filled) };
  } catch (error) {
    return { ok: false, error: `cannot read ${path}: ${errorMessage(error)}` };
  } finally {
    await handle.close();
  }
}
