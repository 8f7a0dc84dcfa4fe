import { describe, expect, it } from "vitest";
import { evaluateMarker, markerApplies, parseMarker, type MarkerEnvironment } from "../../src/requirement/marker.js";

// Four interpreters' marker values, as packaging's default_environment() reports them.
const ENVIRONMENTS: Record<string, MarkerEnvironment> = {
  py311: {
    implementation_name: "cpython",
    implementation_version: "3.11.7",
    os_name: "posix",
    platform_machine: "x86_64",
    platform_release: "6.8.0",
    platform_system: "Linux",
    platform_version: "#1 SMP PREEMPT_DYNAMIC",
    python_full_version: "3.11.7",
    platform_python_implementation: "CPython",
    python_version: "3.11",
    sys_platform: "linux",
  },
  py314rc: {
    implementation_name: "cpython",
    implementation_version: "3.14.0rc1",
    os_name: "posix",
    platform_machine: "aarch64",
    platform_release: "6.8.0",
    platform_system: "Linux",
    platform_version: "#1",
    python_full_version: "3.14.0rc1",
    platform_python_implementation: "CPython",
    python_version: "3.14",
    sys_platform: "linux",
  },
  debian: {
    implementation_name: "cpython",
    implementation_version: "3.11.2",
    os_name: "posix",
    platform_machine: "x86_64",
    platform_release: "6.1.0-18-amd64",
    platform_system: "Linux",
    platform_version: "#1 SMP Debian",
    python_full_version: "3.11.2",
    platform_python_implementation: "CPython",
    python_version: "3.11",
    sys_platform: "linux",
  },
  localplus: {
    implementation_name: "cpython",
    implementation_version: "3.11.7",
    os_name: "posix",
    platform_machine: "x86_64",
    platform_release: "6.8.0",
    platform_system: "Linux",
    platform_version: "#1",
    python_full_version: "3.11.7+",
    platform_python_implementation: "CPython",
    python_version: "3.11",
    sys_platform: "linux",
  },
};

/**
 * [marker, environment, extra, what packaging 26.2 answers]: each row is
 * `Marker(marker).evaluate({**environment, "extra": extra})` run with packaging 26.2 (core-metadata
 * context). Version variables compare as PEP 440 with pre-releases admitted; other strings have no
 * order ("<" never holds, ">=" is equality); extras compare PEP 503-normalised.
 */
