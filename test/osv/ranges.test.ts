import { describe, expect, it } from "vitest";
import { checkMalware, type OsvView } from "../../src/policy/malware.js";
import { buildOsvIndex } from "../../src/policy/osv-index.js";
import { affectsVersion } from "../../src/policy/osv-ranges.js";
import { parseOsvRecord, type OsvAdvisory, type OsvAffected } from "../../src/policy/osv-record.js";
import { osvRecord, type RecordSpec } from "./records.js";

const affected = (ranges: Record<string, string>[][], versions: string[] = []): OsvAffected => ({
  name: "pkg",
  versions,
  ranges: ranges.map((events) =>
    events.map((event) => {
      const [kind, version] = Object.entries(event)[0] as [string, string];
      return { kind: kind as "introduced", version };
    }),
  ),
});

function advisory(spec: RecordSpec): OsvAdvisory {
  const parsed = parseOsvRecord(osvRecord(spec));
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
}

describe("OSV ECOSYSTEM ranges with PEP 440 order", () => {
  it("introduced/fixed: affected from introduced up to, not including, fixed", () => {
    const entry = affected([[{ introduced: "1.0" }, { fixed: "1.4.2" }]]);
    expect(["0.9", "1.0", "1.4.1", "1.4.2rc1", "1.4.2", "1.10"].map((v) => affectsVersion(entry, v))).toEqual([false, true, true, true, false, false]);
  });

  it("introduced 0 means every version before the fix, and several introduced/fixed pairs in one range", () => {
    const entry = affected([[{ fixed: "3.0" }, { introduced: "0" }, { introduced: "2.5" }, { fixed: "2.0" }]]);
    expect(["0.1", "1.9", "2.0", "2.4", "2.5", "2.9.9", "3.0", "3.1"].map((v) => affectsVersion(entry, v))).toEqual([
      true,
      true,
      false,
      false,
      true,
      true,
      false,
      false,
    ]);
  });

  it("last_affected includes the named version; limit ends the range; no fix means every later version", () => {
    expect(["1.1", "1.2", "1.2.post1", "1.3"].map((v) => affectsVersion(affected([[{ introduced: "1.1" }, { last_affected: "1.2" }]]), v))).toEqual([
      true,
      true,
      false,
      false,
    ]);
    expect(["1.0", "4.9", "5.0"].map((v) => affectsVersion(affected([[{ introduced: "0" }, { limit: "5.0" }]]), v))).toEqual([true, true, false]);
    expect(affectsVersion(affected([[{ introduced: "2.0" }]]), "99.0")).toBe(true);
  });

  it("an explicit versions list matches by PEP 440 equality, ranges or not", () => {
    const entry = affected([], ["1.82.7", "1.82.8"]);
    expect(["1.82.7", "1.82.7.0", "1.82.6", "1.82.9"].map((v) => affectsVersion(entry, v))).toEqual([true, true, false, false]);
    expect(affectsVersion(affected([[{ introduced: "5.0" }]], ["1.0"]), "1.0")).toBe(true);
  });

  it("fails closed: an unparsable event version, or no ranges and no versions, affects every version", () => {
    expect(affectsVersion(affected([[{ introduced: "not-a-version" }, { fixed: "2.0" }]]), "9.0")).toBe(true);
    expect(affectsVersion(affected([]), "1.0")).toBe(true);
  });
});

