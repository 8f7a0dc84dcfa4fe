import { copyFile, link, rm } from "node:fs/promises";
import { basename, join } from "node:path";
import { errorMessage } from "../errors.js";
import type { Logger } from "../log.js";
import { createOwnedDir } from "../state/leftovers.js";
import { makeEntry, MAKING_PREFIX, type StoreWheel } from "./store-build.js";
import { storeKey, type StoreInterpreter } from "./store-manifest.js";

/*
 * The first install of a wheel need not wait for its store entry. The commit installs a cold wheel
 * directly (unpacked and byte-compiled into the venv, as before the store) and hands the wheel here;
 * its entry is made afterwards, one at a time, off every request's path, so the next install of the
 * same wheel links. Crash-safe as entries always are: the wheel is kept (a hardlink of the staged,
 * hash-checked copy) in a private directory under store/tmp, swept at start-up when its broker is
 * dead, and makeEntry re-hashes it, builds in a private directory and renames the entry in whole.
 */

export interface StoreBuilder {
  /**
   * Keeps `wheel` (the staged copy, removed after the commit) and queues its entry; resolves once the
   * file is kept, not once the entry is made. A wheel already queued, or a full queue, is skipped: the
   * next install of it then makes the entry itself.
   */
  defer(storeDir: string, wheel: StoreWheel, python: string, interpreter: StoreInterpreter): Promise<void>;
  /** Resolves once every queued entry is made (or failed): for tests and the bench. */
  idle(): Promise<void>;
}

/** Wheels waiting for their entry, at most: each holds a hardlink of a wheel on the state's disk. */
const MAX_PENDING = 32;

export function createStoreBuilder(log: Logger, maxPending: number = MAX_PENDING): StoreBuilder {
  const pending = new Set<string>();
  let chain: Promise<void> = Promise.resolve();

  async function keep(storeDir: string, wheel: StoreWheel): Promise<{ dir: string; file: string }> {
    const dir = await createOwnedDir(join(storeDir, "tmp"), MAKING_PREFIX);
    const file = join(dir, basename(wheel.file));
    try {
      await link(wheel.file, file);
    } catch {
      await copyFile(wheel.file, file);
    }
    return { dir, file };
  }

  return {
    async defer(storeDir, wheel, python, interpreter) {
      const key = storeKey(wheel.sha256, interpreter);
      if (pending.has(key) || pending.size >= maxPending) return;
      pending.add(key);
      let kept: { dir: string; file: string };
      try {
        kept = await keep(storeDir, wheel);
      } catch (error) {
        pending.delete(key);
        log.warn({ err: errorMessage(error), wheel: basename(wheel.file) }, "could not keep a wheel for its store entry; its next install makes it");
        return;
      }
      chain = chain
        .then(async () => {
          try {
            const made = await makeEntry(storeDir, key, { file: kept.file, sha256: wheel.sha256 }, python, interpreter);
            if (!made.ok) log.warn({ err: made.error }, "could not make a store entry after a direct install; its next install makes it");
          } finally {
            await rm(kept.dir, { recursive: true, force: true });
            pending.delete(key);
          }
        })
        .catch((error: unknown) => log.warn({ err: errorMessage(error) }, "a store entry's background build failed"));
    },
    async idle() {
      let before: Promise<void> | undefined;
      while (before !== chain) {
        before = chain;
        await chain;
      }
    },
  };
}
