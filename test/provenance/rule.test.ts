import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAllowlist } from "../../src/config/allowlist.js";
import { createIndexClient } from "../../src/index/client.js";
import { parseSimplePage } from "../../src/index/simple-page.js";
import { decide } from "../../src/policy/decide.js";
import { createPopularNames } from "../../src/policy/popular-names.js";
import { recordProvenance } from "../../src/policy/provenance-rule.js";
import type { Decision } from "../../src/policy/types.js";
import { sqlitePublisherStore, type ProvenanceDeps, type PublisherStore } from "../../src/provenance/index.js";
import { loadTrustRoot } from "../../src/provenance/trust.js";
import { parseRequirement } from "../../src/requirement/index.js";
import { openMemoryDb } from "../../src/state/db.js";
import { buildWheel, type BuiltDist } from "../fixtures/dists.js";
import { startIndexServer, type IndexServer } from "../fixtures/index-server.js";
import { createTestSigstore, type TestPublisher, type TestSigstore } from "../fixtures/sigstore.js";

const GOOD: TestPublisher = { repository: "acme/signed-lib", workflow: "release.yml" };
const EVIL: TestPublisher = { repository: "evil/signed-lib", workflow: "x.yml" };
const GOOD_ID = "github:acme/signed-lib@.github/workflows/release.yml";
const EVIL_ID = "github:evil/signed-lib@.github/workflows/x.yml";

let index: IndexServer;
let sigstore: TestSigstore;
let deps: ProvenanceDeps;
const wheels = new Map<string, BuiltDist>();

function wheel(version: string): BuiltDist {
  const built = buildWheel({ name: "signed-lib", version });
  wheels.set(version, built);
  return built;
}

function attested(dist: BuiltDist, publisher: TestPublisher, options: { sha256?: string } = {}): Record<string, string> {
  const attestation = sigstore.attest({
    filename: dist.filename,
    sha256: dist.sha256,
    signer: publisher,
    subject: { name: dist.filename, sha256: options.sha256 ?? dist.sha256 },
  });
  return { [dist.filename]: sigstore.provenance([{ publisher, attestations: [attestation] }]) };
}

beforeAll(async () => {
  sigstore = createTestSigstore();
  const root = await loadTrustRoot(sigstore.trustedRootPath);
  if (!root.ok) throw new Error(root.error);
  const verifier = root.value;
  const [v10, v11, v12, v13] = ["1.0", "1.1", "1.2", "1.3"].map(wheel) as [BuiltDist, BuiltDist, BuiltDist, BuiltDist];
  index = await startIndexServer({
    seed: false,
    projects: [
      {
        name: "signed-lib",
        releases: [
          { version: "1.0", dists: [v10], provenance: attested(v10, GOOD) },
          { version: "1.1", dists: [v11], provenance: attested(v11, EVIL) },
          { version: "1.2", dists: [v12] },
          { version: "1.3", dists: [v13], provenance: attested(v13, GOOD, { sha256: "0".repeat(64) }) },
        ],
      },
      { name: "plain-lib", releases: [{ version: "2.0", dists: [buildWheel({ name: "plain-lib", version: "2.0" })] }] },
    ],
  });
  deps = { verifier: () => Promise.resolve({ ok: true, value: verifier }), store: sqlitePublisherStore(openMemoryDb()) };
});
afterAll(async () => {
  await index.close();
  sigstore.close();
});

function freshStore(): PublisherStore {
  return sqlitePublisherStore(openMemoryDb());
}

function allowlistWith(rules: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const built = buildAllowlist({ packages: { "signed-lib": "*", "plain-lib": "*" }, rules, ...extra }, {}, "t");
  if (!built.ok) throw new Error(built.issues.join("\n"));
  return built.allowlist;
}

async function check(raw: string, rules: Record<string, unknown>, store: PublisherStore | undefined, extra: Record<string, unknown> = {}): Promise<Decision> {
  const parsed = parseRequirement(raw);
  if (!parsed.ok) throw new Error(parsed.message);
  const client = createIndexClient({ url: index.url, timeoutMs: 5_000, retries: 0, cacheTtlSeconds: 600, db: openMemoryDb() });
  return decide(
    parsed.requirement,
    { allowlist: allowlistWith(rules, extra), pythonVersion: "3.11.7" },
    { index: client, now: () => new Date(), popularNames: createPopularNames(), ...(store === undefined ? {} : { provenance: { ...deps, store } }) },
  );
}
const ruleOf = (decision: Decision) => decision.rules.find((rule) => rule.rule === "provenance");

