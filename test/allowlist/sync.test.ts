import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { bulkEdit } from "../../src/allowlist-edit/bulk-edit.js";
import { setPackage } from "../../src/allowlist-edit/edit.js";
import { findPackage, parseSource } from "../../src/allowlist-edit/source.js";
import { parseLockFile } from "../../src/allowlist-edit/lock-file.js";
import { formatSync, pinsFromLock, planSync } from "../../src/allowlist-edit/sync.js";
import { hasRequestedMark, pinsFromEnvironment, requiredBy, type SourcePin } from "../../src/allowlist-edit/venv-pins.js";
import type { EnvironmentState } from "../../src/commit/interpreter.js";
import { buildAllowlist } from "../../src/config/allowlist.js";
import { COMMENTED } from "./helpers.js";

const pin = (name: string, version: string, extra: Partial<SourcePin> = {}): SourcePin => ({
  name,
  operator: "==",
  version,
  requested: false,
  origin: "requirements.txt:1",
  requiredBy: [],
  ...extra,
});

const MARKERS: EnvironmentState["markers"] = {
  implementation_name: "cpython",
  implementation_version: "3.11.7",
  os_name: "posix",
  platform_machine: "x86_64",
  platform_release: "6.1.0",
  platform_system: "Linux",
  platform_version: "#1 SMP",
  python_full_version: "3.11.7",
  platform_python_implementation: "CPython",
  python_version: "3.11",
  sys_platform: "linux",
};

