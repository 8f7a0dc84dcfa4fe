import { describe, expect, it } from "vitest";

import { openZip, type ZipArchive } from "../../src/verify/zip-reader.js";
import { writeZip } from "../fixtures/zip.js";
import { localRecord, rawZip } from "./raw-zip.js";

function open(bytes: Buffer, limits = {}): ZipArchive {
  const opened = openZip(bytes, limits);
  if (!opened.ok) throw new Error(`expected the archive to open: ${opened.error}`);
  return opened.value;
}

function readAll(archive: ZipArchive): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of archive.entries) {
    const data = archive.read(entry);
    out[entry.name] = data.ok ? data.value.toString("utf8") : `ERROR ${data.error}`;
  }
  return out;
}

describe("openZip on honest archives", () => {
  it("lists entries with their sizes and modes and reads stored and deflated data back", () => {
    const text = "print('hello')\n".repeat(50);
    const archive = open(
      writeZip([
        { name: "pkg/__init__.py", data: Buffer.from(text) },
        { name: "pkg/tiny.txt", data: Buffer.from("x") },
        { name: "bin/tool", data: Buffer.from("#!/bin/sh\n"), mode: 0o755 },
      ]),
    );
    expect(archive.problems).toEqual([]);
    expect(archive.entries.map((e) => [e.name, e.size, e.method])).toEqual([
      ["pkg/__init__.py", text.length, 8],
      ["pkg/tiny.txt", 1, 0],
      ["bin/tool", 10, 0],
    ]);
    expect(archive.entries[0]?.compressedSize).toBeLessThan(text.length);
    expect((archive.entries[2]?.externalAttrs ?? 0) >>> 16).toBe(0o100755);
    expect(readAll(archive)).toEqual({ "pkg/__init__.py": text, "pkg/tiny.txt": "x", "bin/tool": "#!/bin/sh\n" });
  });

  it("refuses to read an entry object that does not belong to the archive", () => {
    const archive = open(writeZip([{ name: "a", data: Buffer.from("a") }]));
    const foreign = { ...archive.entries[0]!, name: "a" };
    expect(archive.read(foreign)).toEqual({ ok: false, error: "a: not an entry of this archive" });
  });
});

describe("openZip refuses archives it cannot read unambiguously", () => {
  const good = writeZip([
    { name: "a.txt", data: Buffer.from("alpha ".repeat(100)) },
    { name: "b.txt", data: Buffer.from("beta") },
  ]);

  it("reports a truncated archive", () => {
    for (const cut of [1, 30, good.length - 10]) {
      const opened = openZip(good.subarray(0, good.length - cut));
      expect(opened).toEqual({ ok: false, error: expect.stringContaining("truncated") });
    }
    expect(openZip(Buffer.alloc(0))).toMatchObject({ ok: false });
  });

  it("reports bytes that are not a zip at all", () => {
    expect(openZip(Buffer.from("#!/bin/sh\nrm -rf /\n".repeat(10)))).toEqual({
      ok: false,
      error: expect.stringContaining("no end-of-central-directory record"),
    });
  });

  it("reports an entry whose data runs past the central directory", () => {
    // Same archive with the first entry's body cut short, offsets rewritten so the directory still parses.
    const { archive, offsets } = rawZip([{ name: "a.txt", data: Buffer.from("0123456789") }]);
    const dataEnd = (offsets[0]?.data ?? 0) + 10;
    const cut = Buffer.concat([archive.subarray(0, dataEnd - 4), archive.subarray(dataEnd)]);
    cut.writeUInt32LE(dataEnd - 4, cut.length - 22 + 16);
    const opened = open(cut);
    expect(opened.problems).toEqual(["a.txt: data runs past the central directory (truncated or corrupt)"]);
    expect(opened.read(opened.entries[0]!)).toMatchObject({ ok: false, error: expect.stringContaining("truncated") });
  });

  it("refuses ZIP64 and multi-disk archives", () => {
    const zip64 = Buffer.from(good);
    zip64.writeUInt32LE(0xffffffff, zip64.length - 22 + 16);
    expect(openZip(zip64)).toEqual({ ok: false, error: "ZIP64 archives are not supported" });

    const disks = Buffer.from(good);
    disks.writeUInt16LE(1, disks.length - 22 + 4);
    expect(openZip(disks)).toEqual({ ok: false, error: "multi-disk archives are not supported" });
  });

  it("refuses data between the central directory and the end record", () => {
    const central = good.readUInt32LE(good.length - 22 + 16);
    const padded = Buffer.concat([good.subarray(0, good.length - 22), Buffer.alloc(8), good.subarray(good.length - 22)]);
    expect(padded.readUInt32LE(padded.length - 22 + 16)).toBe(central);
    expect(openZip(padded)).toMatchObject({ ok: false, error: expect.stringContaining("central directory does not end") });
  });

  it("caps the number of entries and the total declared size", () => {
    expect(openZip(good, { maxEntries: 1 })).toEqual({ ok: false, error: "2 entries exceed the cap of 1" });
    expect(openZip(good, { maxTotalSize: 100 })).toEqual({
      ok: false,
      error: "declared uncompressed size exceeds the cap of 100 bytes (zip bomb?)",
    });
  });
});

