import { mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createInspectionMemo } from "../../src/verify/inspection-memo.js";
import { buildWheel } from "../fixtures/dists.js";

// The memo answers again only for the very file it inspected: any change to it, even one that keeps
// its size and puts its mtime back, makes it inspect afresh.
const dir = mkdtempSync(join(tmpdir(), "pipgate-inspection-memo-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the inspection memo", () => {
  it("answers from memory for an unchanged wheel, per option, and inspects again once the file changed at all", () => {
    const good = buildWheel({ name: "memo-pkg", version: "1.0", files: { "memo_pkg/a.py": "A = 1\n" } });
    const path = join(dir, good.filename);
    writeFileSync(path, good.bytes);
    const memo = createInspectionMemo();
    const first = memo.inspect(path, { allowPth: false });
    const second = memo.inspect(path, { allowPth: false });
    expect(first.ok && second.ok).toBe(true);
    if (!first.ok || !second.ok) return;
    expect(second.inspection).toBe(first.inspection);
    const other = memo.inspect(path, { allowPth: true });
    expect(other.ok && other.inspection).not.toBe(first.inspection);

    // Rewritten in place with the same size and its mtime put back: only the ctime tells, and it is enough.
    const before = statSync(path);
    writeFileSync(path, good.bytes);
    utimesSync(path, before.atime, before.mtime);
    const third = memo.inspect(path, { allowPth: false });
    expect(third.ok && third.inspection).not.toBe(first.inspection);
    expect(memo.inspect(path, { allowPth: false })).toEqual(third);

    // A different wheel at the same path is inspected as itself.
    const bad = buildWheel({ name: "memo-pkg", version: "1.0", files: { "sitecustomize.py": "print(1)\n" } });
    writeFileSync(path, bad.bytes);
    const fourth = memo.inspect(path, { allowPth: false });
    expect(fourth.ok && fourth.inspection.problems.join(" ")).toMatch(/sitecustomize/);
  });

  it("reports a missing file as inspection does, and remembers nothing for it", () => {
    const memo = createInspectionMemo();
    const missing = memo.inspect(join(dir, "gone-1.0-py3-none-any.whl"), { allowPth: false });
    expect(missing.ok).toBe(false);
    expect(!missing.ok && missing.error).toMatch(/cannot read/);
  });
});
