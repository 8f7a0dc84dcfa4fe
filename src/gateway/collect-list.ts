import type { Logger } from "../log.js";
import { DEFINITION_LIMITS, logName, type Check } from "./definitions.js";

export interface ListPage<T> {
  items: T[];
  nextCursor?: string | undefined;
}

/**
 * Follows an upstream list through its pages within DEFINITION_LIMITS: at most maxPages pages (a cursor
 * seen before ends it too: a loop), at most maxItems items; a malformed, oversized or duplicate
 * definition is dropped with a warning naming it, so one bad entry does not take the others down.
 */
export async function collectList<T>(
  what: string,
  page: (cursor: string | undefined) => Promise<ListPage<T>>,
  check: Check<T>,
  key: (item: T) => string,
  log: Logger,
): Promise<T[]> {
  const accepted: T[] = [];
  const seen = new Set<string>();
  const cursors = new Set<string>();
  let cursor: string | undefined;
  let dropped = 0;
  for (let pages = 0; ; pages += 1) {
    if (pages >= DEFINITION_LIMITS.maxPages) {
      log.warn({ list: what, pages }, `the upstream's ${what} has more than ${DEFINITION_LIMITS.maxPages} pages; the rest is ignored`);
      break;
    }
    const { items, nextCursor } = await page(cursor);
    for (const item of items) {
      if (accepted.length >= DEFINITION_LIMITS.maxItems) {
        dropped += 1;
        continue;
      }
      const problem = check(item);
      const name = key(item);
      if (problem !== undefined) {
        log.warn({ list: what, name: logName(name) }, `dropped ${logName(name)} from the upstream's ${what}: ${problem}`);
      } else if (seen.has(name)) {
        log.warn({ list: what, name: logName(name) }, `dropped a second ${logName(name)} from the upstream's ${what}`);
      } else {
        seen.add(name);
        accepted.push(item);
      }
    }
    if (dropped > 0 || nextCursor === undefined || cursors.has(nextCursor)) break;
    cursors.add(nextCursor);
    cursor = nextCursor;
  }
  if (dropped > 0)
    log.warn({ list: what, dropped }, `the upstream's ${what} has more than ${DEFINITION_LIMITS.maxItems} entries; ${dropped} or more are ignored`);
  return accepted;
}
