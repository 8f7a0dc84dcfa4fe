import { describe, expect, it } from "vitest";
import { isValidVersion, mentionsPrerelease, versionSatisfies } from "../../src/requirement/index.js";
import { askPackaging, type OracleQuery } from "./pep440-oracle.js";

const VERSIONS = [
  "0.9",
  "1.0",
  "1.0.0",
  "1.0a1",
  "1.0b2",
  "1.0rc1",
  "1.0.post1",
  "1.0.dev1",
  "1.0+local.1",
  "1.1",
  "1.5a1",
  "1.7",
  "1.7.0",
  "1.7.1",
  "1.7.post1",
  "1.7rc1",
  "2.0",
  "2.0.dev0",
  "2.0.1",
  "1!0.5",
  "3.0",
  "10.0",
];
const SPECIFIERS = [
  ">=1.0",
  "<2",
  "==1.*",
  "!=1.0",
  "~=1.0",
  "~=1.7.0",
  ">1.7",
  "<1.7",
  "==1.0",
  "===1.0",
  ">=1.0a1,<2",
  "==1.0+local.1",
  "<=2.0",
  ">=1.0,!=1.5a1",
  "==2.0.*",
  "!=1.*",
  ">=1!0",
  ">1.7.post1",
  "<2.0.dev0",
  "==1.0.0",
  ">=1.0.dev0",
  "~=1.0a1",
  ">=0.9,<1.7,!=1.1",
  "<1.0rc1",
  "!=1.0a1",
];

describe("versionSatisfies", () => {
  it("agrees with pip's packaging on every version x specifier pair", async () => {
    const pairs = VERSIONS.flatMap((version) => SPECIFIERS.map((specifier) => ({ version, specifier })));
    const answers = await askPackaging(pairs.map((pair): OracleQuery => ({ op: "contains", ...pair })));
    const disagreements = pairs
      .map((pair, index) => ({ ...pair, packaging: answers[index], pipgate: versionSatisfies(pair.version, pair.specifier) }))
      .filter((row) => row.packaging !== row.pipgate);
    expect(disagreements).toEqual([]);
    expect(answers.filter((answer) => answer === true).length).toBeGreaterThan(50);
  });

  it("treats an empty specifier as any version, pre-releases included", () => {
    expect(versionSatisfies("2.0rc1", "")).toBe(true);
    expect(versionSatisfies("1.0", "")).toBe(true);
  });

  it("lets the caller decide about pre-releases", () => {
    expect(versionSatisfies("2.0rc1", ">=1.0")).toBe(false);
    expect(versionSatisfies("2.0rc1", ">=1.0", { prereleases: true })).toBe(true);
    expect(versionSatisfies("2.0rc1", ">=2.0rc1", { prereleases: false })).toBe(false);
  });

  it("fails closed on an invalid version or specifier", () => {
    expect(versionSatisfies("latest", ">=1.0")).toBe(false);
    expect(versionSatisfies("latest", "")).toBe(false);
    expect(versionSatisfies("1.0", "==latest")).toBe(false);
    expect(versionSatisfies("1.0", ">=1.*")).toBe(false);
  });

  it("knows which specifiers name a pre-release", () => {
    expect(mentionsPrerelease(">=1.0a1,<2")).toBe(true);
    expect(mentionsPrerelease("!=1.0a1")).toBe(false);
    expect(mentionsPrerelease(">=1.0,<2")).toBe(false);
  });
});

describe("isValidVersion", () => {
  it.each(["1", "1.0", "1!2.0", "1.0a1", "1.0.post1", "1.0.dev3", "1.0+ubuntu.1", "v1.0", "1.0-1"])("accepts %s", (v) => {
    expect(isValidVersion(v)).toBe(true);
  });
  it.each(["", "latest", "1.0 ", "1..0", "1.0+", "$(id)", "1.0;rm"])("refuses %j", (v) => {
    expect(isValidVersion(v)).toBe(false);
  });
});
