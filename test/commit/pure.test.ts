import { describe, expect, it } from "vitest";
import { coverRoots } from "../../src/commit/backup.js";
import { isolatedEnv, pipInstallArgs, requirementsText } from "../../src/commit/pip-command.js";
import { checkWheelFilename } from "../../src/commit/staging.js";
import { pipError } from "../../src/commit/run-pip.js";

describe("the pip command line", () => {
  it("installs only hash-pinned wheels from the staged directory, with no config and no index", () => {
    const args = pipInstallArgs("/s/requirements.txt", "/s/wheels");
    expect(args.slice(0, 4)).toEqual(["-I", "-m", "pip", "install"]);
    for (const flag of ["--isolated", "--no-index", "--no-deps", "--require-hashes", "--no-cache-dir", "--no-input"]) {
      expect(args).toContain(flag);
    }
    expect(args[args.indexOf("--only-binary") + 1]).toBe(":all:");
    expect(args[args.indexOf("--find-links") + 1]).toBe("/s/wheels");
    expect(args[args.indexOf("--requirement") + 1]).toBe("/s/requirements.txt");
    expect(args).not.toContain("--no-compile");
  });

  it("writes one exact pin with its hash per wheel", () => {
    const text = requirementsText([
      { name: "demo", version: "1.0", file: "/x/demo-1.0-py3-none-any.whl", sha256: "a".repeat(64) },
      { name: "dep", version: "2.0.post1", file: "/x/dep-2.0.post1-py3-none-any.whl", sha256: "b".repeat(64) },
    ]);
    expect(text).toBe(`demo==1.0 --hash=sha256:${"a".repeat(64)}\ndep==2.0.post1 --hash=sha256:${"b".repeat(64)}\n`);
  });

  it("strips every PIP_* and PYTHON* variable and pins pip's config file to /dev/null", () => {
    const env = isolatedEnv({
      PATH: "/usr/bin",
      HOME: "/home/u",
      PIP_INDEX_URL: "http://127.0.0.1:1/simple",
      pip_find_links: "/tmp/x",
      PIP_CONFIG_FILE: "/home/u/pip.conf",
      PYTHONPATH: "/evil",
      PYTHONSTARTUP: "/evil.py",
      VIRTUAL_ENV: "/other",
      UNSET: undefined,
    });
    expect(env).toEqual({ PATH: "/usr/bin", HOME: "/home/u", PIP_CONFIG_FILE: "/dev/null", PYTHONNOUSERSITE: "1" });
  });

  it("reports pip's ERROR lines, or its last line", () => {
    expect(pipError("Processing x\nERROR: a\nmore\nERROR: b\n")).toBe("ERROR: a ERROR: b");
    expect(pipError("Traceback\nIndexError: list index out of range\n")).toBe("IndexError: list index out of range");
  });
});

describe("backup roots", () => {
  it("keeps the smallest covering set of directories", () => {
    expect(coverRoots(["/v/lib/site", "/v/lib/site", "/v/bin"])).toEqual(["/v/bin", "/v/lib/site"]);
    expect(coverRoots(["/v/lib/site", "/v/bin", "/v"])).toEqual(["/v"]);
    expect(coverRoots(["/v/bin", "/v/bin2"])).toEqual(["/v/bin", "/v/bin2"]);
  });
});

describe("wheel filenames", () => {
  it("must name the verified distribution and version", () => {
    expect(checkWheelFilename({ name: "Foo.Bar", version: "1.0", path: "/w/foo_bar-1.0-py3-none-any.whl" })).toEqual({
      ok: true,
      value: "foo_bar-1.0-py3-none-any.whl",
    });
    expect(checkWheelFilename({ name: "foo", version: "1.0.0", path: "/w/foo-1.0-2-py3-none-any.whl" }).ok).toBe(true);
    expect(checkWheelFilename({ name: "foo", version: "1.1", path: "/w/foo-1.0-py3-none-any.whl" }).ok).toBe(false);
    expect(checkWheelFilename({ name: "bar", version: "1.0", path: "/w/foo-1.0-py3-none-any.whl" }).ok).toBe(false);
    expect(checkWheelFilename({ name: "foo", version: "1.0", path: "/w/foo-1.0.whl" }).ok).toBe(false);
  });
});
