import { lstatSync, type BigIntStats } from "node:fs";
import { inspectWheel, type InspectOptions, type WheelInspection } from "./wheel.js";

/*
 * Inspecting a wheel inflates every file of it (numpy: about a second under load), and a repeat install
 * of a verified resolution inspected the same file again. The memo keeps each result with the identity
 * of the file it was read from — device, inode, size, mtime and ctime — and answers again only while
 * the file still has that identity: any write, rename over or chmod changes the ctime, which no caller
 * can set back. A file that changed while it was being read is not remembered. Inspection is a function
 * of the bytes and the options alone; policy is not in it and is decided again on every request.
 */

type Inspected = ReturnType<typeof inspectWheel>;

/** An inspectWheel that answers from memory for a file that has not changed since it was inspected. */
export interface InspectionMemo {
  inspect(path: string, options: InspectOptions): Inspected;
}

interface Remembered {
  identity: string;
  inspection: WheelInspection;
}

function identityOf(path: string): string | undefined {
  let st: BigIntStats;
  try {
    st = lstatSync(path, { bigint: true });
  } catch {
    return undefined;
  }
  if (!st.isFile()) return undefined;
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/** The options as one string, keys sorted at every level: the same options give the same key. */
function optionsKey(options: InspectOptions): string {
  return JSON.stringify(options, (_key, value: unknown) =>
    value !== null && typeof value === "object" && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : value,
  );
}

/** One per broker (no module-level state); at most `max` results, the oldest forgotten first. */
export function createInspectionMemo(max = 512): InspectionMemo {
  const memo = new Map<string, Remembered>();
  return {
    inspect(path, options) {
      const key = `${optionsKey(options)}\0${path}`;
      const before = identityOf(path);
      const known = memo.get(key);
      if (before !== undefined && known?.identity === before) return { ok: true, inspection: known.inspection };
      const result = inspectWheel(path, options);
      memo.delete(key);
      if (result.ok && before !== undefined && identityOf(path) === before) {
        memo.set(key, { identity: before, inspection: result.inspection });
        if (memo.size > max) memo.delete(memo.keys().next().value ?? "");
      }
      return result;
    },
  };
}
