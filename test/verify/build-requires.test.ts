import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import {
  markerExtras,
  parseBuildRequirement,
  readBuildSystemRequires,
  sdistBuildRequires,
  wheelRequiresDist,
  type SdistBuildRequires,
} from "../../src/verify/build-requires/index.js";
import { buildSdist, buildWheel } from "../fixtures/dists.js";
import { writeTarGz } from "../fixtures/tar.js";
import { writeZip } from "../fixtures/zip.js";
import { paxMember, rawTar, rawTarGz, type RawMember } from "./raw-tar.js";

const HATCH = '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n';

function requires(text: string): string[] | undefined {
  const read = readBuildSystemRequires(text);
  if (!read.ok) throw new Error(`expected a readable pyproject.toml: ${read.error}`);
  return read.value;
}

function refused(text: string): string {
  const read = readBuildSystemRequires(text);
  if (read.ok) throw new Error(`expected a refusal, read ${JSON.stringify(read.value)}`);
  return read.error;
}

const names = (declared: SdistBuildRequires) => declared.requires.map((requirement) => requirement.name);

async function fromTar(members: RawMember[], limits = {}): Promise<SdistBuildRequires> {
  return sdistBuildRequires("demo-1.0.tar.gz", rawTarGz(members), limits);
}

function expectLegacy(declared: SdistBuildRequires, reason: RegExp): void {
  expect(declared.source).toBe("legacy-default");
  expect(names(declared)).toEqual(["setuptools", "wheel"]);
  if (declared.source === "legacy-default") expect(declared.reason).toMatch(reason);
}

describe("the [build-system] requires reader", () => {
  it("reads a one-line array", () => {
    expect(requires(HATCH)).toEqual(["hatchling"]);
  });

  it("reads a multi-line array with comments, both quote styles, escapes and a trailing comma", () => {
    const text = [
      "# a project",
      "[project]",
      'name = "demo"',
      "",
      "[build-system]  # the backend",
      "requires = [",
      '  "setuptools>=61",  # a comment with ] and " in it',
      "  'wheel',",
      "  \"tomli; python_version < '3.11'\",",
      '  "a\\u0062c",',
      "]",
      'build-backend = "setuptools.build_meta"',
      "",
    ].join("\r\n");
    expect(requires(text)).toEqual(["setuptools>=61", "wheel", "tomli; python_version < '3.11'", "abc"]);
  });

  it("walks the rest of the document, so a string or comment cannot pass for the table", () => {
    const text = [
      "[tool.docs]",
      'text = """',
      "[build-system]",
      'requires = ["from-a-string"]',
      '"""',
      "literal = '''",
      "[build-system]",
      "'''",
      "# [build-system]",
      'nested = { a = [1, 2.5, true, { b = "c" }], d = 1979-05-27T07:32:00Z }',
      "multi = [",
      '  [1, 2], ["]"],',
      "]",
      "[build-system]",
      'requires = ["real"]',
    ].join("\n");
    expect(requires(text)).toEqual(["real"]);
  });

  it("reads dotted and quoted keys", () => {
    expect(requires('build-system.requires = ["a"]\n')).toEqual(["a"]);
    expect(requires('"build-system" . "requires" = [\'b\']\n')).toEqual(["b"]);
    expect(requires('[ "build-system" ]\nrequires=["c"]')).toEqual(["c"]);
  });

  it("answers undefined when nothing is declared", () => {
    expect(requires('[project]\nname = "x"\n')).toBeUndefined();
    expect(requires('[build-system]\nbuild-backend = "x"\n')).toBeUndefined();
    expect(requires("")).toBeUndefined();
  });

  it("refuses what it does not understand instead of guessing", () => {
    expect(refused('build-system = { requires = ["a"] }')).toMatch(/inline build-system/);
    expect(refused('[build-system]\nrequires = ["a"]\n[build-system]\n')).toMatch(/defined twice/);
    expect(refused('[build-system]\nrequires = ["a"]\nrequires = ["b"]')).toMatch(/defined twice/);
    expect(refused('[build-system]\nrequires = "a"')).toMatch(/not an array/);
    expect(refused("[build-system]\nrequires = [1]")).toMatch(/one-line string/);
    expect(refused('[build-system]\nrequires = ["""a"""]')).toMatch(/one-line string/);
    expect(refused('[build-system]\nrequires = ["a" "b"]')).toMatch(/expected ','/);
    expect(refused('[build-system]\nrequires = ["a"')).toMatch(/expected ','|one-line string/);
    expect(refused('[build-system]\nrequires = ["a\n"]')).toMatch(/not closed/);
    expect(refused('[[build-system]]\nrequires = ["a"]')).toMatch(/unsupported table/);
    expect(refused("[build-system.requires]\nx = 1")).toMatch(/unsupported table/);
    expect(refused('[build-system]\nrequires.x = ["a"]')).toMatch(/not an array/);
    expect(refused('[build-system]\nrequires = ["a"] junk')).toMatch(/end of the line/);
    expect(refused('x = "\\q"')).toMatch(/escape/);
    expect(refused('x = """never closed')).toMatch(/not closed/);
    expect(refused("x = $")).toMatch(/expected a value/);
  });

  it("refuses deep nesting, too many requirements, a long one and a large file", () => {
    expect(refused(`x = ${"[".repeat(10_000)}${"]".repeat(10_000)}\n${HATCH}`)).toMatch(/nest deeper than 32/);
    expect(refused(`x = ${"{ a = ".repeat(40)}1${" }".repeat(40)}\n${HATCH}`)).toMatch(/nest deeper than 32/);
    const many = Array.from({ length: 65 }, (_, i) => `"p${i}"`).join(", ");
    expect(refused(`[build-system]\nrequires = [${many}]`)).toMatch(/more than 64 entries/);
    expect(refused(`[build-system]\nrequires = ["${"a".repeat(1025)}"]`)).toMatch(/longer than 1024/);
    expect(refused(`# ${"x".repeat(300 * 1024)}\n${HATCH}`)).toMatch(/more than 262144 characters/);
  });
});

