import { describe, expect, it } from "vitest";
import { screenDecision } from "../../src/approvals/screen.js";
import { buildAllowlist, type Allowlist } from "../../src/config/allowlist.js";
import type { Decision } from "../../src/policy/index.js";
import { ApprovalPolicySchema } from "../../src/config/policy-file-schema.js";

function allowlist(): Allowlist {
  const built = buildAllowlist({ packages: { requests: "*" }, deny: ["evil"] }, {}, "test.yaml");
  if (!built.ok) throw new Error(built.issues.join("\n"));
  return built.allowlist;
}

const policy = ApprovalPolicySchema.parse({ unlisted: true, sdists: true });

function refused(name: string, failing: Array<"allowlist" | "typosquat" | "deny">): Decision {
  return { allowed: false, name, reason: "no", rules: failing.map((rule) => ({ rule, outcome: "fail" as const, detail: "x" })) };
}

function allowed(kinds: Array<"wheel" | "sdist">): Decision {
  return {
    allowed: true,
    name: "requests",
    version: "2.0",
    summary: "",
    rules: [],
    files: kinds.map((kind) => ({
      filename: `f.${kind}`,
      url: "http://127.0.0.1/f",
      sha256: undefined,
      requiresPython: undefined,
      uploadTime: undefined,
      yanked: false as const,
      kind,
      version: "2.0",
    })),
  };
}

describe("which decisions wait for a person", () => {
  it("queues a plain unlisted name, never a deny-listed one or a lookalike", () => {
    expect(screenDecision(refused("numpy", ["allowlist"]), allowlist(), policy, "default")).toMatchObject({ queue: true, reason: "unlisted" });
    expect(screenDecision(refused("evil", ["deny"]), allowlist(), policy, "default")).toEqual({ queue: false });
    expect(screenDecision(refused("reqeusts", ["allowlist", "typosquat"]), allowlist(), policy, "default")).toEqual({ queue: false });
    // A listed name refused for its version range is a refusal, not a question.
    expect(screenDecision(refused("requests", ["allowlist"]), allowlist(), policy, "default")).toEqual({ queue: false });
  });

  it("queues an allowed release that has only an sdist, and nothing when the options are off or the environment is not covered", () => {
    expect(screenDecision(allowed(["sdist"]), allowlist(), policy, "default")).toMatchObject({ queue: true, reason: "sdist" });
    expect(screenDecision(allowed(["wheel", "sdist"]), allowlist(), policy, "default")).toEqual({ queue: false });
    const off = ApprovalPolicySchema.parse({});
    expect(screenDecision(allowed(["sdist"]), allowlist(), off, "default")).toEqual({ queue: false });
    expect(screenDecision(refused("numpy", ["allowlist"]), allowlist(), off, "default")).toEqual({ queue: false });
    const onlyProd = ApprovalPolicySchema.parse({ unlisted: true, environments: ["prod"] });
    expect(screenDecision(refused("numpy", ["allowlist"]), allowlist(), onlyProd, "default")).toEqual({ queue: false });
  });
});