describe("OSV records", () => {
  it("keeps only PyPI entries, normalises names, and tells MAL-* apart", () => {
    const parsed = parseOsvRecord({
      id: "MAL-2026-2144",
      modified: "2026-03-01T10:00:00Z",
      affected: [
        { package: { ecosystem: "npm", name: "litellm" }, versions: ["1.0"] },
        { package: { ecosystem: "PyPI", name: "LiteLLM_Proxy" }, versions: ["1.82.7"] },
      ],
    });
    expect(parsed).toMatchObject({ ok: true, value: { id: "MAL-2026-2144", malicious: true, affected: [{ name: "litellm-proxy", versions: ["1.82.7"] }] } });
    expect(parseOsvRecord({ id: "GHSA-x", modified: "2026-01-01T00:00:00Z" })).toMatchObject({ ok: true, value: { malicious: false, affected: [] } });
  });

  it("refuses a record that is not OSV, naming the field", () => {
    expect(parseOsvRecord({ id: 5 })).toEqual({ ok: false, error: expect.stringMatching(/^not an OSV record \(id: /) });
    expect(parseOsvRecord({ id: "X", modified: "m", affected: [{ ranges: [{ type: "ECOSYSTEM", events: [{ nothing: "1" }] }] }] })).toEqual({
      ok: false,
      error: expect.stringMatching(/affected\.0\.ranges\.0\.events\.0/),
    });
  });
});

describe("the malware rule", () => {
  const now = new Date("2026-03-02T12:00:00Z");
  const snapshot = buildOsvIndex(
    "/db/all.zip",
    [
      advisory({ id: "MAL-2026-2144", name: "litellm", versions: ["1.82.7"], summary: "Malicious code in litellm (PyPI)", modified: "2026-03-02T06:00:00Z" }),
      advisory({ id: "MAL-2026-0001", name: "litellm", versions: ["1.82.6"], withdrawn: "2026-03-01T00:00:00Z", modified: "2026-03-01T00:00:00Z" }),
      advisory({
        id: "GHSA-lite-0001",
        name: "litellm",
        aliases: ["CVE-2026-1"],
        events: [{ introduced: "0" }, { fixed: "1.90" }],
        modified: "2026-02-01T00:00:00Z",
      }),
    ],
    now,
  );
  const view = (maxAgeHours?: number): OsvView => ({ path: "/db/all.zip", snapshot, error: undefined, maxAgeHours });

  it("skips when no database is configured", () => {
    expect(checkMalware(undefined, "litellm", "1.82.7", now).result).toEqual({
      rule: "malware",
      outcome: "skip",
      detail: "no OSV database configured (rules.osv.path)",
    });
  });

  it("refuses a reported release with the report's id and summary, and passes another, handing on the other advisories", () => {
    const bad = checkMalware(view(), "litellm", "1.82.7", now);
    expect(bad.result).toEqual({
      rule: "malware",
      outcome: "fail",
      detail: "litellm 1.82.7 is reported malicious: MAL-2026-2144 (Malicious code in litellm (PyPI))",
    });
    const withdrawn = checkMalware(view(), "litellm", "1.82.6", now);
    expect(withdrawn.result.outcome).toBe("pass");
    expect(withdrawn.result.detail).toMatch(/no malicious-package report for litellm 1\.82\.6 in the OSV database \(3 records, newest record 6\.0 hours old\)/);
    expect(withdrawn.vulnerabilities).toEqual([{ id: "GHSA-lite-0001", aliases: ["CVE-2026-1"], details: undefined, fixedIn: ["1.90"], withdrawn: undefined }]);
    expect(snapshot.withdrawn).toBe(1);
  });

  it("fails closed on a database older than max_age_hours, naming its age, and on one that could not be loaded", () => {
    expect(checkMalware(view(24), "litellm", "1.0", now).result.outcome).toBe("pass");
    const stale = checkMalware(view(2), "litellm", "1.0", now).result;
    expect(stale.outcome).toBe("fail");
    expect(stale.detail).toMatch(
      /the OSV database at \/db\/all\.zip is 6\.0 hours old \(newest record modified 2026-03-02T06:00:00\.000Z\), older than rules\.osv\.max_age_hours: 2/,
    );
    const broken = checkMalware(
      { path: "/db/all.zip", snapshot: undefined, error: "ZIP64 archives are not supported", maxAgeHours: undefined },
      "x",
      "1",
      now,
    ).result;
    expect(broken).toEqual({
      rule: "malware",
      outcome: "fail",
      detail: expect.stringMatching(/could not be loaded \(ZIP64 archives are not supported\); refusing \(fail closed\)/),
    });
  });
});