describe("build requirements of an sdist", () => {
  it("reads the fixture sdists' pyproject.toml", async () => {
    const sdist = buildSdist({ name: "demo", version: "1.0" });
    const declared = await sdistBuildRequires(sdist.filename, sdist.bytes);
    expect(declared.source).toBe("pyproject");
    expect(names(declared)).toEqual(["setuptools", "wheel"]);
  });

  it("reads a hatchling declaration in the leading directory, with specifiers, extras and markers", async () => {
    const pyproject = '[build-system]\nrequires = ["Hatchling>=1.10", "hatch_vcs[toml] ; python_version >= \'3.8\'"]\n';
    const declared = await fromTar([
      { name: "demo-1.0/PKG-INFO", data: Buffer.from("x") },
      { name: "demo-1.0/pyproject.toml", data: Buffer.from(pyproject) },
    ]);
    expect(declared).toEqual({
      source: "pyproject",
      requires: [
        { name: "hatchling", extras: [], specifier: ">=1.10", marker: undefined },
        { name: "hatch-vcs", extras: ["toml"], specifier: "", marker: "python_version >= '3.8'" },
      ],
    });
  });

  it("reads a .zip sdist", async () => {
    const zip = writeZip([
      { name: "demo-1.0/setup.py", data: Buffer.from("") },
      { name: "demo-1.0/pyproject.toml", data: Buffer.from(HATCH) },
    ]);
    expect(names(await sdistBuildRequires("demo-1.0.zip", zip))).toEqual(["hatchling"]);
  });

  it("falls back to the legacy default without a pyproject.toml or without a declaration", async () => {
    expectLegacy(await sdistBuildRequires("demo-1.0.tar.gz", writeTarGz([{ name: "demo-1.0/setup.py", data: Buffer.from("") }])), /no pyproject\.toml/);
    expectLegacy(await fromTar([{ name: "demo-1.0/pyproject.toml", data: Buffer.from("[tool.black]\n") }]), /declares no \[build-system\] requires/);
  });

  it("reads pyproject.toml where pip would: at the top only when the members share no directory", async () => {
    // Two top directories: pip strips none, so it looks for ./pyproject.toml and finds none.
    expectLegacy(
      await fromTar([
        { name: "a/pyproject.toml", data: Buffer.from(HATCH) },
        { name: "b/setup.py", data: Buffer.from("") },
      ]),
      /no pyproject\.toml/,
    );
    expect(
      names(
        await fromTar([
          { name: "pyproject.toml", data: Buffer.from(HATCH) },
          { name: "setup.py", data: Buffer.from("") },
        ]),
      ),
    ).toEqual(["hatchling"]);
  });

  it("follows pax and GNU long names, as Python's tarfile does", async () => {
    expect(names(await fromTar([paxMember({ path: "demo-1.0/pyproject.toml" }), { name: "demo-1.0/README", data: Buffer.from(HATCH) }]))).toEqual([
      "hatchling",
    ]);
    expectLegacy(await fromTar([paxMember({ path: "demo-1.0/README" }), { name: "demo-1.0/pyproject.toml", data: Buffer.from(HATCH) }]), /no pyproject\.toml/);
    const longName = { name: "././@LongLink", type: "L", data: Buffer.from("demo-1.0/pyproject.toml\0") };
    expect(names(await fromTar([longName, { name: "demo-1.0/x", data: Buffer.from(HATCH) }]))).toEqual(["hatchling"]);
  });

  it("never follows a link: a symlink or hard link named pyproject.toml gives the legacy default", async () => {
    const target = { name: "demo-1.0/real.toml", data: Buffer.from(HATCH) };
    expectLegacy(await fromTar([target, { name: "demo-1.0/pyproject.toml", type: "2", linkname: "real.toml" }]), /not a regular file/);
    expectLegacy(await fromTar([target, { name: "demo-1.0/pyproject.toml", type: "2", linkname: "/etc/passwd" }]), /not a regular file/);
    expectLegacy(await fromTar([target, { name: "demo-1.0/pyproject.toml", type: "1", linkname: "demo-1.0/real.toml" }]), /not a regular file/);
    expectLegacy(await fromTar([{ name: "demo-1.0/pyproject.toml", type: "5" }]), /not a regular file/);
    // A symlink's size field is not data to Python's tarfile: what follows is the next header.
    const smuggled = rawTar([{ name: "demo-1.0/pyproject.toml", data: Buffer.from(HATCH) }], false);
    expectLegacy(
      await fromTar([
        { name: "demo-1.0/pyproject.toml", type: "2", linkname: "x", declaredSize: smuggled.length },
        { name: "demo-1.0/y", data: Buffer.from("") },
      ]),
      /not a regular file/,
    );
    const zipLink = writeZip([{ name: "demo-1.0/pyproject.toml", data: Buffer.from("real.toml"), mode: 0o120777 }]);
    expectLegacy(await sdistBuildRequires("demo-1.0.zip", zipLink), /not a regular file/);
  });

  it("gives the legacy default when pyproject.toml appears twice, by any spelling of its path", async () => {
    const first = { name: "demo-1.0/pyproject.toml", data: Buffer.from(HATCH) };
    expectLegacy(await fromTar([first, { ...first, data: Buffer.from('[build-system]\nrequires = ["other"]\n') }]), /more than once/);
    expectLegacy(await fromTar([first, { name: "demo-1.0/sub/../pyproject.toml", data: Buffer.from(HATCH) }]), /more than once/);
    expectLegacy(await fromTar([first, { name: "demo-1.0/./pyproject.toml", data: Buffer.from(HATCH) }]), /more than once/);
  });

  it("reads no member past its cap: a huge pyproject.toml, a huge declared size, a huge other member", async () => {
    const big = Buffer.from(`${HATCH}# ${"x".repeat(300 * 1024)}\n`);
    expectLegacy(await fromTar([{ name: "demo-1.0/pyproject.toml", data: big }]), /larger than 262144 bytes/);
    // A header claiming 8 GiB that the stream does not carry: refused, nothing allocated for it.
    expectLegacy(await fromTar([{ name: "demo-1.0/pyproject.toml", declaredSize: 0o77777777777 }]), /truncated/);
    const pad = Buffer.alloc(3 * 1024 * 1024, 0x61);
    expectLegacy(
      await fromTar(
        [
          { name: "demo-1.0/big.bin", data: pad },
          { name: "demo-1.0/pyproject.toml", data: Buffer.from(HATCH) },
        ],
        { maxUnpackedBytes: 1024 * 1024 },
      ),
      /unpacks to more than 1048576 bytes/,
    );
    const paxHuge = { name: "././@PaxHeader", type: "x", data: Buffer.alloc(70 * 1024, 0x61) };
    expectLegacy(await fromTar([paxHuge, { name: "demo-1.0/pyproject.toml", data: Buffer.from(HATCH) }]), /extension header is larger/);
  });

  it("stops a gzip bomb at the unpack cap", async () => {
    // 16 MiB of zeros gzip to about 16 KiB; the cap here is 1 MiB (by default 256 MiB).
    const bomb = gzipSync(
      rawTar([
        { name: "demo-1.0/zeros", data: Buffer.alloc(16 * 1024 * 1024) },
        { name: "demo-1.0/pyproject.toml", data: Buffer.from(HATCH) },
      ]),
    );
    expect(bomb.length).toBeLessThan(64 * 1024);
    expectLegacy(await sdistBuildRequires("demo-1.0.tar.gz", bomb, { maxUnpackedBytes: 1024 * 1024 }), /gzip bomb/);
    expect(names(await sdistBuildRequires("demo-1.0.tar.gz", bomb))).toEqual(["hatchling"]);
  });

  it("caps the member count", async () => {
    const members = Array.from({ length: 50 }, (_, i) => ({ name: `demo-1.0/f${i}`, data: Buffer.from("") }));
    expectLegacy(await fromTar(members, { maxMembers: 20 }), /more than 20 members/);
  });

  it("gives the legacy default for anything malformed", async () => {
    expectLegacy(await sdistBuildRequires("demo-1.0.tar.gz", Buffer.from("not gzip")), /not a gzip file/);
    expectLegacy(await sdistBuildRequires("demo-1.0.tar.gz", gzipSync(Buffer.from("short"))), /ends without/);
    const whole = rawTarGz([{ name: "demo-1.0/pyproject.toml", data: Buffer.from(HATCH) }]);
    expectLegacy(await sdistBuildRequires("demo-1.0.tar.gz", whole.subarray(0, Math.floor(whole.length / 2))), /cannot unpack|ends without|truncated/);
    expectLegacy(await fromTar([{ name: "demo-1.0/pyproject.toml", data: Buffer.from(HATCH), badChecksum: true }]), /checksum/);
    expectLegacy(await fromTar([{ name: "demo-1.0/pyproject.toml", data: Buffer.from([0xff, 0xfe]) }]), /not UTF-8/);
    expectLegacy(
      await fromTar([{ name: "demo-1.0/pyproject.toml", data: Buffer.from('[build-system]\nrequires = ["not a requirement!"]') }]),
      /is not a requirement/,
    );
    expectLegacy(await fromTar([{ name: "demo-1.0/pyproject.toml", data: Buffer.from(`x = ${"[".repeat(5000)}`) }]), /nest deeper/);
    expectLegacy(await sdistBuildRequires("demo-1.0.tar.bz2", Buffer.from("")), /neither/);
    expectLegacy(await sdistBuildRequires("demo-1.0.zip", Buffer.from("PK")), /not a zip archive/);
  });
});

