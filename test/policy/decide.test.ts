import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAllowlist, type Allowlist } from "../../src/config/allowlist.js";
import { createIndexClient } from "../../src/index/client.js";
import type { IndexClient } from "../../src/index/types.js";
import { decide, decideExact, type PolicyDeps } from "../../src/policy/decide.js";
import { formatDecision } from "../../src/policy/format.js";
import { createPopularNames } from "../../src/policy/popular-names.js";
import { DecisionSchema, decisionToJson, type Decision } from "../../src/policy/types.js";
import { parseRequirement } from "../../src/requirement/index.js";
import type { Requirement } from "../../src/requirement/types.js";
import { openMemoryDb } from "../../src/state/db.js";
import { buildSdist, buildWheel } from "../fixtures/dists.js";
import { startIndexServer, type IndexServer, type ReleaseSpec } from "../fixtures/index-server.js";

const DAY = 86_400_000;
const NOW = new Date();
const daysAgo = (days: number) => new Date(NOW.getTime() - days * DAY);
const inDays = (days: number) => new Date(NOW.getTime() + days * DAY).toISOString().slice(0, 10);
const PY = "3.11.7";
const popular = createPopularNames();

function release(name: string, version: string, extra: Partial<ReleaseSpec> = {}): ReleaseSpec {
  return { version, dists: [buildWheel({ name, version })], ...extra };
}

let index: IndexServer;

beforeAll(async () => {
  index = await startIndexServer({
    seed: false,
    projects: [
      {
        name: "requests",
        releases: [
          release("requests", "2.30.0"),
          release("requests", "2.31.0"),
          release("requests", "2.32.0", { yanked: "regression in redirects" }),
          release("requests", "2.32.3", { licenseExpression: "Apache-2.0" }),
          release("requests", "2.33.0", { uploadTime: daysAgo(2) }),
        ],
      },
      { name: "python-dateutil", releases: [release("python-dateutil", "2.9.0")] },
      { name: "Django", releases: [release("Django", "5.1")] },
      {
        name: "vulnlib",
        releases: [
          release("vulnlib", "1.0", {
            vulnerabilities: [
              { id: "GHSA-vuln-0001", aliases: ["CVE-2026-0001"], fixed_in: ["1.1"] },
              { id: "GHSA-gone-0002", fixed_in: ["1.1"], withdrawn: "2026-01-01T00:00:00Z" },
            ],
          }),
          release("vulnlib", "1.1", { uploadTime: daysAgo(2) }),
        ],
      },
      { name: "newpy", releases: [release("newpy", "1.0", { requiresPython: ">=3.12" })] },
      { name: "gpllib", releases: [release("gpllib", "1.0", { licenseExpression: "GPL-3.0-only" })] },
      { name: "mitlib", releases: [release("mitlib", "1.0", { license: "MIT License" })] },
      { name: "nolicense", releases: [release("nolicense", "1.0")] },
      { name: "sdistonly", releases: [{ version: "1.0", dists: [buildSdist({ name: "sdistonly", version: "1.0" })] }] },
      { name: "prerel", releases: [release("prerel", "1.0"), release("prerel", "2.0b1")] },
    ],
  });
});

afterAll(async () => {
  await index.close();
});

function allowlist(extra: Record<string, unknown> = {}, packages: Record<string, string | null> = {}): Allowlist {
  const built = buildAllowlist(
    {
      packages: {
        requests: ">=2.31,<3",
        "python-dateutil": "*",
        django: null,
        vulnlib: "*",
        newpy: "*",
        gpllib: "*",
        mitlib: "*",
        nolicense: "*",
        sdistonly: "*",
        prerel: "*",
        evil: "*",
        ...packages,
      },
      deny: ["evil"],
      ...extra,
    },
    { min_release_age_days: 7 },
    "test-allowlist",
  );
  if (!built.ok) throw new Error(built.issues.join("\n"));
  return built.allowlist;
}

function req(raw: string): Requirement {
  const parsed = parseRequirement(raw);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.requirement;
}

function deps(overrides: Partial<PolicyDeps> & { index?: IndexClient } = {}): PolicyDeps {
  return {
    index: createIndexClient({ url: index.url, timeoutMs: 5_000, retries: 0, cacheTtlSeconds: 600, db: openMemoryDb() }),
    now: () => NOW,
    popularNames: popular,
    ...overrides,
  };
}

