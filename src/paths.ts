import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The package's root directory, found from this module's own location, so that data files and the
 * sandbox runtime are found alike when running from src/ (tests) or dist/src/ (the installed CLI).
 */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("pipgate: cannot find its package root (no package.json above its modules)");
    dir = up;
  }
  return dir;
}

/** sandbox/runtime: the forwarder and driver, mounted read-only into every sandbox container. */
export function runtimeDir(): string {
  return join(packageRoot(), "sandbox", "runtime");
}
