import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { screenDecision } from "../../src/approvals/screen.js";
import { buildAllowlist } from "../../src/config/allowlist.js";
import { ApprovalPolicySchema } from "../../src/config/policy-file-schema.js";
import { createIndexClient } from "../../src/index/client.js";
import { decide } from "../../src/policy/decide.js";
import { createPopularNames } from "../../src/policy/popular-names.js";
import type { Decision } from "../../src/policy/types.js";
import { parseRequirement } from "../../src/requirement/index.js";
import { openMemoryDb } from "../../src/state/db.js";
import { buildWheel } from "../fixtures/dists.js";
import { startIndexServer, type IndexServer } from "../fixtures/index-server.js";

const NOW = new Date();
const daysAgo = (days: number) => new Date(NOW.getTime() - days * 86_400_000);
let index: IndexServer;

beforeAll(async () => {
  index = await startIndexServer({
    seed: false,
    projects: [
      { name: "fresh-squat", releases: [{ version: "0.1", dists: [buildWheel({ name: "fresh-squat", version: "0.1" })], uploadTime: daysAgo(3) }] },
      {
        name: "mature-lib",
        releases: ["1.0", "1.1", "2.0"].map((version, i) => ({
          version,
          dists: [buildWheel({ name: "mature-lib", version })],
          uploadTime: daysAgo(900 - i * 100),
        })),
      },
    ],
  });
});
afterAll(async () => {
  await index.close();
});

async function check(raw: string, rules: Record<string, unknown>): Promise<Decision> {
  const built = buildAllowlist({ packages: { "fresh-squat": "*", "mature-lib": "*" }, rules }, {}, "t");
  if (!built.ok) throw new Error(built.issues.join("\n"));
  const parsed = parseRequirement(raw);
  if (!parsed.ok) throw new Error(parsed.message);
  const client = createIndexClient({ url: index.url, timeoutMs: 5_000, retries: 0, cacheTtlSeconds: 600, db: openMemoryDb() });
  return decide(
    parsed.requirement,
    { allowlist: built.allowlist, pythonVersion: "3.11.7" },
    { index: client, now: () => NOW, popularNames: createPopularNames() },
  );
}
const ruleOf = (decision: Decision) => decision.rules.find((rule) => rule.rule === "new-project");

describe("the new-project rule against the local index", () => {
  it("refuses a project whose first upload is too young, naming the signal", async () => {
    const decision = await check("fresh-squat", { new_project_min_age_days: 30 });
    expect(decision.allowed).toBe(false);
    if (decision.allowed) return;
    expect(decision.reason).toMatch(
      /^fresh-squat is refused: its first upload was 3 days ago \(\d{4}-\d\d-\d\d\), younger than new_project_min_age_days: 30 \(new-project\)$/,
    );
    expect(decision.rules.map((rule) => rule.rule).slice(5, 7)).toEqual(["exists", "new-project"]);
  });

  it("refuses a project with too few releases, and passes a mature one on both bounds", async () => {
    const few = await check("fresh-squat", { new_project_min_releases: 2 });
    expect(few.allowed).toBe(false);
    expect(ruleOf(few)?.detail).toBe("fresh-squat looks new: it has 1 release, fewer than new_project_min_releases: 2");
    const mature = await check("mature-lib", { new_project_min_age_days: 30, new_project_min_releases: 2 });
    expect(mature.allowed).toBe(true);
    expect(ruleOf(mature)).toMatchObject({ outcome: "pass", detail: expect.stringMatching(/^mature-lib has 3 releases, first upload \d{4}-/) });
  });

  it("is off by default, and listed as skipped", async () => {
    const decision = await check("fresh-squat", {});
    expect(decision.allowed).toBe(true);
    expect(ruleOf(decision)?.outcome).toBe("skip");
  });
});

