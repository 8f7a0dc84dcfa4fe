import { describe, expect, it } from "vitest";

import { parseEntryPoints } from "../../src/verify/entry-points.js";
import { parseHeaders } from "../../src/verify/headers.js";
import { parseRecord } from "../../src/verify/record-file.js";

describe("parseRecord", () => {
  it("reads quoted fields as Python's csv module writes them", () => {
    const text = 'pkg/a.py,sha256=AAA,10\r\n"pkg/with,comma ""q"".py",sha256=BBB,3\npkg.dist-info/RECORD,,\n\n';
    expect(parseRecord(text)).toEqual({
      rows: [
        { path: "pkg/a.py", hash: "sha256=AAA", size: "10", line: 1 },
        { path: 'pkg/with,comma "q".py', hash: "sha256=BBB", size: "3", line: 2 },
        { path: "pkg.dist-info/RECORD", hash: "", size: "", line: 3 },
      ],
      malformed: [],
    });
  });

  it("reports rows without three fields and an unterminated quote", () => {
    expect(parseRecord("a,b\nc,d,e,f\ng,h,1\n").malformed).toEqual([1, 2]);
    expect(parseRecord('ok,sha256=x,1\n"open,x,1\n').malformed).toEqual([2]);
  });
});

describe("parseHeaders", () => {
  it("keeps repeated fields, folds continuation lines and stops at the body", () => {
    const headers = parseHeaders(
      "Metadata-Version: 2.1\nName: demo\nRequires-Dist: a>=1\nrequires-dist: b; extra == 'x'\nLicense: line one\n  line two\n\nName: body-is-not-a-header\n",
    );
    expect(headers.get("name")).toBe("demo");
    expect(headers.all("Requires-Dist")).toEqual(["a>=1", "b; extra == 'x'"]);
    expect(headers.get("License")).toBe("line one\nline two");
    expect(headers.all("Name")).toEqual(["demo"]);
    expect(headers.malformed).toEqual([]);
  });

  it("reports lines that are not headers", () => {
    expect(parseHeaders("Name: demo\nthis is not a header\n").malformed).toEqual(["this is not a header"]);
  });
});

describe("parseEntryPoints", () => {
  it("reads console and gui scripts and ignores other groups", () => {
    const text = [
      "# comment",
      "[console_scripts]",
      "tool = pkg.cli:main",
      "tool-extra = pkg.cli:main [fast]",
      "",
      "[gui_scripts]",
      "viewer=pkg.gui:run",
      "[distutils.commands]",
      "build: odd = pkg:build",
    ].join("\n");
    expect(parseEntryPoints(text, "x/entry_points.txt")).toEqual({
      entryPoints: {
        console_scripts: { tool: "pkg.cli:main", "tool-extra": "pkg.cli:main [fast]" },
        gui_scripts: { viewer: "pkg.gui:run" },
      },
      problems: [],
    });
  });

  it("reports unsafe script names, bad references, duplicates and stray lines", () => {
    const text = ["stray = a:b", "[console_scripts]", "bin/evil = pkg:main", "ok = not a reference", "twice = pkg:a", "twice = pkg:b", "no equals sign"].join(
      "\n",
    );
    expect(parseEntryPoints(text, "e.txt").problems).toEqual([
      'e.txt line 1: not a "name = object reference" line inside a section',
      'e.txt line 3: script name "bin/evil" is not a plain file name',
      'e.txt line 4: "not a reference" is not a "module:attribute" reference',
      "e.txt line 6: script twice is defined twice",
      'e.txt line 7: not a "name = object reference" line inside a section',
    ]);
  });
});
