import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { negotiate } from "../fixtures/negotiation.js";
import { readTarGz, writeTarGz } from "../fixtures/tar.js";
import { readZip, writeZip } from "../fixtures/zip.js";

const path = fc
  .array(
    fc.stringMatching(/^[A-Za-z0-9_.,+ -]{1,40}$/).filter((part) => part !== "." && part !== ".."),
    { minLength: 1, maxLength: 5 },
  )
  .map((parts) => parts.join("/"));
const files = fc.uniqueArray(fc.record({ name: path, data: fc.uint8Array({ maxLength: 3000 }).map((a) => Buffer.from(a)) }), {
  selector: (entry) => entry.name,
  maxLength: 8,
});

describe("archive writers and readers", () => {
  it("zip: what is written is read back byte for byte (stored and deflated)", () => {
    fc.assert(
      fc.property(files, (entries) => {
        const read = readZip(writeZip(entries));
        expect(new Map([...read].map(([name, data]) => [name, data.toString("hex")]))).toEqual(
          new Map(entries.map((entry) => [entry.name, entry.data.toString("hex")])),
        );
      }),
      { numRuns: 60 },
    );
  });

  it("zip: python's zipfile agrees on a long, repetitive file", async () => {
    const { execa } = await import("execa");
    const data = Buffer.from("pipgate ".repeat(10_000));
    const archive = writeZip([{ name: "dir/big.txt", data }]);
    const script =
      "import io,sys,zipfile; z=zipfile.ZipFile(io.BytesIO(sys.stdin.buffer.read())); z.testzip() is None or sys.exit(1); print(len(z.read('dir/big.txt')))";
    const result = await execa("python3", ["-c", script], { input: archive });
    expect(result.stdout).toBe(String(data.length));
  });

  it("tar.gz: what is written is read back byte for byte, long paths included", () => {
    fc.assert(
      fc.property(files, (entries) => {
        const read = readTarGz(writeTarGz(entries));
        expect(new Map([...read].map(([name, data]) => [name, data.toString("hex")]))).toEqual(
          new Map(entries.map((entry) => [entry.name, entry.data.toString("hex")])),
        );
      }),
      { numRuns: 60 },
    );
  });
});

describe("content negotiation", () => {
  it("follows q-values, breaks ties by the client's order, and defaults to HTML", () => {
    expect(negotiate(undefined)).toBe("text/html");
    expect(negotiate("*/*")).toBe("text/html");
    expect(negotiate("application/vnd.pypi.simple.v1+json, text/html")).toBe("application/vnd.pypi.simple.v1+json");
    expect(negotiate("text/html, application/vnd.pypi.simple.v1+json")).toBe("text/html");
    expect(negotiate("text/html;q=0.2, application/vnd.pypi.simple.latest+json;q=0.3")).toBe("application/vnd.pypi.simple.v1+json");
    expect(negotiate("application/vnd.pypi.simple.v1+json;q=0, text/html;q=0")).toBeNull();
    expect(negotiate("application/vnd.pypi.simple.v2+json")).toBeNull();
  });
});