describe("the unknown-name rule", () => {
  const unlisted = async (raw: string, rules: Record<string, unknown>) => {
    const built = buildAllowlist({ packages: { "mature-lib": "*" }, rules }, {}, "t");
    if (!built.ok) throw new Error(built.issues.join("\n"));
    const parsed = parseRequirement(raw);
    if (!parsed.ok) throw new Error(parsed.message);
    const client = createIndexClient({ url: index.url, timeoutMs: 5_000, retries: 0, cacheTtlSeconds: 600, db: openMemoryDb() });
    const decision = await decide(
      parsed.requirement,
      { allowlist: built.allowlist, pythonVersion: "3.11.7" },
      { index: client, now: () => NOW, popularNames: createPopularNames() },
    );
    return { decision, screened: screenDecision(decision, built.allowlist, ApprovalPolicySchema.parse({ unlisted: true }), "default") };
  };
  const unknown = (decision: Decision) => decision.rules.find((rule) => rule.rule === "unknown-name");

  it("by default lets a likely hallucinated name be queued, telling the person why it is suspect", async () => {
    const { decision, screened } = await unlisted("quantum-flux-tokenizer-pro", {});
    expect(decision.allowed).toBe(false);
    expect(unknown(decision)).toMatchObject({
      outcome: "skip",
      detail: expect.stringMatching(/on neither the allowlist nor the popular-names list: possibly a hallucinated name \(unknown_name: approval\)/),
    });
    expect(screened).toMatchObject({ queue: true, detail: expect.stringMatching(/not on the allowlist of default; quantum-flux-tokenizer-pro is on neither/) });
  });

  it("with unknown_name: deny refuses it even where unlisted names are queued, and the refusal names the signal", async () => {
    const { decision, screened } = await unlisted("quantum-flux-tokenizer-pro", { unknown_name: "deny" });
    expect(screened).toEqual({ queue: false });
    if (decision.allowed) return;
    expect(decision.reason).toBe(
      "quantum-flux-tokenizer-pro is not on the allowlist and is on neither the allowlist nor the popular-names list: possibly a hallucinated name (unknown_name: deny)",
    );
    expect(unknown(decision)?.outcome).toBe("fail");
  });

  it("passes a popular name that is merely unlisted, which stays queueable", async () => {
    const { decision, screened } = await unlisted("numpy", { unknown_name: "deny" });
    expect(unknown(decision)).toEqual({ rule: "unknown-name", outcome: "pass", detail: "numpy is a popular project" });
    expect(screened.queue).toBe(true);
  });
});

describe("the new-project rule's action", () => {
  const screened = async (rules: Record<string, unknown>, approval: Record<string, unknown> = {}) => {
    const built = buildAllowlist({ packages: { "fresh-squat": "*" }, rules }, {}, "t");
    if (!built.ok) throw new Error(built.issues.join("\n"));
    const decision = await check("fresh-squat", rules);
    return { decision, screening: screenDecision(decision, built.allowlist, ApprovalPolicySchema.parse(approval), "default") };
  };

  it("approval: the refusal is queued for a person, who is told which signal fired", async () => {
    const { decision, screening } = await screened({ new_project_min_age_days: 30, new_project: "approval" });
    expect(decision.allowed).toBe(false);
    if (!decision.allowed) expect(decision.hint).toMatch(/with new_project: approval a person may approve this install/);
    expect(screening).toEqual({
      queue: true,
      reason: "new-project",
      detail: expect.stringMatching(
        /^fresh-squat looks new: its first upload was 3 days ago .*younger than new_project_min_age_days: 30 \(new_project: approval\)$/,
      ),
    });
  });

  it("deny (the default): refused outright, never queued, whatever approval.unlisted says", async () => {
    const { screening } = await screened({ new_project_min_age_days: 30 }, { unlisted: true });
    expect(screening).toEqual({ queue: false });
  });

  it("approval does not queue in an environment the approval policy does not cover", async () => {
    const elsewhere = await screened({ new_project_min_age_days: 30, new_project: "approval" }, { environments: ["other"] });
    expect(elsewhere.screening).toEqual({ queue: false });
  });
});
