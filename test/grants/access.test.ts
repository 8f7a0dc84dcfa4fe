import { execaSync } from "execa";
import { describe, expect, it } from "vitest";
import { createGrantAccess } from "../../src/grants/access.js";
import { GrantsSchema } from "../../src/config/grants-schema.js";
import { bearerToken, grantForToken, hashToken } from "../../src/grants/tokens.js";

describe("grants", () => {
  it("stores tokens as the same sha256 that `printf %s TOKEN | sha256sum` prints", () => {
    const shell = execaSync("sh", ["-c", "printf %s 's3cret-token' | sha256sum"]).stdout.split(" ")[0];
    expect(hashToken("s3cret-token")).toBe(shell);
  });

  it("maps a token to its grant only, and parses Bearer headers strictly", () => {
    const grants = GrantsSchema.parse({ a: { token_sha256: hashToken("ta") }, b: { token_sha256: hashToken("tb"), environments: ["x"] }, stdio: {} });
    expect(grantForToken(grants, "ta")).toBe("a");
    expect(grantForToken(grants, "tb")).toBe("b");
    expect(grantForToken(grants, "tc")).toBeUndefined();
    expect(bearerToken("Bearer abc")).toBe("abc");
    expect(bearerToken("bearer abc")).toBe("abc");
    expect(bearerToken("Basic abc")).toBeUndefined();
    expect(bearerToken("Bearer")).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });

  it("narrows environments per grant, gives the stdio identity every environment when it is no grant, and nobody else any", () => {
    const grants = GrantsSchema.parse({ a: { environments: ["x"] }, all: { environments: "*" } });
    const built = createGrantAccess(grants, "local", ["x", "y"]);
    expect(built.ok).toBe(true);
    if (!built.ok) return;
    expect(built.access.environmentsFor("a")).toEqual(["x"]);
    expect(built.access.environmentsFor("all")).toEqual(["x", "y"]);
    expect(built.access.environmentsFor("local")).toEqual(["x", "y"]);
    expect(built.access.environmentsFor("stranger")).toEqual([]);
    expect(built.access.hasTokens).toBe(false);
  });

  it("gives every grant a role, agent unless it says auditor or approver, and refuses any other role", () => {
    const grants = GrantsSchema.parse({ a: {}, audit: { role: "auditor" }, approve: { role: "approver" } });
    const built = createGrantAccess(grants, "local", ["x"]);
    if (!built.ok) throw new Error(built.issues.join("; "));
    expect(built.access.roleFor("a")).toBe("agent");
    expect(built.access.roleFor("audit")).toBe("auditor");
    expect(built.access.roleFor("approve")).toBe("approver");
    expect(built.access.roleFor("local")).toBeUndefined();
    expect(built.access.roleFor("__proto__")).toBeUndefined();
    expect(GrantsSchema.safeParse({ a: { role: "admin" } }).success).toBe(false);
  });

  it("refuses grants naming unknown environments, shared tokens and plain-text tokens, each in one line", () => {
    const shared = hashToken("same");
    const built = createGrantAccess(GrantsSchema.parse({ a: { environments: ["nope"], token_sha256: shared }, b: { token_sha256: shared } }), "local", ["x"]);
    expect(built.ok).toBe(false);
    if (built.ok) return;
    expect(built.issues).toEqual([
      'grants.a.environments: "nope" is not a configured environment',
      "grants.b.token_sha256: the same token as grants.a; every grant needs its own token",
    ]);
    const plain = GrantsSchema.safeParse({ a: { token_sha256: "hunter2" } });
    expect(plain.success).toBe(false);
    expect(plain.error?.issues[0]?.message).toContain("never the token itself");
  });
});
