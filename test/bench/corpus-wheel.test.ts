import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { corpusAllowlist } from "../../bench/corpus/build-corpus.js";
import { CORPUS, corpusDists, selectCorpus } from "../../bench/corpus/corpus.js";
import { setFigures } from "../../bench/corpus/section.js";
import {
  corpusMetadata,
  debianWheel,
  describeInstalled,
  publishedRequires,
  wheelTag,
  type InstalledDist,
  type InterpreterTags,
} from "../../bench/corpus/debian-wheel.js";
import { readZip } from "../fixtures/zip.js";

const TAGS: InterpreterTags = { python: "cp311", platform: "linux_x86_64", extSuffix: ".cpython-311-x86_64-linux-gnu.so" };

/** Every RECORD line of a wheel names a file of the archive with its urlsafe-base64 sha256 and size. */
function checkRecord(files: Map<string, Buffer>): { checked: number; bad: string[] } {
  const recordName = [...files.keys()].find((name) => name.endsWith(".dist-info/RECORD"));
  const record = files.get(recordName ?? "")?.toString("utf8") ?? "";
  const bad: string[] = [];
  let checked = 0;
  for (const line of record.split("\n").filter((entry) => entry !== "")) {
    const [path = "", hash = "", size = ""] = line.split(",");
    if (path === recordName) {
      if (hash !== "" || size !== "") bad.push(`${path}: RECORD lists a hash for itself`);
      continue;
    }
    const data = files.get(path);
    if (data === undefined) bad.push(`${path}: not in the archive`);
    else if (hash !== `sha256=${createHash("sha256").update(data).digest("base64url")}` || size !== String(data.length))
      bad.push(`${path}: wrong hash or size`);
    checked += 1;
  }
  for (const name of files.keys())
    if (name !== recordName && !record.split("\n").some((line) => line.startsWith(`${name},`))) bad.push(`${name}: not in RECORD`);
  return { checked, bad };
}