async function check(raw: string, list: Allowlist = allowlist(), options: { python?: string; deps?: PolicyDeps } = {}): Promise<Decision> {
  return decide(req(raw), { allowlist: list, pythonVersion: options.python ?? PY }, options.deps ?? deps());
}

function rule(decision: Decision, name: string) {
  return decision.rules.find((r) => r.rule === name);
}

describe("allowlist and deny list", () => {
  it("chooses the newest release that passes every rule, and says why newer ones were skipped", async () => {
    const decision = await check("requests");
    expect(decision).toMatchObject({ allowed: true, name: "requests", version: "2.32.3" });
    if (!decision.allowed) return;
    expect(decision.summary).toMatch(/chose requests 2\.32\.3/);
    expect(decision.summary).toMatch(/skipped 2\.33\.0 \(release-age: uploaded 2 days ago, inside the 7-day cooldown\)/);
    expect(decision.files.map((file) => file.filename)).toEqual(["requests-2.32.3-py3-none-any.whl"]);
    expect(decision.rules.every((r) => r.detail.length > 0)).toBe(true);
    expect(rule(decision, "release-age")?.outcome).toBe("pass");
  });

  it("refuses a version outside the allowlist's range and names what is allowed, without asking the index", async () => {
    const before = index.requests.length;
    const decision = await check("requests==2.30.0");
    expect(decision.allowed).toBe(false);
    if (decision.allowed) return;
    expect(decision.reason).toMatch(/allowed: requests >=2\.31,<3/);
    expect(index.requests.length).toBe(before);
  });

  it("refuses a range with no allowed release", async () => {
    const decision = await check("requests<2.31");
    expect(decision.allowed).toBe(false);
    if (!decision.allowed) expect(decision.reason).toMatch(/no release of requests matching <2\.31 is allowed; allowed: requests >=2\.31,<3/);
  });

  it("the deny list wins over packages", async () => {
    const decision = await check("evil");
    expect(decision.allowed).toBe(false);
    expect(rule(decision, "deny")?.outcome).toBe("fail");
    expect(rule(decision, "allowlist")?.outcome).toBe("skip");
  });

  it("an empty allowlist allows nothing", async () => {
    const empty = buildAllowlist({}, {}, "empty");
    if (!empty.ok) throw new Error("unexpected");
    const decision = await check("requests", empty.allowlist);
    expect(decision.allowed).toBe(false);
    expect(rule(decision, "allowlist")?.outcome).toBe("fail");
  });
});

describe("typosquat", () => {
  it.each([
    ["reqeusts", "requests"],
    ["requets", "requests"],
    ["python-requests", "requests"],
    ["requests-py", "requests"],
    ["python-dateutils", "python-dateutil"],
    ["djang0", "django"],
  ])("%s → did you mean %s?", async (name, meant) => {
    const before = index.requests.length;
    const decision = await check(name);
    expect(decision.allowed).toBe(false);
    if (decision.allowed) return;
    expect(decision.suggestion).toBe(meant);
    expect(decision.reason).toMatch(new RegExp(`did you mean ${meant}\\?`));
    expect(decision.hint).toMatch(/allowed: /);
    expect(rule(decision, "typosquat")?.outcome).toBe("fail");
    expect(index.requests.length).toBe(before);
  });

  it("names a popular project when the allowlist has nothing close", async () => {
    const decision = await check("nunpy");
    expect(!decision.allowed && decision.suggestion).toBe("numpy");
  });

  it.each(["flask", "zzz-internal-tool"])("a legitimate off-list name %s gets the plain refusal", async (name) => {
    const decision = await check(name);
    expect(decision.allowed).toBe(false);
    if (decision.allowed) return;
    expect(decision.reason).toBe(`${name} is not on the allowlist`);
    expect(decision.suggestion).toBeUndefined();
    expect(rule(decision, "typosquat")?.outcome).toBe("pass");
  });
});

describe("yanked releases (PEP 592)", () => {
  it("refuses a yanked release unless pinned exactly", async () => {
    const unpinned = await check("requests>=2.32,<2.32.3");
    expect(unpinned.allowed).toBe(false);
    expect(rule(unpinned, "yanked")).toMatchObject({ outcome: "fail", detail: expect.stringMatching(/regression in redirects/) });

    const pinned = await check("requests==2.32.0");
    expect(pinned).toMatchObject({ allowed: true, version: "2.32.0" });
    expect(rule(pinned, "yanked")?.detail).toMatch(/pinned exactly/);
  });
});

