import { describe, expect, it } from "vitest";
import { shadowAllowlist, unlistedAllowed } from "../../src/approvals/open-allowlist.js";
import { setDifferences, type SetDist } from "../../src/approvals/resolved-set.js";
import { buildAllowlist } from "../../src/config/allowlist.js";

const sha = (c: string) => c.repeat(64);
const dist = (name: string, version: string, file: string, extra: Partial<SetDist> = {}): SetDist => ({
  name,
  version,
  sha256: sha(file),
  source: { filename: `${name}-${version}-py3-none-any.whl`, sha256: sha(file) },
  built: false,
  rules: [],
  path: `/store/${name}.whl`,
  ...extra,
});

describe("setDifferences: what makes an approved set another set", () => {
  const approved = [dist("flask", "3.0.0", "a"), dist("blinker", "1.7.0", "b")];

  it("the same releases from the same files are the same set, in any order", () => {
    expect(setDifferences(approved, [...approved].reverse())).toEqual([]);
  });

  it("a new version, a changed file, a dependency added or gone each need a new approval", () => {
    expect(setDifferences(approved, [dist("flask", "3.0.0", "a"), dist("blinker", "1.8.0", "b")])).toEqual(["blinker 1.7.0 became 1.8.0"]);
    expect(setDifferences(approved, [dist("flask", "3.0.0", "c"), dist("blinker", "1.7.0", "b")])[0]).toContain("flask 3.0.0 resolves to another file");
    expect(setDifferences(approved, [...approved, dist("click", "8.1.7", "d")])).toEqual(["click 8.1.7 joined the set"]);
    expect(setDifferences(approved, [approved[0]!])).toEqual(["blinker 1.7.0 is no longer in the set"]);
  });

  it("a wheel built again from the same sdist is the same set (a rebuild need not be byte-identical)", () => {
    const built = (wheel: string) => dist("legacy", "1.0", wheel, { built: true, source: { filename: "legacy-1.0.tar.gz", sha256: sha("e") } });
    expect(setDifferences([built("f")], [built("0")])).toEqual([]);
    expect(setDifferences([built("f")], [{ ...built("0"), source: { filename: "legacy-1.0.tar.gz", sha256: sha("9") } }])).toHaveLength(1);
  });
});

describe("the wider allowlists of approvals and shadow mode", () => {
  const built = buildAllowlist({ packages: { requests: ">=2,<3" }, deny: ["evil"], rules: { min_release_age_days: 7, typosquat: true } }, {}, "test");
  if (!built.ok) throw new Error(built.issues.join("\n"));
  const allowlist = built.allowlist;

  it("an approval lets unlisted names through at any version, keeps listed ranges and the deny list, and lists only the file's names", () => {
    const open = unlistedAllowed(allowlist);
    expect(open.packages.get("blinker")).toEqual({ name: "blinker", specifier: "" });
    expect(open.packages.get("requests")?.specifier).toBe(">=2,<3");
    expect(open.packages.has("evil")).toBe(false);
    expect(open.packages.get("evil")).toBeUndefined();
    expect([...open.packages.keys()]).toEqual(["requests"]);
    expect(open.rules).toEqual(allowlist.rules);
  });

  it("shadow mode also lifts the ranges and the metadata rules, never the deny list", () => {
    const shadow = shadowAllowlist(allowlist);
    expect(shadow.packages.get("requests")?.specifier).toBe("");
    expect(shadow.packages.has("evil")).toBe(false);
    expect(shadow.rules).toMatchObject({ min_release_age_days: 0, typosquat: false, vulnerabilities: "allow", wheels_only: false });
  });
});
