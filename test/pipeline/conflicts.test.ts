import { describe, expect, it } from "vitest";
import { brokenRequirements } from "../../src/pipeline/conflicts.js";

describe("what an install would break", () => {
  const installed = [
    { name: "old-user", version: "1.0", requires: ["shared-lib<2", "other>=1; python_version < '3.0'", "extra-only>=9; extra == 'x'"] },
    { name: "shared-lib", version: "1.0", requires: [] },
    { name: "Fine_User", version: "3.0", requires: ["shared-lib (>=1)"] },
  ];

  it("names the installed distribution, its requirement and what would arrive", () => {
    expect(brokenRequirements(installed, [{ name: "shared-lib", version: "2.0" }])).toEqual([
      "old-user 1.0 (installed) requires shared-lib<2, but this install would bring shared-lib 2.0",
    ]);
  });

  it("accepts an incoming set that keeps every requirement", () => {
    expect(brokenRequirements(installed, [{ name: "shared-lib", version: "1.5" }])).toEqual([]);
  });

  it("ignores requirements of distributions the install replaces, and marker-bound ones", () => {
    expect(brokenRequirements(installed, [{ name: "old-user", version: "2.0" }, { name: "shared-lib", version: "2.0" }])).toEqual([]);
    expect(brokenRequirements(installed, [{ name: "other", version: "0.1" }, { name: "extra-only", version: "1" }])).toEqual([]);
  });
});