describe("the provenance rule against the local index's Integrity API", () => {
  it("is off by default and listed as skipped", async () => {
    const decision = await check("signed-lib==1.1", {}, freshStore());
    expect(decision.allowed).toBe(true);
    expect(ruleOf(decision)).toEqual({ rule: "provenance", outcome: "skip", detail: "not checked (rules.provenance: off)" });
    expect(decision.rules.at(-1)?.rule).toBe("provenance");
  });

  it("pinned, first install: verifies the attestation and names the publisher it will record", async () => {
    const decision = await check("signed-lib==1.0", { provenance: "pinned" }, freshStore());
    expect(decision.allowed).toBe(true);
    expect(ruleOf(decision)).toEqual({
      rule: "provenance",
      outcome: "pass",
      detail: `signed-lib 1.0: 1 file attested by ${GOOD_ID}; recorded as the publisher at the first install`,
    });
  });

  it("pinned, after a first install: a changed publisher is refused with both identities named", async () => {
    const store = freshStore();
    await store.recordFirst({ indexUrl: index.url, project: "signed-lib", publisher: GOOD_ID, firstVersion: "1.0", recordedAt: new Date() });
    const changed = await check("signed-lib==1.1", { provenance: "pinned" }, store);
    expect(changed.allowed).toBe(false);
    if (changed.allowed) return;
    expect(changed.reason).toBe(
      `signed-lib 1.1 is refused: signed-lib was published by ${GOOD_ID} (recorded at the first install, 1.0), but 1.1 was published by ${EVIL_ID} (provenance_change: deny) (provenance)`,
    );
    expect(changed.hint).toContain("taken-over account");
    expect(ruleOf(changed)?.outcome).toBe("fail");
    const same = await check("signed-lib==1.0", { provenance: "pinned" }, store);
    expect(ruleOf(same)).toMatchObject({ outcome: "pass", detail: expect.stringContaining(", the publisher recorded at the first install") as unknown });
  });

  it("pinned, after a first install: a release whose attestation disappeared is refused", async () => {
    const store = freshStore();
    await store.recordFirst({ indexUrl: index.url, project: "signed-lib", publisher: GOOD_ID, firstVersion: "1.0", recordedAt: new Date() });
    const gone = await check("signed-lib==1.2", { provenance: "pinned" }, store);
    expect(gone.allowed).toBe(false);
    if (gone.allowed) return;
    expect(gone.reason).toContain(
      `signed-lib was published by ${GOOD_ID} (recorded at the first install, 1.0), but 1.2 has no attestation: its provenance disappeared (provenance_change: deny)`,
    );
  });

  it("an unpinned request does not fall back to an older release: the newest allowed one is judged and refused", async () => {
    const store = freshStore();
    await store.recordFirst({ indexUrl: index.url, project: "signed-lib", publisher: GOOD_ID, firstVersion: "1.0", recordedAt: new Date() });
    const decision = await check("signed-lib<1.3", { provenance: "pinned" }, store);
    expect(decision).toMatchObject({ allowed: false, version: "1.2" });
  });

  it("refuses an attestation that does not verify (wrong digest), whatever the record", async () => {
    const decision = await check("signed-lib==1.3", { provenance: "pinned" }, freshStore());
    expect(decision.allowed).toBe(false);
    expect(ruleOf(decision)?.detail).toContain("is not the file's");
  });

  it("required refuses a file without attestation; pinned lets a never-attested project through", async () => {
    const required = await check("plain-lib", { provenance: "required" }, freshStore());
    expect(required.allowed).toBe(false);
    expect(ruleOf(required)?.detail).toBe("plain-lib 2.0: plain_lib-2.0-py3-none-any.whl has no attestation (rules.provenance: required)");
    const pinned = await check("plain-lib", { provenance: "pinned" }, freshStore());
    expect(pinned.allowed).toBe(true);
    expect(ruleOf(pinned)?.detail).toBe("plain-lib 2.0 has no attestations on the index and none were recorded before (rules.provenance: pinned)");
  });

  it("an exemption lets one release through, quoted in the detail", async () => {
    const store = freshStore();
    await store.recordFirst({ indexUrl: index.url, project: "signed-lib", publisher: GOOD_ID, firstVersion: "1.0", recordedAt: new Date() });
    const exemptions = [{ package: "signed-lib", version: "1.1", rule: "provenance", reason: "the project moved to a new org", expires: "2999-01-01" }];
    const decision = await check("signed-lib==1.1", { provenance: "pinned" }, store, { exemptions });
    expect(decision.allowed).toBe(true);
    expect(ruleOf(decision)?.detail).toMatch(
      /but 1\.1 was published by github:evil\/signed-lib.* \(provenance_change: deny\); exempted until 2999-01-01: the project moved to a new org$/,
    );
  });

  it("fails closed when the rule is set but no trust root was given", async () => {
    const decision = await check("signed-lib==1.0", { provenance: "pinned" }, undefined);
    expect(decision.allowed).toBe(false);
    expect(ruleOf(decision)?.detail).toContain("no trust root is configured");
  });

  it("records the publisher of a committed wheel once: the first install wins", async () => {
    const store = freshStore();
    const client = createIndexClient({ url: index.url, timeoutMs: 5_000, retries: 0, cacheTtlSeconds: 600, db: openMemoryDb() });
    const allowlist = allowlistWith({ provenance: "pinned" });
    const v10 = wheels.get("1.0")!;
    const first = await recordProvenance([{ name: "signed-lib", version: "1.0", sha256: v10.sha256 }], allowlist, () => client, { ...deps, store }, new Date());
    expect(first).toEqual({ recorded: [{ project: "signed-lib", publisher: GOOD_ID }], repinned: [], errors: [] });
    const v11 = wheels.get("1.1")!;
    const again = await recordProvenance([{ name: "signed-lib", version: "1.1", sha256: v11.sha256 }], allowlist, () => client, { ...deps, store }, new Date());
    expect(again.recorded).toEqual([]);
    expect(await store.get(index.url, "signed-lib")).toMatchObject({ publisher: GOOD_ID, firstVersion: "1.0" });
    expect(await store.forget(index.url, "signed-lib")).toBe(true);
    expect(await store.get(index.url, "signed-lib")).toBeUndefined();
  });

  it("the index client refuses a provenance URL on another origin", async () => {
    const client = createIndexClient({ url: index.url, timeoutMs: 5_000, retries: 0, cacheTtlSeconds: 0 });
    const answer = await client.provenance("http://127.0.0.2:9/integrity/x/1/x.whl/provenance");
    expect(answer).toMatchObject({ ok: false, error: { kind: "invalid", message: expect.stringContaining("another origin") as unknown } });
    const page = await client.project("signed-lib");
    expect(page.ok && page.value.files.find((file) => file.version === "1.0")?.provenanceUrl).toBe(
      `${index.origin}/integrity/signed-lib/1.0/${wheels.get("1.0")!.filename}/provenance`,
    );
    expect(page.ok && page.value.files.find((file) => file.version === "1.2")?.provenanceUrl).toBeUndefined();
  });
});

