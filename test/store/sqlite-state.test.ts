import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openSqliteState } from "../../src/store/sqlite.js";

const dirs: string[] = [];
function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "pipgate-state-"));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("the SQLite StateStore", () => {
  it("keeps every store in the state directory's file, shared by two stores over it", async () => {
    const dir = stateDir();
    const a = openSqliteState(dir);
    const b = openSqliteState(dir);
    try {
      const record = await a.audit.append({ identity: "agent", tool: "check_package", outcome: "allowed", arguments: {} });
      expect((await b.audit.get(record.id))?.hash).toBe(record.hash);
      expect(await b.audit.verify()).toEqual({ ok: true, count: 1, head: record.hash });

      const check = { key: "installs|grant=agent", windowMs: 60_000, max: 1 };
      expect(await a.rates.take([check], 1_000)).toEqual({ ok: true });
      expect(await b.rates.take([check], 2_000)).toMatchObject({ ok: false, retryAt: 61_000 });

      const wheels = [{ name: "demo", version: "1.0", path: "/x/demo.whl", sha256: "a".repeat(64) }];
      await a.resolutions.put("key", wheels);
      expect(await b.resolutions.get("key")).toEqual(wheels);

      const url = "http://127.0.0.1/simple/demo/";
      await a.httpCache.put({ url, fetchedAt: 5, etag: '"e"', lastModified: undefined, contentType: "text/html", body: Buffer.from("hi") });
      expect((await b.httpCache.get(url))?.body.toString()).toBe("hi");

      const now = new Date("2026-03-01T10:00:00Z");
      const held = await a.callApprovals.lookup(
        { identity: "agent", tool: "run", arguments: { n: 1 }, rule: "run", message: "held", expiresAfterMs: 60_000 },
        now,
      );
      expect(held).toMatchObject({ state: "pending", expiresAt: new Date(now.getTime() + 60_000) });
      expect(await b.callApprovals.decide(held.id, "approved", "carol", "ok", now)).toMatchObject({ ok: true });
      expect(await a.callApprovals.consume(held.id, now)).toBe(true);
      expect(await b.callApprovals.consume(held.id, now)).toBe(false);
      expect(await a.approvals.list()).toEqual([]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("closes its own database handle, leaving the file for the next opener", async () => {
    const dir = stateDir();
    const state = openSqliteState(dir);
    await state.audit.append({ identity: "agent", tool: "check_package", outcome: "allowed", arguments: {} });
    await state.close();
    await expect(state.audit.count()).rejects.toThrow(/not open/);
    const again = openSqliteState(dir);
    try {
      expect(await again.audit.count()).toBe(1);
    } finally {
      await again.close();
    }
  });
});