describe("openZip reports hostile entries and never inflates them", () => {
  it("flags a zip bomb by its compression ratio before inflating anything", () => {
    const zeros = Buffer.alloc(8 * 1024 * 1024);
    const archive = open(
      writeZip([
        { name: "bomb.bin", data: zeros },
        { name: "ok.txt", data: Buffer.from("ok") },
      ]),
    );
    expect(archive.problems).toEqual([expect.stringMatching(/^bomb\.bin: compression ratio \d+:1 exceeds the cap of 100:1 \(zip bomb\?\)$/)]);
    expect(archive.read(archive.entries[0]!)).toMatchObject({ ok: false, error: expect.stringContaining("zip bomb") });
    expect(archive.read(archive.entries[1]!)).toMatchObject({ ok: true });
  });

  it("stops inflating at the declared size when the sizes lie", () => {
    const data = Buffer.from("a".repeat(5000));
    const { archive } = rawZip([{ name: "liar.txt", data, deflate: true, size: 100 }]);
    const opened = open(archive);
    expect(opened.problems).toEqual([]);
    expect(opened.read(opened.entries[0]!)).toEqual({
      ok: false,
      error: "liar.txt: inflates to more than the declared 100 bytes",
    });
  });

  it("reports a deflate stream shorter than declared, and one that is not deflate at all", () => {
    const data = Buffer.from("b".repeat(300));
    const short = open(rawZip([{ name: "short.txt", data, deflate: true, size: 400 }]).archive);
    expect(short.read(short.entries[0]!)).toEqual({
      ok: false,
      error: "short.txt: inflates to a size other than the declared 400 bytes",
    });
    const garbage = rawZip([{ name: "garbage.txt", data: Buffer.from([0xff, 0xff, 0xff, 0xff]) }]).archive;
    const central = garbage.readUInt32LE(garbage.length - 22 + 16);
    garbage.writeUInt16LE(8, central + 10);
    garbage.writeUInt16LE(8, 8);
    const bad = open(garbage);
    expect(bad.read(bad.entries[0]!)).toMatchObject({ ok: false, error: expect.stringMatching(/^garbage\.txt: cannot inflate \(.+\)$/) });
  });

  it("checks CRC-32", () => {
    const { archive } = rawZip([{ name: "bad.txt", data: Buffer.from("content"), crc: 1234 }]);
    const opened = open(archive);
    expect(opened.read(opened.entries[0]!)).toEqual({ ok: false, error: "bad.txt: CRC-32 mismatch" });
  });

  it("reports duplicate names and names that differ only in case or Unicode form", () => {
    const { archive } = rawZip([
      { name: "pkg/a.py", data: Buffer.from("1") },
      { name: "pkg/a.py", data: Buffer.from("2") },
      { name: "pkg/A.py", data: Buffer.from("3") },
      { name: "pkg/caf\u00e9.py", data: Buffer.from("4") },
      { name: "pkg/cafe\u0301.py", data: Buffer.from("5") },
    ]);
    const opened = open(archive);
    expect(opened.problems).toEqual([
      "pkg/a.py: appears more than once in the archive",
      "pkg/A.py: differs from pkg/a.py only in case or Unicode form",
      "pkg/cafe\u0301.py: differs from pkg/caf\u00e9.py only in case or Unicode form",
    ]);
    expect(opened.entries).toHaveLength(5);
  });

  it("reports a local header whose name differs from the central directory's", () => {
    const { archive } = rawZip([{ name: "safe.py", data: Buffer.from("x"), localName: "evil.pth" }]);
    const opened = open(archive);
    expect(opened.problems).toEqual(['safe.py: local header names it "evil.pth"']);
    expect(opened.read(opened.entries[0]!)).toMatchObject({ ok: false });
  });

  it("reports overlapping entries", () => {
    // "outer" stores a complete local record of "inner"; a second central record points inside it.
    const innerBody = Buffer.from("inner data");
    const innerLocal = localRecord("inner", innerBody, { method: 0, crc: 0, size: innerBody.length });
    const { offsets, archive: first } = rawZip([{ name: "outer", data: innerLocal }]);
    const start = offsets[0]?.data ?? 0;
    const { archive } = rawZip(
      [{ name: "outer", data: innerLocal }],
      [{ name: "inner", offset: start, method: 0, compressedSize: innerBody.length, size: innerBody.length, crc: 0 }],
    );
    expect(first.length).toBeLessThan(archive.length);
    const opened = open(archive);
    expect(opened.problems).toEqual(["inner: overlaps outer in the archive"]);
    expect(opened.read(opened.entries[1]!)).toEqual({ ok: false, error: "inner: overlaps outer in the archive" });
  });

  it("reports every entry hidden inside a larger one, not only the first", () => {
    const one = localRecord("one", Buffer.from("1"), { method: 0, crc: 0, size: 1 });
    const two = localRecord("two", Buffer.from("2"), { method: 0, crc: 0, size: 1 });
    const probe = rawZip([{ name: "outer", data: Buffer.concat([one, two]) }]);
    const start = probe.offsets[0]?.data ?? 0;
    const inner = { method: 0, compressedSize: 1, size: 1, crc: 0 };
    const { archive } = rawZip(
      [{ name: "outer", data: Buffer.concat([one, two]) }],
      [
        { name: "one", offset: start, ...inner },
        { name: "two", offset: start + one.length, ...inner },
      ],
    );
    expect(open(archive).problems).toEqual(["one: overlaps outer in the archive", "two: overlaps outer in the archive"]);
  });

  it("reports encrypted entries and unknown compression methods", () => {
    const { archive } = rawZip([{ name: "x.txt", data: Buffer.from("x") }]);
    const central = archive.readUInt32LE(archive.length - 22 + 16);
    const encrypted = Buffer.from(archive);
    encrypted.writeUInt16LE(0x0801, central + 8);
    expect(open(encrypted).problems).toContain("x.txt: encrypted entries are not supported");
    const bzip = Buffer.from(archive);
    bzip.writeUInt16LE(12, central + 10);
    bzip.writeUInt16LE(12, 8);
    expect(open(bzip).problems).toEqual(["x.txt: unsupported compression method 12"]);
  });
});