describe("PEP 740 provenance URLs on project pages", () => {
  it("reads data-provenance from PEP 503 HTML and provenance from PEP 691 JSON, resolving relative URLs and ignoring null", () => {
    const html = `<a href="/files/x_lib-1.0-py3-none-any.whl#sha256=${"a".repeat(64)}" data-provenance="/integrity/x-lib/1.0/x_lib-1.0-py3-none-any.whl/provenance">x_lib-1.0-py3-none-any.whl</a>`;
    const fromHtml = parseSimplePage(html, "text/html", "http://127.0.0.1:1/simple/x-lib/", "x-lib");
    expect(fromHtml.ok && fromHtml.value.files[0]?.provenanceUrl).toBe("http://127.0.0.1:1/integrity/x-lib/1.0/x_lib-1.0-py3-none-any.whl/provenance");
    const json = JSON.stringify({
      meta: { "api-version": "1.1" },
      name: "x-lib",
      files: [
        { filename: "x_lib-1.0-py3-none-any.whl", url: "/f/a.whl", hashes: { sha256: "a".repeat(64) }, provenance: null },
        { filename: "x_lib-1.1-py3-none-any.whl", url: "/f/b.whl", hashes: { sha256: "b".repeat(64) }, provenance: "javascript:alert(1)" },
        { filename: "x_lib-1.2-py3-none-any.whl", url: "/f/c.whl", hashes: { sha256: "c".repeat(64) }, provenance: "https://other.invalid/p" },
      ],
    });
    const fromJson = parseSimplePage(json, "application/vnd.pypi.simple.v1+json", "http://127.0.0.1:1/simple/x-lib/", "x-lib");
    expect(fromJson.ok && fromJson.value.files.map((file) => file.provenanceUrl)).toEqual([undefined, undefined, "https://other.invalid/p"]);
  });
});
