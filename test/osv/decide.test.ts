import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAllowlist, type Allowlist } from "../../src/config/allowlist.js";
import { createIndexClient } from "../../src/index/client.js";
import { decide } from "../../src/policy/decide.js";
import type { OsvView } from "../../src/policy/malware.js";
import { buildOsvIndex } from "../../src/policy/osv-index.js";
import { parseOsvRecord, type OsvAdvisory } from "../../src/policy/osv-record.js";
import { createPopularNames } from "../../src/policy/popular-names.js";
import { DecisionSchema, decisionToJson, type Decision } from "../../src/policy/types.js";
import { parseRequirement } from "../../src/requirement/index.js";
import { openMemoryDb } from "../../src/state/db.js";
import { buildWheel } from "../fixtures/dists.js";
import { startIndexServer, type IndexServer } from "../fixtures/index-server.js";
import { osvRecord, type RecordSpec } from "./records.js";

const NOW = new Date();
const hoursAgo = (hours: number) => new Date(NOW.getTime() - hours * 3_600_000).toISOString();
let index: IndexServer;

beforeAll(async () => {
  index = await startIndexServer({
    seed: false,
    projects: [
      {
        name: "litellm",
        releases: ["1.82.6", "1.82.7"].map((version) => ({ version, dists: [buildWheel({ name: "litellm", version })] })),
      },
      {
        name: "oldlib",
        releases: [
          {
            version: "1.0",
            dists: [buildWheel({ name: "oldlib", version: "1.0" })],
            vulnerabilities: [{ id: "GHSA-both-0001", aliases: ["CVE-2026-7"], fixed_in: ["2.0"] }],
          },
          { version: "2.0", dists: [buildWheel({ name: "oldlib", version: "2.0" })] },
        ],
      },
    ],
  });
});
afterAll(async () => {
  await index.close();
});

function advisory(spec: RecordSpec): OsvAdvisory {
  const parsed = parseOsvRecord(osvRecord({ modified: hoursAgo(1), ...spec }));
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
}

const snapshot = buildOsvIndex(
  "/feeds/osv",
  [
    advisory({ id: "MAL-2026-2144", name: "litellm", aliases: ["GHSA-mal-2144"], versions: ["1.82.7"], summary: "Malicious code in litellm" }),
    advisory({ id: "PYSEC-2026-10", name: "oldlib", aliases: ["CVE-2026-7"], events: [{ introduced: "0" }, { fixed: "2.0" }] }),
    advisory({ id: "PYSEC-2026-11", name: "oldlib", events: [{ introduced: "2.0" }, { fixed: "2.1" }] }),
    advisory({ id: "PYSEC-2026-12", name: "oldlib", versions: ["2.0"], withdrawn: hoursAgo(2) }),
  ],
  NOW,
);

function allowlist(extra: Record<string, unknown> = {}): Allowlist {
  const built = buildAllowlist({ packages: { litellm: "*", oldlib: "*" }, ...extra }, {}, "test-allowlist");
  if (!built.ok) throw new Error(built.issues.join("\n"));
  return built.allowlist;
}

async function check(raw: string, view: OsvView | undefined, list = allowlist()): Promise<Decision> {
  const parsed = parseRequirement(raw);
  if (!parsed.ok) throw new Error(parsed.message);
  const client = createIndexClient({ url: index.url, timeoutMs: 5_000, retries: 0, cacheTtlSeconds: 600, db: openMemoryDb() });
  return decide(
    parsed.requirement,
    { allowlist: list, pythonVersion: "3.11.7" },
    { index: client, now: () => NOW, popularNames: createPopularNames(), osv: view && (() => view) },
  );
}

const fresh: OsvView = { path: "/feeds/osv", snapshot, error: undefined, maxAgeHours: 24 };
const ruleOf = (decision: Decision, name: string) => decision.rules.find((rule) => rule.rule === name);

describe("the malware rule against the local index", () => {
  it("refuses a release with a MAL-* report, even with the report's id and alias on the ignore list", async () => {
    const ignore = [
      { id: "MAL-2026-2144", reason: "we know", expires: "2999-01-01" },
      { id: "GHSA-mal-2144", reason: "we know", expires: "2999-01-01" },
    ];
    const exemptions = [{ package: "litellm", rule: "vulnerabilities", reason: "we know", expires: "2999-01-01" }];
    const decision = await check("litellm==1.82.7", fresh, allowlist({ vulnerability_ignore: ignore, exemptions }));
    expect(decision.allowed).toBe(false);
    if (decision.allowed) return;
    expect(decision.reason).toBe("litellm 1.82.7: litellm 1.82.7 is reported malicious: MAL-2026-2144 (Malicious code in litellm)");
    expect(ruleOf(decision, "malware")?.outcome).toBe("fail");
    expect(DecisionSchema.parse(decisionToJson(decision)).rules.map((rule) => rule.rule)).toContain("malware");
  });

  it("skips the reported release when resolving a range, choosing the clean one and saying why", async () => {
    const decision = await check("litellm", fresh);
    expect(decision).toMatchObject({ allowed: true, version: "1.82.6" });
    if (!decision.allowed) return;
    expect(decision.summary).toMatch(/skipped 1\.82\.7 \(malware: litellm 1\.82\.7 is reported malicious: MAL-2026-2144/);
    expect(ruleOf(decision, "malware")).toMatchObject({
      outcome: "pass",
      detail: expect.stringMatching(/no malicious-package report for litellm 1\.82\.6 .*4 records/),
    });
  });

  it("shows the rule skipped without a database, and the same release allowed", async () => {
    const decision = await check("litellm==1.82.7", undefined);
    expect(decision.allowed).toBe(true);
    expect(ruleOf(decision, "malware")).toEqual({ rule: "malware", outcome: "skip", detail: "no OSV database configured (rules.osv.path)" });
  });

  it("refuses everything while the database is older than max_age_hours, naming its age", async () => {
    const decision = await check("oldlib==2.0", { ...fresh, maxAgeHours: 0.5 });
    expect(decision.allowed).toBe(false);
    if (decision.allowed) return;
    expect(decision.reason).toMatch(
      /the OSV database at \/feeds\/osv is 1\.0 hours old .*older than rules\.osv\.max_age_hours: 0\.5; refusing \(fail closed\)/,
    );
  });
});

describe("OSV advisories in the vulnerability rule", () => {
  it("adds the database's advisories to the index's, counting an alias known to both once, skipping withdrawn ones", async () => {
    const decision = await check("oldlib==1.0", fresh);
    expect(decision.allowed).toBe(false);
    expect(ruleOf(decision, "vulnerabilities")?.detail).toBe("oldlib 1.0 has known vulnerabilities: GHSA-both-0001 (fixed in 2.0)");
    const newer = await check("oldlib==2.0", fresh);
    expect(newer.allowed).toBe(false);
    expect(ruleOf(newer, "vulnerabilities")?.detail).toBe("oldlib 2.0 has known vulnerabilities: PYSEC-2026-11 (fixed in 2.1)");
  });

  it("lets the ordinary ignore list waive an OSV advisory (unlike a MAL-* report)", async () => {
    const decision = await check(
      "oldlib==2.0",
      fresh,
      allowlist({ vulnerability_ignore: [{ id: "PYSEC-2026-11", reason: "not reachable", expires: "2999-01-01" }] }),
    );
    expect(decision.allowed).toBe(true);
    expect(ruleOf(decision, "vulnerabilities")?.detail).toMatch(/PYSEC-2026-11 ignored/);
  });
});
