// rules.provenance_change: the pin failure as a value (recorded and seen publisher), which decisions the
// screen turns into a question, the approval's lifted allowlist, the set judged for the approver, the
// record moved after an approved install, overlays (the stricter wins), and the SQLite store's repin.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { approvedChanges, provenanceChangesAllowed } from "../../src/approvals/open-allowlist.js";
import { judgeSet } from "../../src/approvals/resolved-set.js";
import { screenDecision } from "../../src/approvals/screen.js";
import { buildAllowlist, type Allowlist } from "../../src/config/allowlist.js";
import { ApprovalPolicySchema } from "../../src/config/policy-file-schema.js";
import { narrowAllowlist, overlayLoader } from "../../src/grants/allowlist-overlay.js";
import { createIndexClient } from "../../src/index/client.js";
import type { IndexClient } from "../../src/index/types.js";
import { decide, type PolicyDeps } from "../../src/policy/decide.js";
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
import { publisherContract } from "./publisher-contract.js";

const GOOD: TestPublisher = { repository: "acme/moved-lib", workflow: "release.yml" };
const NEW: TestPublisher = { repository: "acme-org/moved-lib", workflow: "release.yml" };
const GOOD_ID = "github:acme/moved-lib@.github/workflows/release.yml";
const NEW_ID = "github:acme-org/moved-lib@.github/workflows/release.yml";

let index: IndexServer;
let sigstore: TestSigstore;
let verifier: ProvenanceDeps["verifier"];
const wheels = new Map<string, BuiltDist>();

beforeAll(async () => {
  sigstore = createTestSigstore();
  const root = await loadTrustRoot(sigstore.trustedRootPath);
  if (!root.ok) throw new Error(root.error);
  const trust = root.value;
  verifier = () => Promise.resolve({ ok: true, value: trust });
  const attested = (dist: BuiltDist, publisher: TestPublisher) => ({
    [dist.filename]: sigstore.provenance([{ publisher, attestations: [sigstore.attest({ filename: dist.filename, sha256: dist.sha256, signer: publisher })] }]),
  });
  const [v10, v11, v12] = ["1.0", "1.1", "1.2"].map((version) => {
    const built = buildWheel({ name: "moved-lib", version });
    wheels.set(version, built);
    return built;
  }) as [BuiltDist, BuiltDist, BuiltDist];
  index = await startIndexServer({
    seed: false,
    projects: [
      {
        name: "moved-lib",
        releases: [
          { version: "1.0", dists: [v10], provenance: attested(v10, GOOD) },
          { version: "1.1", dists: [v11], provenance: attested(v11, NEW) },
          { version: "1.2", dists: [v12] },
        ],
      },
      { name: "plain-lib", releases: [{ version: "2.0", dists: [buildWheel({ name: "plain-lib", version: "2.0" })] }] },
    ],
  });
});
afterAll(async () => {
  await index?.close();
  sigstore?.close();
});

function allowlistWith(rules: Record<string, unknown>): Allowlist {
  const built = buildAllowlist({ packages: { "moved-lib": "*", "plain-lib": "*" }, rules }, {}, "t");
  if (!built.ok) throw new Error(built.issues.join("\n"));
  return built.allowlist;
}

function client(): IndexClient {
  return createIndexClient({ url: index.url, timeoutMs: 5_000, retries: 0, cacheTtlSeconds: 600, db: openMemoryDb() });
}

async function pinnedStore(publisher = GOOD_ID): Promise<PublisherStore> {
  const store = sqlitePublisherStore(openMemoryDb());
  await store.recordFirst({ indexUrl: index.url, project: "moved-lib", publisher, firstVersion: "1.0", recordedAt: new Date() });
  return store;
}

function policyDeps(store: PublisherStore): PolicyDeps {
  return { index: client(), now: () => new Date(), popularNames: createPopularNames(), provenance: { verifier, store } };
}

async function check(raw: string, allowlist: Allowlist, store: PublisherStore): Promise<Decision> {
  const parsed = parseRequirement(raw);
  if (!parsed.ok) throw new Error(parsed.message);
  return decide(parsed.requirement, { allowlist, pythonVersion: "3.11.7" }, policyDeps(store));
}

const ruleOf = (decision: Decision) => decision.rules.find((rule) => rule.rule === "provenance");
const approval = ApprovalPolicySchema.parse({ unlisted: true });
const APPROVAL = { provenance: "pinned", provenance_change: "approval" };