describe("release-age cooldown", () => {
  it("refuses a release 2 days old under a 7-day cooldown", async () => {
    const decision = await check("requests==2.33.0");
    expect(decision.allowed).toBe(false);
    if (decision.allowed) return;
    expect(decision.reason).toMatch(/uploaded 2 days ago, inside the 7-day cooldown/);
    expect(decision.hint).toMatch(/exemption/);
  });

  it("an exemption lets it through until it expires", async () => {
    const list = allowlist({ exemptions: [{ package: "Requests", version: "2.33.0", rule: "min_release_age", reason: "urgent fix", expires: inDays(3) }] });
    const exempted = await check("requests==2.33.0", list);
    expect(exempted.allowed).toBe(true);
    expect(rule(exempted, "release-age")?.detail).toMatch(/exempted until .*: urgent fix/);
    expect(await check("requests", list)).toMatchObject({ allowed: true, version: "2.33.0" });

    // Four days later the release is 6 days old, still inside the cooldown, and the exemption has expired.
    const later = deps({ now: () => new Date(NOW.getTime() + 4 * DAY) });
    const afterExpiry = await decide(req("requests==2.33.0"), { allowlist: list, pythonVersion: PY }, later);
    expect(afterExpiry.allowed).toBe(false);
    expect(rule(afterExpiry, "release-age")?.detail).toMatch(/uploaded 6 days ago.*exemption expired on/);
  });
});

