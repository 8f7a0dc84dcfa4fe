import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log.js";
import { openOsvDatabase } from "../../src/osv/database.js";
import { loadOsvDatabase } from "../../src/osv/load.js";
import { writeZip } from "../fixtures/zip.js";
import { generatedFeed, osvRecord } from "./records.js";

const root = mkdtempSync(join(tmpdir(), "pipgate-osv-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const zipOf = (records: Record<string, unknown>[]) => writeZip(records.map((r) => ({ name: `${String(r.id)}.json`, data: json(r) })));

describe("loading an OSV database", () => {
  it("reads a directory tree of records, skipping what is not OSV and never following links", async () => {
    const dir = join(root, "tree");
    mkdirSync(join(dir, "osv", "malicious", "pypi", "litellm"), { recursive: true });
    writeFileSync(
      join(dir, "osv", "malicious", "pypi", "litellm", "MAL-2026-2144.json"),
      json(osvRecord({ id: "MAL-2026-2144", name: "litellm", versions: ["1.82.7"] })),
    );
    writeFileSync(join(dir, "GHSA-aaaa.json"), json(osvRecord({ id: "GHSA-aaaa", name: "Requests", events: [{ introduced: "0" }, { fixed: "2.32.0" }] })));
    writeFileSync(join(dir, "broken.json"), "{ not json");
    writeFileSync(join(dir, "other.json"), json({ hello: "world" }));
    writeFileSync(join(dir, "README.md"), "not a record");
    symlinkSync("/etc/passwd", join(dir, "link.json"));
    const loaded = await loadOsvDatabase(dir, new Date());
    expect(loaded.ok).toBe(true);
    if (!loaded.ok) return;
    expect(loaded.value.snapshot.records).toBe(2);
    expect(loaded.value.skipped).toBe(3);
    expect(loaded.value.warnings.join("\n")).toMatch(/broken\.json: not JSON/);
    expect(loaded.value.warnings.join("\n")).toMatch(/other\.json: not an OSV record \(id: /);
    expect(loaded.value.warnings.join("\n")).toMatch(/link\.json: not a regular file/);
    expect(loaded.value.snapshot.lookup("litellm", "1.82.7").malicious.map((a) => a.id)).toEqual(["MAL-2026-2144"]);
    expect(loaded.value.snapshot.lookup("litellm", "1.82.6").malicious).toEqual([]);
    expect(loaded.value.snapshot.lookup("requests", "2.31.0").vulnerabilities.map((a) => a.id)).toEqual(["GHSA-aaaa"]);
  });

  it("reads a zip like the PyPI all.zip, and refuses one with an entry over the cap or too many entries", async () => {
    const path = join(root, "all.zip");
    writeFileSync(
      path,
      zipOf([osvRecord({ id: "MAL-1", name: "evil", events: [{ introduced: "0" }] }), osvRecord({ id: "PYSEC-1", name: "ok", versions: ["1.0"] })]),
    );
    const loaded = await loadOsvDatabase(path, new Date());
    expect(loaded.ok && loaded.value.snapshot.records).toBe(2);
    const big = await loadOsvDatabase(path, new Date(), { maxRecordBytes: 50 });
    expect(big).toEqual({ ok: false, error: expect.stringMatching(/MAL-1\.json is \d+ bytes, over the cap of 50/) });
    const many = await loadOsvDatabase(path, new Date(), { maxRecords: 1 });
    expect(many).toEqual({ ok: false, error: expect.stringMatching(/2 entries exceed the cap of 1/) });
  });

  it("refuses a zip whose entries are ambiguous, and a path that is a link", async () => {
    const path = join(root, "dup.zip");
    const record = json(osvRecord({ id: "MAL-1", name: "evil" }));
    writeFileSync(
      path,
      writeZip([
        { name: "MAL-1.json", data: record },
        { name: "MAL-1.json", data: record },
      ]),
    );
    expect(await loadOsvDatabase(path, new Date())).toEqual({ ok: false, error: expect.stringMatching(/appears more than once/) });
    symlinkSync(join(root, "all.zip"), join(root, "link.zip"));
    expect(await loadOsvDatabase(join(root, "link.zip"), new Date())).toEqual({
      ok: false,
      error: expect.stringMatching(/neither a directory nor a regular file/),
    });
    expect(await loadOsvDatabase(join(root, "absent"), new Date())).toEqual({ ok: false, error: expect.stringMatching(/cannot read .*absent/) });
  });

  it("loads a generated 20,000-record zip without holding the event loop for long", async () => {
    const path = join(root, "big.zip");
    writeFileSync(path, zipOf(generatedFeed(20_000, "2026-01-01T00:00:00Z")));
    let last = performance.now();
    let longest = 0;
    const probe = setInterval(() => {
      const tick = performance.now();
      longest = Math.max(longest, tick - last);
      last = tick;
    }, 5);
    const started = performance.now();
    const loaded = await loadOsvDatabase(path, new Date());
    const ms = performance.now() - started;
    clearInterval(probe);
    console.log(`20,000-record zip loaded in ${ms.toFixed(0)} ms; the event loop waited at most ${longest.toFixed(0)} ms`);
    expect(loaded.ok).toBe(true);
    if (!loaded.ok) return;
    expect(loaded.value.snapshot.records).toBe(20_000);
    expect(loaded.value.snapshot.newestModified?.toISOString()).toBe("2026-01-01T00:00:00.000Z");
    expect(loaded.value.snapshot.lookup("evil-pkg-42", "9.9").malicious).toHaveLength(1);
    expect(loaded.value.snapshot.lookup("lib-1", "1.5").vulnerabilities.map((a) => a.id)).toContain("GHSA-gen-1");
    // Batches keep each turn short; the central directory is read in one go (a few hundred ms at most).
    expect(longest).toBeLessThan(ms / 2);
    const lookups = performance.now();
    for (let i = 0; i < 10_000; i += 1) loaded.value.snapshot.lookup(`lib-${i % 5000}`, "1.5");
    // Relative, so it holds on a loaded machine: ten thousand lookups cost less than one load.
    expect(performance.now() - lookups).toBeLessThan(ms);
  }, 120_000);
});

describe("the live OSV database", () => {
  it("reloads when the zip is replaced, and keeps the last good snapshot when the new one is broken", async () => {
    const dir = join(root, "live");
    mkdirSync(dir);
    const path = join(dir, "all.zip");
    writeFileSync(path, zipOf([osvRecord({ id: "PYSEC-1", name: "ok", versions: ["1.0"] })]));
    const db = await openOsvDatabase({ path, maxAgeHours: undefined }, silentLogger(), () => new Date());
    try {
      expect(db.view().snapshot?.records).toBe(1);
      writeFileSync(join(dir, "next.zip"), zipOf([osvRecord({ id: "PYSEC-1", name: "ok" }), osvRecord({ id: "MAL-9", name: "evil" })]));
      renameSync(join(dir, "next.zip"), path);
      await expect.poll(() => db.view().snapshot?.records, { timeout: 5000 }).toBe(2);
      writeFileSync(path, "not a zip");
      await expect.poll(() => db.view().error, { timeout: 5000 }).toMatch(/end of central directory|not a zip|zip/i);
      expect(db.view().snapshot?.records).toBe(2);
    } finally {
      db.close();
    }
  });

  it("reloads a directory when a record is added", async () => {
    const dir = join(root, "live-dir");
    mkdirSync(join(dir, "pypi"), { recursive: true });
    writeFileSync(join(dir, "pypi", "PYSEC-1.json"), json(osvRecord({ id: "PYSEC-1", name: "ok" })));
    const db = await openOsvDatabase({ path: dir, maxAgeHours: 24 }, silentLogger(), () => new Date());
    try {
      expect(db.view()).toMatchObject({ path: dir, maxAgeHours: 24, error: undefined });
      writeFileSync(join(dir, "pypi", "MAL-2.json"), json(osvRecord({ id: "MAL-2", name: "evil" })));
      await expect.poll(() => db.view().snapshot?.lookup("evil", "1.0").malicious.length, { timeout: 5000 }).toBe(1);
    } finally {
      db.close();
    }
  });
});