describe("the provenance rule's pin failure under provenance_change", () => {
  it("names the action in the rule's detail and carries both identities; the hint says who may approve it", async () => {
    const store = await pinnedStore();
    const denied = await check("moved-lib==1.1", allowlistWith({ provenance: "pinned" }), store);
    expect(ruleOf(denied)?.detail).toBe(
      `moved-lib was published by ${GOOD_ID} (recorded at the first install, 1.0), but 1.1 was published by ${NEW_ID} (provenance_change: deny)`,
    );
    expect(denied).toMatchObject({ allowed: false, provenanceChange: { recorded: GOOD_ID, seen: NEW_ID } });
    const queued = await check("moved-lib==1.1", allowlistWith(APPROVAL), store);
    expect(ruleOf(queued)?.detail).toMatch(/but 1\.1 was published by .* \(provenance_change: approval\)$/);
    if (queued.allowed) throw new Error("allowed");
    expect(queued.hint).toMatch(/with provenance_change: approval a person may approve this install/);
    const vanished = await check("moved-lib==1.2", allowlistWith(APPROVAL), store);
    expect(vanished).toMatchObject({ allowed: false, provenanceChange: { recorded: GOOD_ID, seen: null } });
  });

  it("a project never seen, without attestation under required, is a plain refusal: no change to approve", async () => {
    const decision = await check("plain-lib", allowlistWith({ provenance: "required", provenance_change: "approval" }), await pinnedStore());
    expect(decision.allowed).toBe(false);
    if (decision.allowed) return;
    expect(decision.provenanceChange).toBeUndefined();
    expect(screenDecision(decision, allowlistWith({ provenance: "required", provenance_change: "approval" }), approval, "default")).toEqual({
      queue: false,
    });
  });

  it("the approval's allowlist lets a change through: any while asking, only the approved one when it runs", async () => {
    const store = await pinnedStore();
    const real = allowlistWith(APPROVAL);
    const asking = await check("moved-lib==1.1", provenanceChangesAllowed(real, "any"), store);
    expect(asking.allowed).toBe(true);
    expect(ruleOf(asking)?.detail).toMatch(/published by .*; held for a person to approve \(provenance_change: approval\)$/);
    const approved = new Map([["moved-lib", { version: "1.1", recorded: GOOD_ID, seen: NEW_ID }]]);
    const running = await check("moved-lib==1.1", provenanceChangesAllowed(real, approved), store);
    expect(running.allowed).toBe(true);
    expect(ruleOf(running)?.detail).toMatch(/; this change was approved \(provenance_change: approval\)$/);
    // another version, another identity, a record that moved since: not what was approved
    expect((await check("moved-lib==1.2", provenanceChangesAllowed(real, approved), store)).allowed).toBe(false);
    const otherSeen = new Map([["moved-lib", { version: "1.1", recorded: GOOD_ID, seen: "github:evil/x@w" }]]);
    expect((await check("moved-lib==1.1", provenanceChangesAllowed(real, otherSeen), store)).allowed).toBe(false);
    expect((await check("moved-lib==1.1", provenanceChangesAllowed(real, approved), await pinnedStore("github:other/x@w"))).allowed).toBe(false);
    // under deny, no lift applies
    expect((await check("moved-lib==1.1", provenanceChangesAllowed(allowlistWith({ provenance: "pinned" }), "any"), store)).allowed).toBe(false);
  });

  it("the set put to the approver marks the release `provenance` with both identities; approvedChanges reads them back", async () => {
    const store = await pinnedStore();
    const real = allowlistWith(APPROVAL);
    const v11 = wheels.get("1.1")!;
    const wheel = { name: "moved-lib", version: "1.1", sha256: v11.sha256, path: "/store/moved_lib-1.1-py3-none-any.whl" };
    const env = (allowlist: Allowlist) => ({ allowlist, pythonVersion: "3.11.7" });
    const judged = await judgeSet([wheel], env(real), env(provenanceChangesAllowed(real, "any")), policyDeps(store));
    expect(judged).toMatchObject({
      ok: true,
      set: [{ name: "moved-lib", version: "1.1", needs: "provenance", publisher: { recorded: GOOD_ID, seen: NEW_ID } }],
    });
    if (!judged.ok) return;
    expect([...approvedChanges(judged.set)]).toEqual([["moved-lib", { version: "1.1", recorded: GOOD_ID, seen: NEW_ID }]]);
    // under deny the same set is refused outright
    const denied = allowlistWith({ provenance: "pinned" });
    expect(await judgeSet([wheel], env(denied), env(provenanceChangesAllowed(real, "any")), policyDeps(store))).toMatchObject({ ok: false });
  });

  it("an approved install moves the record to the approved publisher, once; an approved vanished attestation leaves it", async () => {
    const store = await pinnedStore();
    const allowlist = allowlistWith(APPROVAL);
    const deps = { verifier, store };
    const v11 = wheels.get("1.1")!;
    const installed = [{ name: "moved-lib", version: "1.1", sha256: v11.sha256 }];
    const changes = new Map([["moved-lib", { version: "1.1", recorded: GOOD_ID, seen: NEW_ID }]]);
    const moved = await recordProvenance(installed, allowlist, () => client(), deps, new Date(), changes);
    expect(moved).toEqual({ recorded: [], repinned: [{ project: "moved-lib", from: GOOD_ID, to: NEW_ID }], errors: [] });
    expect(await store.get(index.url, "moved-lib")).toMatchObject({ publisher: NEW_ID, firstVersion: "1.1" });
    expect(await recordProvenance(installed, allowlist, () => client(), deps, new Date(), changes)).toEqual({ recorded: [], repinned: [], errors: [] });
    // without an approval the record is never moved
    const untouched = await pinnedStore();
    await recordProvenance(installed, allowlist, () => client(), { verifier, store: untouched }, new Date());
    expect(await untouched.get(index.url, "moved-lib")).toMatchObject({ publisher: GOOD_ID });
    // an approved release without an attestation: the record stays, the next one is held again
    const gone = await pinnedStore();
    const v12 = wheels.get("1.2")!;
    const none = new Map([["moved-lib", { version: "1.2", recorded: GOOD_ID, seen: null }]]);
    const kept = await recordProvenance(
      [{ name: "moved-lib", version: "1.2", sha256: v12.sha256 }],
      allowlist,
      () => client(),
      { verifier, store: gone },
      new Date(),
      none,
    );
    expect(kept.repinned).toEqual([]);
    expect(await gone.get(index.url, "moved-lib")).toMatchObject({ publisher: GOOD_ID });
  });
});