describe("vulnerabilities", () => {
  it("refuses a vulnerable version (withdrawn advisories aside) and says which version fixes it", async () => {
    const decision = await check("vulnlib==1.0");
    expect(decision.allowed).toBe(false);
    if (decision.allowed) return;
    expect(rule(decision, "vulnerabilities")?.detail).toMatch(/GHSA-vuln-0001 \(fixed in 1\.1\)/);
    expect(rule(decision, "vulnerabilities")?.detail).not.toMatch(/GHSA-gone-0002/);
    expect(decision.hint).toBe("request vulnlib>=1.1");
  });

  it("the fix-through switch lets the fixing release through the cooldown", async () => {
    const decision = await check("vulnlib");
    expect(decision).toMatchObject({ allowed: true, version: "1.1" });
    expect(rule(decision, "release-age")?.detail).toMatch(/fixes GHSA-vuln-0001 of 1\.0 \(allow_vulnerability_fix\)/);

    const strict = await check("vulnlib", allowlist({ rules: { allow_vulnerability_fix: false } }));
    expect(strict.allowed).toBe(false);
    if (!strict.allowed) expect(strict.reason).toMatch(/1\.1 \(release-age: .*1\.0 \(vulnerabilities: /);
  });

  it("an ignore by alias applies until it expires", async () => {
    const ignored = await check("vulnlib==1.0", allowlist({ vulnerability_ignore: [{ id: "CVE-2026-0001", reason: "not reachable", expires: inDays(10) }] }));
    expect(ignored.allowed).toBe(true);
    expect(rule(ignored, "vulnerabilities")?.detail).toMatch(/ignored until/);
    const expired = await check("vulnlib==1.0", allowlist({ vulnerability_ignore: [{ id: "CVE-2026-0001", reason: "not reachable", expires: inDays(-10) }] }));
    expect(expired.allowed).toBe(false);
    expect(rule(expired, "vulnerabilities")?.detail).toMatch(/expired on/);
  });
});

describe("requires-python", () => {
  it("refuses a release that does not support the environment's Python, allows it where it does", async () => {
    const old = await check("newpy");
    expect(old.allowed).toBe(false);
    expect(rule(old, "requires-python")?.detail).toMatch(/requires Python >=3\.12; this environment runs 3\.11\.7/);
    const modern = await check("newpy", allowlist(), { python: "3.12.1" });
    expect(modern.allowed).toBe(true);
  });
});

describe("licences", () => {
  const licensed = (extra: Record<string, unknown>) => allowlist({ rules: { licenses: ["MIT", "Apache-2.0"], ...extra } });

  it("refuses a licence outside the list and allows one inside it", async () => {
    const gpl = await check("gpllib", licensed({}));
    expect(gpl.allowed).toBe(false);
    expect(rule(gpl, "license")?.detail).toMatch(/GPL-3\.0-only \(from license_expression\) is not among the allowed licences/);
    const mit = await check("mitlib", licensed({}));
    expect(mit.allowed).toBe(true);
    expect(rule(mit, "license")?.detail).toMatch(/MIT \(from license\)/);
  });

  it("an unknown licence is governed by unknown_license", async () => {
    const denied = await check("nolicense", licensed({ unknown_license: "deny" }));
    expect(denied.allowed).toBe(false);
    expect(rule(denied, "license")?.detail).toMatch(/cannot be determined/);
    expect((await check("nolicense", licensed({ unknown_license: "allow" }))).allowed).toBe(true);
  });

  it("an empty licence list allows any licence", async () => {
    expect((await check("gpllib")).allowed).toBe(true);
  });
});

describe("wheels-only", () => {
  it("refuses an sdist-only release under wheels_only, offers the sdist otherwise", async () => {
    const strict = await check("sdistonly", allowlist({ rules: { wheels_only: true } }));
    expect(strict.allowed).toBe(false);
    expect(rule(strict, "wheels-only")?.detail).toMatch(/no wheel for Python 3\.11\.7/);
    const relaxed = await check("sdistonly");
    expect(relaxed.allowed && relaxed.files.map((file) => file.kind)).toEqual(["sdist"]);
  });
});

describe("pre-releases", () => {
  it("are chosen only when the specifier names one", async () => {
    expect(await check("prerel")).toMatchObject({ allowed: true, version: "1.0" });
    expect(await check("prerel>=2.0b1")).toMatchObject({ allowed: true, version: "2.0b1" });
  });
});

describe("the index behind the decision", () => {
  it("unreachable with nothing cached → fail closed", async () => {
    index.setOffline("reset");
    try {
      const decision = await check("requests");
      expect(decision.allowed).toBe(false);
      if (!decision.allowed) expect(decision.reason).toMatch(/could not be reached .*and no fresh metadata is cached; refusing \(fail closed\)/);
      expect(rule(decision, "exists")?.outcome).toBe("fail");
    } finally {
      index.setOffline(false);
    }
  });

  it("a second decision within the TTL makes no request; after it, a 304 and the same decision", async () => {
    let now = NOW;
    const shared = deps({
      now: () => now,
      index: createIndexClient({ url: index.url, timeoutMs: 5_000, retries: 0, cacheTtlSeconds: 600, db: openMemoryDb(), now: () => now }),
    });
    const first = await check("requests", allowlist(), { deps: shared });
    const count = index.requests.length;
    const second = await check("requests", allowlist(), { deps: shared });
    expect(index.requests.length).toBe(count);
    expect(second).toEqual(first);

    now = new Date(NOW.getTime() + 700_000);
    const third = await check("requests", allowlist(), { deps: shared });
    const fresh = index.requests.slice(count);
    expect(fresh.length).toBeGreaterThan(0);
    expect(fresh.every((r) => r.status === 304)).toBe(true);
    expect(third).toMatchObject({ allowed: true, version: "2.32.3" });
  });

  it("fetches the JSON API only for examined candidates, newest first", async () => {
    const before = index.requests.length;
    await check("requests");
    const paths = index.requests
      .slice(before)
      .filter((r) => r.status === 200)
      .map((r) => r.path);
    expect(paths).toEqual(["/simple/requests/", "/pypi/requests/2.33.0/json", "/pypi/requests/2.32.3/json"]);
  });
});

describe("decideExact and the output forms", () => {
  it("judges one resolved distribution by the same rules", async () => {
    expect(await decideExact("Requests", "2.32.3", { allowlist: allowlist(), pythonVersion: PY }, deps())).toMatchObject({ allowed: true, version: "2.32.3" });
    expect((await decideExact("requests", "2.33.0", { allowlist: allowlist(), pythonVersion: PY }, deps())).allowed).toBe(false);
  });

  it("formats a verdict line, one line per rule, and the hint; the JSON form validates", async () => {
    const allowed = await check("requests");
    const text = formatDecision(allowed);
    expect(text.split("\n")[0]).toBe("allowed: requests 2.32.3");
    expect(text).toMatch(/\n {2}✓ release-age: /);
    expect(text).toMatch(/\n {2}– wheels-only: /);
    const denied = await check("reqeusts");
    const deniedText = formatDecision(denied);
    expect(deniedText.split("\n")[0]).toMatch(/^denied: reqeusts: .*did you mean requests\?/);
    expect(deniedText).toMatch(/\n {2}✗ typosquat: /);
    expect(deniedText).toMatch(/\nhint: did you mean requests\?/);
    for (const decision of [allowed, denied]) {
      const json = JSON.parse(JSON.stringify(decisionToJson(decision))) as unknown;
      expect(DecisionSchema.safeParse(json).success).toBe(true);
    }
  });
});
