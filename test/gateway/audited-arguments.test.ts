import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../src/audit/canonical-json.js";
import { AUDIT_ARGUMENTS_MAX_BYTES, auditedArguments } from "../../src/gateway/extension.js";

describe("a forwarded call's arguments in its audit record", () => {
  it("keeps small arguments whole, with the sha256 of their canonical JSON", () => {
    const args = { code: "print(1)", b: 2 };
    const kept = auditedArguments(args);
    expect(kept.arguments).toEqual(args);
    expect(kept.sha256).toBe(createHash("sha256").update(canonicalJson(args)).digest("hex"));
    expect(kept.bytes).toBe(Buffer.byteLength(canonicalJson(args)));
  });

  it("keeps a bounded preview of a hostile flood, and the hash and size of all of it", () => {
    const args = { code: "x".repeat(10 * 1024 * 1024) };
    const kept = auditedArguments(args);
    expect(kept.bytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(kept.sha256).toBe(createHash("sha256").update(canonicalJson(args)).digest("hex"));
    expect(kept.arguments).toMatchObject({ truncated: true });
    expect(Buffer.byteLength(JSON.stringify(kept.arguments))).toBeLessThanOrEqual(AUDIT_ARGUMENTS_MAX_BYTES);
  });
});
