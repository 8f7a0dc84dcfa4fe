import { describe, expect, it } from "vitest";
import { brokenRequirements } from "../../src/commit/conflicts.js";
import { parseDependency } from "../../src/requirement/dependency.js";
import type { MarkerEnvironment } from "../../src/requirement/marker.js";

const PY311: MarkerEnvironment = {
  implementation_name: "cpython",
  implementation_version: "3.11.7",
  os_name: "posix",
  platform_machine: "x86_64",
  platform_release: "6.8.0",
  platform_system: "Linux",
  platform_version: "#1",
  python_full_version: "3.11.7",
  platform_python_implementation: "CPython",
  python_version: "3.11",
  sys_platform: "linux",
};
const PY314: MarkerEnvironment = { ...PY311, python_version: "3.14", python_full_version: "3.14.0", implementation_version: "3.14.0" };

describe("what an install would break", () => {
  const installed = [
    { name: "old-user", version: "1.0", requires: ["shared-lib<2", "other>=1; python_version < '3.0'", "extra-only>=9; extra == 'x'"] },
    { name: "shared-lib", version: "1.0", requires: [] },
    { name: "Fine_User", version: "3.0", requires: ["shared-lib (>=1)"] },
  ];

  it("names the installed distribution, its requirement and what would arrive", () => {
    expect(brokenRequirements(installed, [{ name: "shared-lib", version: "2.0" }], PY311)).toEqual([
      "old-user 1.0 (installed) requires shared-lib<2, but this install would bring shared-lib 2.0",
    ]);
  });

  it("accepts an incoming set that keeps every requirement", () => {
    expect(brokenRequirements(installed, [{ name: "shared-lib", version: "1.5" }], PY311)).toEqual([]);
  });

  it("ignores requirements of distributions the install replaces, false markers and extras not asked for", () => {
    expect(
      brokenRequirements(
        installed,
        [
          { name: "old-user", version: "2.0" },
          { name: "shared-lib", version: "2.0" },
        ],
        PY311,
      ),
    ).toEqual([]);
    expect(
      brokenRequirements(
        installed,
        [
          { name: "other", version: "0.1" },
          { name: "extra-only", version: "1" },
        ],
        PY311,
      ),
    ).toEqual([]);
  });

  it("checks a requirement whose marker holds for the target interpreter, and names the marker", () => {
    const pandas = [
      { name: "pandas-like", version: "3.0.6", requires: ['numpy-like>=1.26.0; python_version < "3.14"', 'numpy-like>=2.3.3; python_version >= "3.14"'] },
    ];
    expect(brokenRequirements(pandas, [{ name: "numpy-like", version: "1.23.5" }], PY311)).toEqual([
      'pandas-like 3.0.6 (installed) requires numpy-like>=1.26.0 (for python_version < "3.14"), but this install would bring numpy-like 1.23.5',
    ]);
    expect(brokenRequirements(pandas, [{ name: "numpy-like", version: "2.0.0" }], PY314)).toEqual([
      'pandas-like 3.0.6 (installed) requires numpy-like>=2.3.3 (for python_version >= "3.14"), but this install would bring numpy-like 2.0.0',
    ]);
    expect(brokenRequirements(pandas, [{ name: "numpy-like", version: "2.0.0" }], PY311)).toEqual([]);
  });

  it("checks what the incoming distributions require against what stays installed", () => {
    const now = [
      { name: "aud-a", version: "1.0", requires: ["aud-lib<2"] },
      { name: "aud-lib", version: "1.5", requires: [] },
    ];
    // aud-b arrives alone, expecting an aud-lib it did not bring (resolved before aud-a's commit).
    expect(brokenRequirements(now, [{ name: "aud-b", version: "1.0", requires: ["aud-lib>=2"] }], PY311)).toEqual([
      "aud-b 1.0 requires aud-lib>=2, but aud-lib 1.5 is installed",
    ]);
    expect(
      brokenRequirements(
        now,
        [
          { name: "aud-b", version: "1.0", requires: ["aud-lib>=2"] },
          { name: "aud-lib", version: "2.1" },
        ],
        PY311,
      ),
    ).toEqual(["aud-a 1.0 (installed) requires aud-lib<2, but this install would bring aud-lib 2.1"]);
    expect(brokenRequirements([], [{ name: "lonely", version: "1.0", requires: ["gone>=1", "win-only; sys_platform == 'win32'"] }], PY311)).toEqual([
      "lonely 1.0 requires gone>=1, which is neither installed nor part of this install",
    ]);
    expect(
      brokenRequirements(
        [],
        [
          { name: "pair", version: "1.0", requires: ["half>=2"] },
          { name: "half", version: "1.0" },
        ],
        PY311,
      ),
    ).toEqual(["pair 1.0 requires half>=2, but half 1.0 would come with this install"]);
  });

  it("reads requirement lines pip's own parser reads, many clauses and direct references included", () => {
    const clauses = "!=4.21.0,!=4.21.1,!=4.21.2,!=4.21.3,!=4.21.4,!=4.21.5,<5,>=3.20.3,!=4.22.0";
    expect(parseDependency(`protobuf (${clauses.replace(/,/g, ", ")}) ; python_version >= "3.8"`)).toEqual({
      ok: true,
      value: { name: "protobuf", normalized: "protobuf", specifier: clauses, marker: 'python_version >= "3.8"' },
    });
    expect(parseDependency("Zope.Interface[security] >= 5")).toMatchObject({
      ok: true,
      value: { normalized: "zope-interface", specifier: ">=5", marker: undefined },
    });
    expect(parseDependency("pkg @ https://example.invalid/pkg;v=1.whl ; os_name == 'nt'")).toMatchObject({
      ok: true,
      value: { specifier: "", marker: "os_name == 'nt'" },
    });
    expect(parseDependency("pkg >= one").ok).toBe(false);
  });
});