describe("the corpus's wheel builder", () => {
  const root = mkdtempSync(join(tmpdir(), "pipgate-corpus-wheel-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("tags a wheel by its contents: compiled modules get the interpreter's tag", () => {
    expect(wheelTag(["demo/__init__.py"], TAGS)).toBe("py3-none-any");
    expect(wheelTag(["demo/__init__.py", `demo/_speed${TAGS.extSuffix}`], TAGS)).toBe("cp311-cp311-linux_x86_64");
  });

  it("publishes the declared requirements in place of Debian's, and keeps the description", () => {
    const debian = "Metadata-Version: 1.2\nName: demo\nVersion: 1.0\nRequires-Dist: old-dep\nSummary: a demo\n\nThe description.\n";
    const text = corpusMetadata(debian, ["new-dep>=2"]);
    expect(text).toContain("Metadata-Version: 2.1\n");
    expect(text).not.toContain("old-dep");
    expect(text).toContain("Requires-Dist: new-dep>=2\n");
    expect(text.endsWith("\n\nThe description.\n")).toBe(true);
    expect(publishedRequires(['x; extra == "socks"', "y"], ["z"])).toEqual(["z", 'x; extra == "socks"']);
    expect(publishedRequires(["y"], undefined)).toEqual(["y"]);
  });

  it("zips an installed distribution into a wheel whose RECORD hashes every file, without bytecode", () => {
    const pkg = join(root, "site", "demo_pkg");
    mkdirSync(join(pkg, "__pycache__"), { recursive: true });
    writeFileSync(join(pkg, "__init__.py"), "VALUE = 1\n");
    writeFileSync(join(pkg, `_speed${TAGS.extSuffix}`), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 1, 2, 3]));
    writeFileSync(join(pkg, "__pycache__", "__init__.cpython-311.pyc"), "bytecode");
    writeFileSync(join(pkg, "stale.pyc"), "bytecode");
    const dist: InstalledDist = {
      name: "Demo.Pkg",
      version: "1.0+deb1",
      metadata: "Metadata-Version: 2.1\nName: Demo.Pkg\nVersion: 1.0+deb1\n",
      requires: [],
      entryPoints: "[console_scripts]\ndemo = demo_pkg:main\n",
      topLevel: ["demo_pkg"],
      root: join(root, "site"),
    };
    const wheel = debianWheel(dist, TAGS, ["six>=1.5"]);
    expect(wheel.filename).toBe("demo_pkg-1.0+deb1-cp311-cp311-linux_x86_64.whl");
    expect(wheel.meta).toMatchObject({ name: "Demo.Pkg", version: "1.0+deb1", dependencies: ["six>=1.5"] });
    const files = readZip(wheel.bytes);
    expect([...files.keys()].sort()).toEqual([
      "demo_pkg-1.0+deb1.dist-info/METADATA",
      "demo_pkg-1.0+deb1.dist-info/RECORD",
      "demo_pkg-1.0+deb1.dist-info/WHEEL",
      "demo_pkg-1.0+deb1.dist-info/entry_points.txt",
      "demo_pkg/__init__.py",
      `demo_pkg/_speed${TAGS.extSuffix}`,
    ]);
    expect(files.get("demo_pkg-1.0+deb1.dist-info/WHEEL")?.toString()).toContain("Root-Is-Purelib: false\nTag: cp311-cp311-linux_x86_64\n");
    expect(checkRecord(files)).toEqual({ checked: 5, bad: [] });
  });

  it("makes a pure wheel of a distribution Debian installed, read through importlib.metadata", async () => {
    const described = await describeInstalled("/usr/bin/python3", ["six"]);
    expect(described.ok).toBe(true);
    if (!described.ok) return;
    const [six] = described.value.dists;
    expect(six?.topLevel).toEqual(["six.py"]);
    const wheel = debianWheel(six!, described.value.tags, []);
    expect(wheel.filename).toMatch(/^six-[\d.]+-py3-none-any\.whl$/);
    const files = readZip(wheel.bytes);
    expect(files.has("six.py")).toBe(true);
    expect(checkRecord(files).bad).toEqual([]);
    expect(await describeInstalled("/usr/bin/python3", ["no-such-distribution-here"])).toMatchObject({
      ok: false,
      error: expect.stringContaining("no-such-distribution-here"),
    });
  });

  it("selects sets by name and allows each set's whole tree", () => {
    expect(selectCorpus(undefined)).toEqual({ ok: true, value: [...CORPUS] });
    expect(selectCorpus("numpy, requests")).toMatchObject({ ok: true, value: [{ name: "requests" }, { name: "numpy" }] });
    expect(selectCorpus("nump")).toMatchObject({ ok: false, error: expect.stringContaining("unknown corpus set(s) nump") });
    const names = corpusDists(CORPUS).map((dist) => dist.name);
    expect(new Set(names).size).toBe(names.length);
    const pandas = CORPUS.find((set) => set.name === "pandas")!;
    expect(Object.keys(corpusAllowlist(pandas).packages as object).sort()).toEqual(["numpy", "pandas", "python-dateutil", "pytz", "six"]);
    // every requirement a set publishes names a distribution of the same set
    for (const set of CORPUS) {
      const inSet = new Set(set.dists.map((dist) => dist.name));
      for (const dist of set.dists)
        for (const requirement of dist.requires ?? []) expect(inSet.has(/^[A-Za-z0-9._-]+/.exec(requirement)?.[0] ?? "")).toBe(true);
    }
  });

  it("judges each set against issue 16's targets and names the stage that holds a miss back", () => {
    const sample = (toolColdMs: number, warmMs: number) => ({
      bareColdMs: 1000,
      bareWarmCacheMs: 800,
      toolColdMs,
      cliColdMs: 900,
      cliPipelineMs: 700,
      warmMs,
      coldStages: { totalMs: toolColdMs, sandboxMs: toolColdMs - 300, commitMs: 200, otherMs: 100 },
      warmStages: { totalMs: warmMs, sandboxMs: undefined, commitMs: warmMs - 50, otherMs: 50 },
      warmContainers: 0,
    });
    const figures = setFigures(CORPUS[0]!, [sample(1200, 100), sample(1400, 120), sample(1300, 200)]);
    expect(figures.lines.map((line) => [line.name, line.pass])).toEqual([
      ["P1 requests cold, install_package / bare pip --no-cache-dir", false],
      ["P1 requests cold, pipgate install / bare pip --no-cache-dir", true],
      ["P2 requests warm, pipgate / bare pip warm cache", true],
    ]);
    expect(figures.lines[0]?.value).toBe("1.30× (min 1.20, max 1.40, n=3)");
    expect(figures.notes).toHaveLength(1);
    expect(figures.notes[0]).toContain("The largest stage is the sandbox run at 1000 ms");
  });
});
