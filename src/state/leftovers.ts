import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { currentProcess, isProcessAlive, parseProcessTag, processTag } from "./process.js";

/*
 * Scratch directories a request makes (the sandbox's upload directory, the proxy's socket directory, a
 * commit's staging) carry their owner in their name — `PREFIX-PID.START-…` — so a directory left by a
 * process that died is recognised and removed at the next start, and one of a live process (another
 * broker on the same state directory) never is. The owner is in the name, not in a file inside, so there
 * is no moment at which a fresh directory looks ownerless.
 */

/** A fresh private directory under `parent` named for this process. */
export async function createOwnedDir(parent: string, prefix: string): Promise<string> {
  await mkdir(parent, { recursive: true });
  return mkdtemp(join(parent, `${prefix}-${processTag(await currentProcess())}-`));
}

/** Removes every `prefix-` directory under `parent` whose owner process is gone; returns their paths. */
export async function sweepOwnedDirs(parent: string, prefix: string): Promise<string[]> {
  const names = await readdir(parent).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(`${prefix}-`)) continue;
    const tag = name.slice(prefix.length + 1).split("-")[0] ?? "";
    const owner = parseProcessTag(tag);
    if (owner !== undefined && (await isProcessAlive(owner))) continue;
    const path = join(parent, name);
    await rm(path, { recursive: true, force: true });
    removed.push(path);
  }
  return removed;
}
