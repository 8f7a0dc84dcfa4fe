import { describe, expect, it } from "vitest";
import { parseDistFilename } from "../../src/index/filename.js";
import { isCompatibleWheel, linuxPlatform } from "../../src/policy/wheel-tags.js";

const py311 = linuxPlatform("3.11.7");

function compatible(filename: string): boolean {
  const parsed = parseDistFilename(filename, "demo");
  if (parsed?.kind !== "wheel") throw new Error(`not a wheel: ${filename}`);
  return isCompatibleWheel(parsed, py311);
}

describe("wheel compatibility for CPython 3.11 on linux x86_64", () => {
  it.each([
    "demo-1.0-py3-none-any.whl",
    "demo-1.0-py2.py3-none-any.whl",
    "demo-1.0-py311-none-any.whl",
    "demo-1.0-py38-none-any.whl",
    "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "demo-1.0-cp38-abi3-manylinux_2_28_x86_64.whl",
    "demo-1.0-cp311-none-any.whl",
    "demo-1.0-1build-py3-none-any.whl",
  ])("accepts %s", (filename) => {
    expect(compatible(filename)).toBe(true);
  });

  it.each([
    "demo-1.0-py2-none-any.whl",
    "demo-1.0-py312-none-any.whl",
    "demo-1.0-cp312-cp312-manylinux_2_17_x86_64.whl",
    "demo-1.0-cp310-cp310-manylinux_2_17_x86_64.whl",
    "demo-1.0-cp311-cp311-win_amd64.whl",
    "demo-1.0-cp311-cp311-macosx_11_0_arm64.whl",
    "demo-1.0-cp311-cp311-manylinux_2_17_aarch64.whl",
    "demo-1.0-cp311-cp311-manylinux_2_39_x86_64.whl",
    "demo-1.0-cp311-cp311-musllinux_1_1_x86_64.whl",
  ])("refuses %s", (filename) => {
    expect(compatible(filename)).toBe(false);
  });
});

describe("distribution filenames", () => {
  it("reads versions from wheels and sdists, including legacy dashed names", () => {
    expect(parseDistFilename("python_dateutil-2.9.0-py2.py3-none-any.whl", "python-dateutil")?.version).toBe("2.9.0");
    expect(parseDistFilename("python-dateutil-2.9.0.tar.gz", "python-dateutil")?.version).toBe("2.9.0");
    expect(parseDistFilename("Django-5.0.zip", "django")).toEqual({ kind: "sdist", version: "5.0" });
  });

  it("ignores files that are not the project's wheels or sdists", () => {
    expect(parseDistFilename("demo-1.0.exe", "demo")).toBeUndefined();
    expect(parseDistFilename("demo-1.0-py3.8.egg", "demo")).toBeUndefined();
    expect(parseDistFilename("other-1.0-py3-none-any.whl", "demo")).toBeUndefined();
  });
});
