import { describe, expect, it } from "vitest";
import { createPopularNames, locateDataFile } from "../../src/policy/popular-names.js";
import { createNameIndex, editDistanceAtMostOne, skeleton } from "../../src/policy/typosquat.js";

const allowed = createNameIndex(["requests", "python-dateutil", "django"]);

describe("typosquat name index", () => {
  it.each([
    ["reqeusts", "requests"], // adjacent transposition
    ["requets", "requests"], // deletion
    ["requestss", "requests"], // insertion
    ["requezts", "requests"], // substitution
    ["python-requests", "requests"], // python prefix
    ["requests-py", "requests"], // py suffix
    ["pyrequests", "requests"],
    ["request-s", "requests"], // separator inserted
    ["python-dateutils", "python-dateutil"],
    ["python_dateutil2", "python-dateutil"],
    ["dateutil-python", "python-dateutil"],
    ["djang0", "django"], // o/0
    ["dj4ngo", "django"],
    ["djanqo", "django"],
  ])("%s looks like %s", (name, target) => {
    expect(allowed.lookalike(name)?.name).toBe(target);
  });

  it.each(["flask", "numpy", "zzz-internal-tool", "req", "dj"])("%s is not close to the allowlist", (name) => {
    expect(allowed.lookalike(name)).toBeUndefined();
  });

  it("never calls a name a lookalike of itself, however it is spelt", () => {
    expect(allowed.lookalike("Requests")).toBeUndefined();
    expect(allowed.lookalike("python_dateutil")).toBeUndefined();
  });

  it("folds visually confusable characters", () => {
    expect(skeleton("C1ick")).toBe(skeleton("click"));
    expect(skeleton("rnatplotlib")).toBe(skeleton("matplotlib"));
    expect(skeleton("vvheel")).toBe(skeleton("wheel"));
    expect(createNameIndex(["click"]).lookalike("c1ick")?.name).toBe("click");
    expect(createNameIndex(["matplotlib"]).lookalike("rnatplotlib")?.name).toBe("matplotlib");
  });

  it("edit distance at most one, with adjacent swaps", () => {
    expect(editDistanceAtMostOne("abcd", "abdc")).toBe(true);
    expect(editDistanceAtMostOne("abcd", "abc")).toBe(true);
    expect(editDistanceAtMostOne("abcd", "xbcd")).toBe(true);
    expect(editDistanceAtMostOne("abcd", "badc")).toBe(false);
    expect(editDistanceAtMostOne("abcd", "ab")).toBe(false);
  });
});

describe("the shipped popular-names list", () => {
  const popular = createPopularNames();

  it("is found from the module's location and holds 5,000 normalised names", () => {
    expect(locateDataFile()).toMatch(/src\/policy\/data\/top-pypi-projects\.txt$/);
    const names = popular.names();
    expect(names).toHaveLength(5000);
    expect(names).toContain("requests");
    expect(names.every((name) => /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(name))).toBe(true);
  });

  it("is found from a compiled module under dist/ too (the build does not copy data files)", () => {
    const compiled = new URL("../../dist/src/policy/popular-names.js", import.meta.url).href;
    expect(locateDataFile(compiled)).toBe(locateDataFile());
  });

  it("finds lookalikes of popular projects and prefers the more popular one", () => {
    const index = popular.index();
    expect(index.lookalike("nunpy")?.name).toBe("numpy");
    expect(index.lookalike("boto-3")?.name).toBe("boto3");
    expect(index.lookalike("certifl")?.name).toBe("certifi");
  });

  it("answers many lookups from one build (warm index)", () => {
    const index = popular.index();
    const probes = popular
      .names()
      .slice(0, 2000)
      .map((name) => `${name}x`);
    const hits = probes.filter((probe) => index.lookalike(probe) !== undefined);
    expect(hits.length).toBeGreaterThan(1500);
  });

  it("gives the same answer from a scan of the list as from the built maps", () => {
    const names = popular.names();
    const scanned = createNameIndex(names, Number.POSITIVE_INFINITY);
    const mapped = createNameIndex(names, 0);
    // every kind of edit of popular names, names with and without py/python, short names, separators
    const probes: string[] = ["ab", "a-b", "pip", "p1p", "py-py", "python", "numpyy", "pandsa", "reqests", "python-requests", "djang0", "rnatplotlib"];
    names.slice(0, 600).forEach((name, i) => {
      const at = i % Math.max(name.length, 1);
      probes.push(name, `${name}x`, name.slice(0, at) + name.slice(at + 1), name.slice(0, at) + "z" + name.slice(at + 1));
      probes.push(name.slice(0, at) + (name[at + 1] ?? "") + (name[at] ?? "") + name.slice(at + 2), `py${name}`, `${name}-python`);
    });
    const differences = probes.filter((probe) => JSON.stringify(scanned.lookalike(probe)) !== JSON.stringify(mapped.lookalike(probe)));
    expect(differences).toEqual([]);
    // and the probes do exercise both kinds of answer and none
    const kinds = new Set(probes.map((probe) => mapped.lookalike(probe)?.why.split(" ")[0] ?? "none"));
    expect([...kinds].sort()).toEqual(expect.arrayContaining(["differs", "looks", "none", "one"]));
  });

  it("builds its maps only after its first few lookups", () => {
    const index = createNameIndex(["requests", "numpy"], 2);
    expect(index.lookalike("reqests")?.name).toBe("requests"); // scanned
    expect(index.lookalike("nunpy")?.name).toBe("numpy"); // scanned
    expect(index.lookalike("numpyy")?.name).toBe("numpy"); // mapped
    expect(index.lookalike("pandas")).toBeUndefined();
  });
});
