import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export { capture } from "../support/cli-io.js";

/**
 * An allowlist the way maintainers write them: comments everywhere, odd spacing, quote styles mixed,
 * blank lines, a comment block above entries. Every byte of it must survive an edit elsewhere.
 */
export const COMMENTED = `# Allowlist for the default environment.
# Reviewed by the platform team; see CONTRIBUTING.md.

packages:
  # --- web ---
  requests: ">=2.31,<3"     # http client
  Foo_Bar: '*'
  numpy:   "==1.26.4"   # pinned: ABI

  # --- tooling ---
  zope.interface: ~

# Never these, whatever else says.
deny:
  - evil-pkg   # typosquat
rules:
  min_release_age_days: 3     # cooldown
  wheels_only: true
`;

export interface TempDir {
  dir: string;
  file(name: string, text: string): string;
  remove(): void;
}

export function tempDir(): TempDir {
  const dir = mkdtempSync(join(tmpdir(), "pipgate-allowlist-"));
  return {
    dir,
    file(name, text) {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The lines of `after` with the one line at `index` taken out. */
export function without(after: string, index: number): string[] {
  const lines = after.split("\n");
  lines.splice(index, 1);
  return lines;
}
