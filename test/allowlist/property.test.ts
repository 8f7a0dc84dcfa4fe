import fc from "fast-check";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { removePackage, setPackage } from "../../src/allowlist-edit/edit.js";
import { checkChange } from "../../src/allowlist-edit/validate.js";
import { normalizeName } from "../../src/requirement/index.js";
import { COMMENTED } from "./helpers.js";

const SORTED = `packages:
  # data
  attrs: "*"
  pandas: ">=2"    # big one

  # web
  requests: '*'
  urllib3: ">=2,<3"
deny: [evil]
`;

const name = fc
  .tuple(
    fc.constantFrom("attrs", "pandas", "requests", "numpy", "foo-bar", "zope.interface", "httpx", "a1", "true"),
    fc.boolean(),
    fc.constantFrom("-", "_", "."),
  )
  .map(([base, upper, sep]) => (upper ? base.toUpperCase() : base).replace(/[-_.]/g, sep));
const specifier = fc.constantFrom("*", ">=1", "==1.2.3", "~=2.1", ">=2.31,<3", "!=1.5,>=1");
const reason = fc.option(fc.constantFrom("ticket 7", "needed by the ETL job", "  spaced   out  "), { nil: undefined });
const file = fc.constantFrom(COMMENTED, SORTED, COMMENTED.replace(/\n/g, "\r\n"));

/** Lines of `before` that are also in `after`, in order, must be all but the edited ones. */
function keptLines(before: string, after: string): { dropped: string[]; added: string[] } {
  const a = before.split("\n");
  const b = after.split("\n");
  // Longest common subsequence, small inputs.
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i -= 1) {
    for (let j = b.length - 1; j >= 0; j -= 1) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  }
  const dropped: string[] = [];
  const added: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      i += 1;
      j += 1;
    } else if (j < b.length && (i === a.length || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) added.push(b[j++]!);
    else dropped.push(a[i++]!);
  }
  return { dropped, added };
}

describe("allowlist edits, for any name and specifier", () => {
  it("change at most the entry's own line, and mean exactly the old data plus the change", () => {
    fc.assert(
      fc.property(file, name, specifier, reason, (text, rawName, spec, why) => {
        const change = checkChange(rawName, spec, why);
        if (!change.ok) throw new Error(change.error);
        const result = setPackage(text, change.value);
        if (normalizeName(rawName) === "evil") return;
        if (!result.ok) throw new Error(result.error);
        expect(result.reformatted).toBe(false);
        const { dropped, added } = keptLines(text, result.text);
        expect(dropped.length).toBeLessThanOrEqual(1);
        expect(added.length).toBeLessThanOrEqual(1);
        if (result.action === "added") expect(dropped).toEqual([]);
        const before = parse(text) as { packages: Record<string, unknown> };
        const after = parse(result.text) as { packages: Record<string, unknown> };
        const same = Object.keys(before.packages).filter((key) => normalizeName(key) !== normalizeName(rawName));
        for (const key of same) expect(after.packages[key]).toEqual(before.packages[key]);
        expect(
          Object.keys(after.packages)
            .filter((key) => normalizeName(key) === normalizeName(rawName))
            .map((key) => after.packages[key] ?? "*"),
        ).toEqual([spec]);
        if (text.includes("\r\n")) expect(result.text.replace(/\r\n/g, "")).not.toContain("\n");
      }),
      { numRuns: 300 },
    );
  });

  it("remove undoes add of a new name byte for byte", () => {
    fc.assert(
      fc.property(file, name, specifier, reason, (text, rawName, spec, why) => {
        const change = checkChange(rawName, spec, why);
        if (!change.ok || normalizeName(rawName) === "evil") return;
        const existing = Object.keys((parse(text) as { packages: Record<string, unknown> }).packages).some(
          (key) => normalizeName(key) === normalizeName(rawName),
        );
        fc.pre(!existing);
        const added = setPackage(text, change.value);
        if (!added.ok) throw new Error(added.error);
        const removed = removePackage(added.text, rawName);
        if (!removed.ok) throw new Error(removed.error);
        expect(removed.text).toBe(text);
      }),
      { numRuns: 300 },
    );
  });
});
