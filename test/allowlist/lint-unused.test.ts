import { readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { lintUnused } from "../../src/allowlist-edit/lint.js";
import { runAllowlist } from "../../src/cli/allowlist.js";
import type { EnvironmentState } from "../../src/commit/interpreter.js";
import { capture, tempDir, type TempDir } from "./helpers.js";

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

const STATE: EnvironmentState = {
  markers: MARKERS,
  installed: [
    { name: "requests", version: "2.32.3", requires: ["urllib3<3", 'PySocks>=1.5.6; extra == "socks"', 'pywin32; sys_platform == "win32"'] },
    { name: "urllib3", version: "2.2.1", requires: [] },
  ],
};

describe("lint --unused", () => {
  it("flags entries neither installed, nor required by what is installed, nor marked requested", () => {
    const text = [
      "packages:",
      '  requests: "==2.32.3"',
      '  URLLib3: "*"', // installed (names compared normalised)
      '  pysocks: "*"', // required for an extra of an installed distribution: pip does not record extras, so it counts
      '  pywin32: "*"', // required only on Windows: not on this interpreter
      '  numpy: "*"  # requested by the data team',
      '  old-dep: "==1.0"  # from /v/bin/python; required by gone-app',
      '  unrequested: "*"  # unrequested is not the mark',
      "",
    ].join("\n");
    const findings = lintUnused(text, STATE, "/v/bin/python");
    expect(findings.map((finding) => [finding.kind, finding.line, finding.message.split(":")[0]])).toEqual([
      ["unused", 5, "packages.pywin32"],
      ["unused", 7, "packages.old-dep"],
      ["unused", 8, "packages.unrequested"],
    ]);
    expect(findings[1]?.message).toBe(
      'packages.old-dep: not installed in /v/bin/python, required by nothing installed there, and not marked "# requested"; ' +
        'remove it (pipgate allowlist remove old-dep) or add "requested" to its comment if agents should be able to install it',
    );
  });

  it("says nothing about a file it cannot parse (lint's yaml finding covers it)", () => {
    expect(lintUnused("packages: [", STATE, "/v")).toEqual([]);
  });

  describe("on the command line", () => {
    let tmp: TempDir;
    beforeEach(() => {
      tmp = tempDir();
    });
    afterEach(() => tmp.remove());

    it("needs --venv with --file, and refuses --venv without --unused", async () => {
      const file = tmp.file("a.yaml", "packages: {}\n");
      await expect(runAllowlist(["lint", "--unused", "--file", file], capture())).rejects.toThrow(/--unused with --file needs --venv PY/);
      await expect(runAllowlist(["lint", "--venv", "/usr/bin/python3", "--file", file], capture())).rejects.toThrow(/--venv goes with --unused/);
    });

    it("fails, rather than reporting a clean file, when the venv cannot be read", async () => {
      const file = tmp.file("a.yaml", 'packages:\n  x: "*"\n');
      await expect(runAllowlist(["lint", "--unused", "--venv", `${tmp.dir}/nope/bin/python`, "--file", file], capture())).rejects.toThrow(
        /--unused needs the venv: cannot inspect/,
      );
    });
  });
});

describe("allowlist sync --from-lock on the command line", () => {
  let tmp: TempDir;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.remove());

  it("creates the allowlist from a lock, then reports it already matches", async () => {
    const lock = tmp.file("requirements.txt", "b-lib==1.0\nA_Lib==2.0  # via -r requirements.in\n");
    const file = `${tmp.dir}/allowlist.yaml`;
    const io = capture();
    expect(await runAllowlist(["sync", "--from-lock", lock, "--file", file], io)).toBe(0);
    expect(io.out()).toBe(
      `+ b-lib "==1.0"  # from ${lock}:1\n+ A_Lib "==2.0"  # requested; from ${lock}:2\n` +
        `2 added, 0 updated, 0 kept (a range admits the version), 0 already pinned\nwrote ${file}\n`,
    );
    // the editor keeps a sorted list sorted
    expect(readFileSync(file, "utf8")).toBe(`packages:\n  A_Lib: "==2.0"  # requested; from ${lock}:2\n  b-lib: "==1.0"  # from ${lock}:1\n`);
    const again = capture();
    expect(await runAllowlist(["sync", "--from-lock", lock, "--file", file], again)).toBe(0);
    expect(again.out()).toContain(`${file} already matches; nothing written`);
  });

  it("needs exactly one source, and refuses a lock file that is not a regular file", async () => {
    const file = tmp.file("allowlist.yaml", "packages: {}\n");
    await expect(runAllowlist(["sync", "--file", file], capture())).rejects.toThrow(/exactly one of --from-venv PY and --from-lock FILE/);
    await expect(runAllowlist(["sync", "--from-lock", tmp.dir, "--file", file], capture())).rejects.toThrow(/not a regular file/);
  });
});