describe("Requires-Dist of a build tool's wheel", () => {
  it("reads them from the one METADATA", () => {
    const wheel = buildWheel({
      name: "backend",
      version: "1.0",
      dependencies: ["packaging>=21", 'tomli>=1.2; python_version < "3.11"', 'pytest; extra == "test"'],
    });
    const read = wheelRequiresDist(wheel.bytes);
    expect(read.ok && read.value.map((requirement) => [requirement.name, requirement.marker])).toEqual([
      ["packaging", undefined],
      ["tomli", 'python_version < "3.11"'],
      ["pytest", 'extra == "test"'],
    ]);
  });

  it("refuses a wheel with no METADATA, two, one too large or a malformed archive", () => {
    const meta = (dir: string) => ({ name: `${dir}/METADATA`, data: Buffer.from("Metadata-Version: 2.1\nName: a\nVersion: 1\nRequires-Dist: b\n\n") });
    expect(wheelRequiresDist(writeZip([{ name: "a/__init__.py", data: Buffer.from("") }]))).toMatchObject({
      ok: false,
      error: expect.stringMatching(/no single/),
    });
    expect(wheelRequiresDist(writeZip([meta("a-1.dist-info"), meta("b-1.dist-info")]))).toMatchObject({ ok: false, error: expect.stringMatching(/no single/) });
    expect(wheelRequiresDist(writeZip([meta("a-1.dist-info")]), { maxMetadataBytes: 10 })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/larger than 10/),
    });
    expect(wheelRequiresDist(writeZip([meta("a-1.dist-info"), meta("a-1.dist-info")]))).toMatchObject({
      ok: false,
      error: expect.stringMatching(/more than once/),
    });
    expect(wheelRequiresDist(Buffer.from("not a zip"))).toMatchObject({ ok: false });
  });
});

describe("requirement strings and markers", () => {
  it("reads name, extras, specifier and marker", () => {
    expect(parseBuildRequirement("Foo.Bar [X, y] (>=1,<2) ; os_name == 'posix'")).toEqual({
      name: "foo-bar",
      extras: ["x", "y"],
      specifier: ">=1,<2",
      marker: "os_name == 'posix'",
    });
    expect(parseBuildRequirement("pkg @ file:///tmp/x.whl")).toMatchObject({ name: "pkg", specifier: "" });
    expect(parseBuildRequirement("-e .")).toBeUndefined();
    expect(parseBuildRequirement("pkg[bad extra]")).toBeUndefined();
    expect(parseBuildRequirement("pkg $(rm -rf /)")).toBeUndefined();
  });

  it("reads the extras a marker restricts a requirement to", () => {
    expect(markerExtras(undefined)).toBeUndefined();
    expect(markerExtras('python_version < "3.11"')).toBeUndefined();
    expect(markerExtras('extra == "toml"')).toEqual(["toml"]);
    expect(markerExtras("'Test_X' == extra or extra == 'b'")).toEqual(["test-x", "b"]);
    expect(markerExtras("extra in 'a,b'")).toEqual([]);
  });
});