describe("which provenance refusals wait for a person", () => {
  const change = { recorded: GOOD_ID, seen: NEW_ID };
  const refused = (rules: Decision["rules"], provenanceChange: typeof change | null = change, name = "moved-lib"): Decision => ({
    allowed: false,
    name,
    version: "1.1",
    reason: "no",
    rules,
    ...(provenanceChange === null ? {} : { provenanceChange }),
  });
  const pin = { rule: "provenance" as const, outcome: "fail" as const, detail: `but 1.1 was published by ${NEW_ID} (provenance_change: approval)` };

  it("queues a pin failure of a listed name when provenance_change: approval and it is the only failure, naming both", () => {
    expect(screenDecision(refused([pin]), allowlistWith(APPROVAL), approval, "default")).toEqual({ queue: true, reason: "provenance", detail: pin.detail });
  });

  it("refuses it outright under the default (deny), with another failing rule, for an unlisted name, another failure kind, or an uncovered environment", () => {
    const no = { queue: false };
    expect(screenDecision(refused([pin]), allowlistWith({ provenance: "pinned" }), approval, "default")).toEqual(no);
    const age = { rule: "release-age" as const, outcome: "fail" as const, detail: "young" };
    expect(screenDecision(refused([age, pin]), allowlistWith(APPROVAL), approval, "default")).toEqual(no);
    expect(screenDecision(refused([pin], change, "unlisted-lib"), allowlistWith(APPROVAL), ApprovalPolicySchema.parse({}), "default")).toEqual(no);
    expect(screenDecision(refused([{ ...pin, detail: "does not verify" }], null), allowlistWith(APPROVAL), approval, "default")).toEqual(no);
    const elsewhere = ApprovalPolicySchema.parse({ environments: ["other"] });
    expect(screenDecision(refused([pin]), allowlistWith(APPROVAL), elsewhere, "default")).toEqual(no);
  });
});

describe("provenance_change in a grant's overlay", () => {
  const dir = mkdtempSync(join(tmpdir(), "pipgate-provchange-overlay-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const overlay = (name: string, rules: Record<string, unknown>): Allowlist => {
    const path = join(dir, `${name}.yaml`);
    writeFileSync(path, stringify({ rules }));
    const loaded = overlayLoader()(path);
    if (!loaded.ok) throw new Error(loaded.error);
    return loaded.overlay;
  };

  it("takes the stricter: deny over approval, and an overlay that does not set it narrows nothing", () => {
    expect(narrowAllowlist(allowlistWith(APPROVAL), overlay("deny", { provenance_change: "deny" })).rules.provenance_change).toBe("deny");
    expect(narrowAllowlist(allowlistWith({ provenance: "pinned" }), overlay("approval", { provenance_change: "approval" })).rules.provenance_change).toBe(
      "deny",
    );
    expect(narrowAllowlist(allowlistWith(APPROVAL), overlay("unset", { min_release_age_days: 1 })).rules.provenance_change).toBe("approval");
  });
});

publisherContract("sqlite", () => Promise.resolve({ store: sqlitePublisherStore(openMemoryDb()), close: () => Promise.resolve() }));