describe("planSync", () => {
  it("adds missing pins, updates exact pins, keeps ranges that admit the version, and touches no other byte", () => {
    const plan = planSync(COMMENTED, [
      pin("requests", "2.32.3"), // ">=2.31,<3" admits it: kept
      pin("numpy", "2.0.1"), // "==1.26.4": updated
      pin("foo-bar", "1.0"), // Foo_Bar '*': kept
      pin("certifi", "2024.2.2", { requested: true }), // new
      pin("zope.interface", "6.2"), // `~` (any): kept
    ]);
    if (!plan.ok) throw new Error(plan.errors.join("\n"));
    expect(plan.changes.map((change) => [change.name, change.action, change.previous, change.specifier])).toEqual([
      ["requests", "kept", ">=2.31,<3", ">=2.31,<3"],
      ["numpy", "updated", "==1.26.4", "==2.0.1"],
      ["Foo_Bar", "kept", "*", "*"],
      ["certifi", "added", null, "==2024.2.2"],
      ["zope.interface", "kept", "*", "*"],
    ]);
    const before = COMMENTED.split("\n");
    const after = plan.text.split("\n");
    expect(after).toContain('  numpy:   "==2.0.1"  # from requirements.txt:1; was ==1.26.4');
    expect(after).toContain('  certifi: "==2024.2.2"  # requested; from requirements.txt:1');
    // every line of the original is still there but the one updated
    expect(before.filter((line) => !after.includes(line))).toEqual(['  numpy:   "==1.26.4"   # pinned: ABI']);
    const data = buildAllowlist(parse(plan.text), {}, "x");
    expect(data.ok).toBe(true);
  });

  it("updates a range that excludes the version, pins exactly, and a second run changes nothing", () => {
    const first = planSync('packages:\n  requests: ">=2.31,<2.32"  # requested by the web team\n', [pin("requests", "2.32.3")]);
    if (!first.ok) throw new Error(first.errors.join("\n"));
    expect(first.changes[0]?.action).toBe("updated");
    // the maintainer's "requested" mark survives the rewrite of the comment
    expect(first.text).toBe('packages:\n  requests: "==2.32.3"  # requested; from requirements.txt:1; was >=2.31,<2.32\n');
    const second = planSync(first.text, [pin("requests", "2.32.3")]);
    expect(second.ok && second.changes.map((change) => change.action)).toEqual(["unchanged"]);
    expect(second.ok && second.text).toBe(first.text);
  });

  it("pins a pre-release exactly even under a range, since policy hides pre-releases from ranges", () => {
    const plan = planSync('packages:\n  lib: "*"\n', [pin("lib", "2.0rc1")]);
    expect(plan.ok && plan.changes[0]?.action).toBe("updated");
  });

  it("refuses the whole sync when a pin is deny-listed, and says which", () => {
    const plan = planSync(COMMENTED, [pin("certifi", "1"), pin("Evil_Pkg", "1.0", { origin: "lock.txt:7" })]);
    expect(plan.ok).toBe(false);
    if (plan.ok) return;
    expect(plan.errors).toHaveLength(1);
    expect(plan.errors[0]).toMatch(/^Evil_Pkg \(lock\.txt:7\) is on the deny list \(line 15\) as "evil-pkg"/);
  });

  it("edits in one pass exactly as one edit.ts splice per pin would, on sorted, unsorted and empty files", () => {
    const UNSORTED = 'packages:\n  zlib: "*"\n  # odd ones\n  alpha: "==1"   # first\n  mid: ">=2"\n';
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const names = ["requests", "numpy", "Foo-Bar", "zope.interface", "aaa", "mmm", "zzz", "alpha", "zlib", "mid", "b_c", "Numpy2"];
    for (let round = 0; round < 60; round += 1) {
      const text = [COMMENTED, UNSORTED, "", "packages: {}\n"][round % 4] ?? "";
      const chosen = names.filter(() => random() < 0.5);
      const pins = chosen.map((name) => pin(name, `${1 + Math.floor(random() * 3)}.0`));
      const plan = planSync(text, pins);
      if (!plan.ok) throw new Error(plan.errors.join("\n"));
      let sequential = text;
      for (const change of plan.changes) {
        if (change.action !== "added" && change.action !== "updated") continue;
        const edited = setPackage(sequential, { name: change.name, specifier: change.specifier, reason: change.comment ?? undefined });
        if (!edited.ok) throw new Error(edited.error);
        sequential = edited.text;
      }
      expect(plan.text, `round ${round}: ${chosen.join(" ")}`).toBe(sequential);
    }
    // and the one pass is what ran, not the fallback
    const source = parseSource(COMMENTED);
    if (!source.ok) throw new Error("COMMENTED parses");
    const entry = findPackage(source.source, "numpy");
    const bulk = bulkEdit(source.source, [
      { change: { name: "numpy", specifier: "==2.0", reason: "x" }, entry },
      { change: { name: "mmm", specifier: "==1.0", reason: "y" }, entry: undefined },
    ]);
    expect(bulk).toContain('  numpy:   "==2.0"  # x\n');
    expect(bulk).toContain('  mmm: "==1.0"  # y\n');
  });

  it("starts an allowlist from nothing", () => {
    const plan = planSync("", [pin("b", "1.0"), pin("a", "2.0")]);
    expect(plan.ok && parse(plan.text)).toEqual({ packages: { b: "==1.0", a: "==2.0" } });
  });

  it("formats a diff of the pins with a summary", () => {
    const plan = planSync(COMMENTED, [pin("numpy", "2.0.1"), pin("certifi", "1.0"), pin("requests", "2.32.0"), pin("Foo-Bar", "1")]);
    if (!plan.ok) throw new Error("plan failed");
    const second = planSync(plan.text, [pin("certifi", "1.0")]);
    if (!second.ok) throw new Error("plan failed");
    expect(formatSync(plan.changes)).toBe(
      [
        '~ numpy "==1.26.4" -> "==2.0.1"  # from requirements.txt:1; was ==1.26.4',
        '+ certifi "==1.0"  # from requirements.txt:1',
        '= requests ">=2.31,<3" already admits the pinned version: kept as written',
        '= Foo_Bar "*" already admits the pinned version: kept as written',
        "1 added, 1 updated, 2 kept (a range admits the version), 0 already pinned",
        "",
      ].join("\n"),
    );
    expect(formatSync(second.changes)).toBe("0 added, 0 updated, 0 kept (a range admits the version), 1 already pinned\n");
  });

  it("turns pip-compile's annotations into requested marks and origins", () => {
    const lock = parseLockFile("click==8.1.7\n    # via flask\nflask==3.0.2\n    # via -r requirements.in\n");
    if (!lock.ok) throw new Error("lock failed");
    const pins = pinsFromLock(lock.pins, "reqs.txt");
    expect(pins.map((p) => [p.name, p.requested, p.origin, p.requiredBy])).toEqual([
      ["click", false, "reqs.txt:1", ["flask"]],
      ["flask", true, "reqs.txt:3", []],
    ]);
    const plan = planSync("packages: {}\n", pins);
    expect(plan.ok && plan.text).toBe(
      'packages:\n  click: "==8.1.7"  # from reqs.txt:1; required by flask\n  flask: "==3.0.2"  # requested; from reqs.txt:3\n',
    );
  });
});