const TABLE: Array<[string, string, string, boolean]> = [
  ['python_version < "3.14"', "py311", "", true],
  ["python_version < '3.14'", "py314rc", "", false],
  ["python_full_version < '3.14'", "py314rc", "", false],
  ["python_full_version >= '3.14'", "py314rc", "", false],
  ["python_full_version >= '3.14.0rc1'", "py314rc", "", true],
  ['python_version >= "3.8" and python_version < "3.12"', "py311", "", true],
  ['python_version == "3.11.*"', "py311", "", true],
  ['python_version != "3.11.*"', "py311", "", false],
  ['python_full_version == "3.11.*"', "py311", "", true],
  ['python_version ~= "3.10"', "py311", "", true],
  ['python_version === "3.11"', "py311", "", true],
  ['python_version > "3.9"', "py311", "", true],
  ['python_version > "3.10"', "py311", "", true],
  ['python_version <= "3.9"', "py311", "", false],
  ['"3.12" > python_version', "py311", "", true],
  ['"3.12" < python_version', "py311", "", false],
  ['sys_platform == "linux"', "py311", "", true],
  ['sys_platform == "win32"', "py311", "", false],
  ['sys_platform != "win32" and sys_platform != "darwin"', "py311", "", true],
  ["sys.platform == 'linux'", "py311", "", true],
  ["os.name == 'nt'", "py311", "", false],
  ["os_name == 'posix'", "py311", "", true],
  ['platform_machine == "x86_64"', "py311", "", true],
  ['platform_machine in "x86_64 aarch64"', "py311", "", true],
  ['platform_machine not in "arm64 aarch64"', "py311", "", true],
  ["'linux' in sys_platform", "py311", "", true],
  ["platform.machine == 'aarch64'", "py311", "", false],
  ['platform_system == "Windows"', "py311", "", false],
  ['platform_system == "Linux" or platform_system == "Darwin"', "py311", "", true],
  ['implementation_name == "cpython"', "py311", "", true],
  ['implementation_name == "pypy"', "py311", "", false],
  ["platform_python_implementation == 'CPython'", "py311", "", true],
  ["python_implementation == 'PyPy'", "py311", "", false],
  ["platform.python_implementation != 'CPython'", "py311", "", false],
  ["implementation_version >= '3.11'", "py311", "", true],
  ["platform_release >= '5'", "py311", "", true],
  ["platform_release >= '7'", "py311", "", false],
  ["platform_release >= '5'", "debian", "", false],
  ["platform_version >= '#1'", "py311", "", false],
  ["platform_machine >= 'x'", "py311", "", false],
  ["platform_machine < 'y'", "py311", "", false],
  ["sys_platform >= '3'", "py311", "", false],
  ["python_version > 'abc'", "py311", "", false],
  ['extra == "test"', "py311", "", false],
  ['extra == "test"', "py311", "test", true],
  ['extra == "Test_Extra"', "py311", "test-extra", true],
  ["extra == 'test.extra'", "py311", "Test_Extra", true],
  ['extra != "test"', "py311", "", true],
  ['python_version < "3.14" and extra == "x"', "py311", "", false],
  ['python_version < "3.14" or extra == "x"', "py311", "", true],
  ['(python_version < "3.8" or sys_platform == "linux") and os_name == "posix"', "py311", "", true],
  ['python_version < "3.8" or sys_platform == "linux" and os_name == "nt"', "py311", "", false],
  ['python_version < "3.8" or (sys_platform == "linux" and os_name == "posix")', "py311", "", true],
  ['python_version<"3.12"and os_name=="posix"', "py311", "", true],
  ["  python_version  <  '3.12'  ", "py311", "", true],
  ["((python_version < '3.12'))", "py311", "", true],
  ['python_version < "3.11"', "py311", "", false],
  ['python_version < "3.14"', "py314rc", "", false],
  ['python_full_version > "3.11.7"', "py311", "", false],
  ['python_full_version == "3.11.7"', "py311", "", true],
  ['python_version == "3.11"', "py311", "", true],
  ['python_version == "3.11.0"', "py311", "", true],
  ['python_version >= "3"', "py311", "", true],
  ["python_full_version < '3.11.8'", "localplus", "", true],
];

describe("PEP 508 markers, as packaging evaluates them", () => {
  it.each(TABLE)("%s in %s (extra %j) is %s", (marker, env, extra, expected) => {
    const environment = ENVIRONMENTS[env];
    if (environment === undefined) throw new Error(`no environment ${env}`);
    expect(markerApplies(marker, { environment, extra })).toEqual({ ok: true, value: expected });
  });

  it.each([
    ["python_version <", "expected a marker variable"],
    ["python_version < '3.8' and", "expected a marker variable"],
    ["(python_version < '3.8'", "not closed"],
    ["python_versio < '3.8'", "unknown marker variable"],
    ["platform.release == '5'", "unknown marker variable"],
    ["python_version = '3.8'", "unexpected character"],
    ["python_version < '3.8' os_name == 'nt'", "unexpected"],
    ["python_version not '3.8'", "expected a marker operator"],
    ['python_version < "3.8', "unexpected character"],
  ])("refuses %j, as packaging does", (marker, problem) => {
    const parsed = parseMarker(marker);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.error).toContain(problem);
  });

  it("refuses a backslash escape, which packaging would read as a Python literal, rather than guess", () => {
    const parsed = parseMarker("python_version < '3\\x38'");
    expect(!parsed.ok && parsed.error).toContain("backslash");
  });

  it('calls "~=" and "===" on plain strings undefined, as packaging does', () => {
    const environment = ENVIRONMENTS.py311 as MarkerEnvironment;
    for (const marker of ["os_name ~= 'posix'", "sys_platform === 'linux'", "python_version ~= '3'", "'a' == 'a'"]) {
      const parsed = parseMarker(marker);
      if (!parsed.ok) throw new Error(parsed.error);
      expect(evaluateMarker(parsed.value, { environment }).ok).toBe(false);
    }
  });
});
