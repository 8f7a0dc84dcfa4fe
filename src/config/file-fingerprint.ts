import { statSync } from "node:fs";

/**
 * What tells a followed file (allowlist, policy, overlay) changed: its inode (editors and
 * `pipgate allowlist` replace the file), mtime and size (in-place writes). "missing" when unreadable.
 */
export function fileFingerprint(path: string): string {
  try {
    const stat = statSync(path);
    return `${stat.ino}:${stat.mtimeMs}:${stat.size}`;
  } catch {
    return "missing";
  }
}