describe("pins from a venv", () => {
  const state: EnvironmentState = {
    markers: MARKERS,
    installed: [
      { name: "requests", version: "2.32.3", requires: ["urllib3<3,>=1.21.1", 'PySocks!=1.5.7,>=1.5.6; extra == "socks"', "idna (<4,>=2.5)"] },
      { name: "urllib3", version: "2.2.1", requires: ['brotli>=1.0.9; platform_python_implementation == "CPython" and extra == "brotli"'] },
      { name: "idna", version: "3.7", requires: [] },
      { name: "colorama", version: "0.4.6", requires: [] },
      { name: "pywin-helper", version: "1.0", requires: ['colorama; sys_platform == "win32"'] },
    ],
  };

  it("marks what nothing installed requires as requested, the rest with who requires it; markers evaluated, extras not counted", () => {
    expect(pinsFromEnvironment(state, "/v/bin/python").pins.map((p) => [p.name, p.version, p.requested, p.requiredBy])).toEqual([
      ["colorama", "0.4.6", true, []],
      ["idna", "3.7", false, ["requests"]],
      ["pywin-helper", "1.0", true, []],
      ["requests", "2.32.3", true, []],
      ["urllib3", "2.2.1", false, ["requests"]],
    ]);
  });

  it("does not mark the venv's own pip and setuptools requested, and skips what an allowlist cannot hold", () => {
    const found = pinsFromEnvironment(
      {
        markers: MARKERS,
        installed: [
          { name: "pip", version: "23.2.1", requires: [] },
          { name: "setuptools", version: "65.5.0", requires: [] },
          { name: "bad name", version: "1.0", requires: [] },
          { name: "odd", version: "1.0 beta", requires: [] },
          { name: "legacy", version: "1.0-odd", requires: [] },
        ],
      },
      "/v/bin/python",
    );
    expect(found.pins.map((p) => [p.name, p.operator, p.version, p.requested])).toEqual([
      ["legacy", "===", "1.0-odd", true],
      ["pip", "==", "23.2.1", false],
      ["setuptools", "==", "65.5.0", false],
    ]);
    expect(found.skipped).toEqual(['"bad name" "1.0"', '"odd" "1.0 beta"']);
    const plan = planSync("", found.pins);
    expect(plan.ok && plan.text).toContain('pip: "==23.2.1"  # from /v/bin/python; installed with the venv\n');
  });

  it("counts extras' requirements for lint, which must not call a name unused that an extra needs", () => {
    const lenient = requiredBy(state, { withExtras: true });
    expect([...lenient.keys()].sort()).toEqual(["brotli", "idna", "pysocks", "urllib3"]);
    expect([...requiredBy(state, { withExtras: false }).keys()].sort()).toEqual(["idna", "urllib3"]);
  });

  it("recognises the requested mark as a word", () => {
    expect(hasRequestedMark("requested")).toBe(true);
    expect(hasRequestedMark("Requested by the data team")).toBe(true);
    expect(hasRequestedMark("from x; requested")).toBe(true);
    expect(hasRequestedMark("unrequested")).toBe(false);
    expect(hasRequestedMark("requested-by-nobody")).toBe(false);
    expect(hasRequestedMark("")).toBe(false);
  });
});
