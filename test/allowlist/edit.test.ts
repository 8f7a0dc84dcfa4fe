import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { allowlist } from "../../src/cli/allowlist.js";
import { CliError } from "../../src/cli/common.js";
import { main } from "../../src/cli/main.js";
import { loadAllowlist } from "../../src/config/allowlist.js";
import { capture, COMMENTED, tempDir, without, type TempDir } from "./helpers.js";

describe("pipgate allowlist add and remove", () => {
  let tmp: TempDir;
  let file: string;
  const run = async (...argv: string[]) => {
    const io = capture();
    const code = await allowlist([...argv, "--file", file], io);
    return { code, out: io.out(), err: io.err(), text: readFileSync(file, "utf8") };
  };

  beforeEach(() => {
    tmp = tempDir();
    file = tmp.file("allowlist.yaml", COMMENTED);
  });
  afterEach(() => tmp.remove());

  it("adds a new entry as one new line with its reason as a comment; every other line is unchanged", async () => {
    const result = await run("add", "httpx", ">=0.27,<1", "--reason", "async http client, ticket 42");
    expect(result.code).toBe(0);
    expect(result.out).toContain('added httpx ">=0.27,<1"');
    const lines = result.text.split("\n");
    const index = lines.indexOf('  httpx: ">=0.27,<1"  # async http client, ticket 42');
    expect(index).toBeGreaterThan(0);
    expect(without(result.text, index)).toEqual(COMMENTED.split("\n"));
    // The file is still what the server loads, with the new entry in it.
    const loaded = loadAllowlist(file);
    expect(loaded.ok && loaded.allowlist.packages.get("httpx")).toEqual({ name: "httpx", specifier: ">=0.27,<1" });
    expect(parse(result.text).packages.httpx).toBe(">=0.27,<1");
  });

  it("updates an entry that is the same project under normalisation in place, instead of a duplicate", async () => {
    const result = await run("add", "foo-bar", "~=2.1");
    expect(result.code).toBe(0);
    expect(result.out).toContain('updated Foo_Bar: "*" -> "~=2.1"');
    const before = COMMENTED.split("\n");
    const after = result.text.split("\n");
    expect(after).toHaveLength(before.length);
    const changed = after.map((line, i) => (line === before[i] ? -1 : i)).filter((i) => i >= 0);
    expect(changed).toEqual([before.indexOf("  Foo_Bar: '*'")]);
    expect(after[changed[0]!]).toBe('  Foo_Bar: "~=2.1"');
    expect(Object.keys(parse(result.text).packages)).toEqual(["requests", "Foo_Bar", "numpy", "zope.interface"]);
  });

  it("keeps an entry's own comment on update, and replaces it when a new reason is given", async () => {
    const kept = await run("add", "NumPy", "==1.26.5");
    expect(kept.text.split("\n")).toContain('  numpy:   "==1.26.5"   # pinned: ABI');
    const replaced = await run("add", "numpy", "==2.0.0", "--reason", "numpy 2 migration done");
    expect(replaced.text.split("\n")).toContain('  numpy:   "==2.0.0"  # numpy 2 migration done');
    expect(replaced.text.split("\n").filter((line) => line.includes("numpy"))).toHaveLength(1);
  });

  it("fills in an empty value (`~` or nothing), and says nothing changed when the entry already means that", async () => {
    const same = await run("add", "zope-interface", "*");
    expect(same.out).toContain('zope.interface is already allowed at "*"');
    expect(same.text).toBe(COMMENTED);
    const filled = await run("add", "zope-interface", ">=6");
    expect(filled.text.split("\n")).toContain('  zope.interface: ">=6"');
    const again = await run("add", "Zope.Interface", ">=6");
    expect(again.code).toBe(0);
    expect(again.out).toContain("nothing changed");
    expect(again.text).toBe(filled.text);
    file = tmp.file("bare.yaml", "packages:\n  attrs:\n  idna: '*'\n");
    expect((await run("add", "attrs", ">=23")).text).toBe("packages:\n  attrs: \">=23\"\n  idna: '*'\n");
  });

  it("removes exactly the entry's line, its inline comment with it", async () => {
    const result = await run("remove", "NUMPY");
    expect(result.code).toBe(0);
    expect(result.out).toContain("removed numpy");
    const before = COMMENTED.split("\n");
    const index = before.indexOf('  numpy:   "==1.26.4"   # pinned: ABI');
    expect(result.text.split("\n")).toEqual(without(COMMENTED, index));
  });

  it("writes `packages: {}` when the last entry goes (an empty block would be null, which the server refuses)", async () => {
    file = tmp.file("one.yaml", "# only one\npackages:\n  requests: '*'  # the only one\ndeny: []\n");
    const result = await run("remove", "requests");
    expect(result.text).toBe("# only one\npackages: {}\ndeny: []\n");
    expect(loadAllowlist(file).ok).toBe(true);
    const back = await run("add", "requests", ">=2");
    expect(back.text).toBe('# only one\npackages:\n  requests: ">=2"\ndeny: []\n');
  });

  it("inserts in name order when the entries are sorted, above the comment that belongs to the next entry", async () => {
    const sorted = "packages:\n  attrs: '*'\n  # the HTTP stack\n  requests: '*'\n  urllib3: '*'\n";
    file = tmp.file("sorted.yaml", sorted);
    const result = await run("add", "Pillow", ">=10");
    expect(result.text).toBe("packages:\n  attrs: '*'\n  Pillow: \">=10\"\n  # the HTTP stack\n  requests: '*'\n  urllib3: '*'\n");
  });

  it("creates the packages block, or the file, when there is none", async () => {
    file = tmp.file("rules-only.yaml", "# rules only\nrules:\n  typosquat: true");
    const result = await run("add", "attrs", "*");
    expect(result.text).toBe('# rules only\nrules:\n  typosquat: true\npackages:\n  attrs: "*"\n');
    file = join(tmp.dir, "new.yaml");
    const created = await run("add", "attrs", ">=23");
    expect(created.text).toBe('packages:\n  attrs: ">=23"\n');
  });

  it("quotes a name YAML would read as something else", async () => {
    const result = await run("add", "true", "*");
    expect(result.text.split("\n")).toContain('  "true": "*"');
    expect(parse(result.text).packages.true).toBe("*");
  });

  it("falls back to the Document API for a flow mapping, keeping comments, and says it reformatted", async () => {
    file = tmp.file("flow.yaml", "# flow style\npackages: {requests: '*', attrs: '>=23'}\n");
    const result = await run("add", "numpy", "==1.26.4", "--reason", "pinned");
    expect(result.code).toBe(0);
    expect(result.err).toContain("rewritten");
    expect(result.text).toContain("# flow style");
    expect(parse(result.text).packages).toEqual({ requests: "*", attrs: ">=23", numpy: "==1.26.4" });
    expect(result.text).toContain("# pinned");
  });

  it("refuses a name on the deny list, under normalisation, and leaves the file alone", async () => {
    const result = await run("add", "Evil_Pkg", "*");
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/Evil_Pkg is on the deny list \(line 15\) as "evil-pkg"/);
    expect(result.text).toBe(COMMENTED);
  });

  it("refuses an invalid name or specifier before touching the file", async () => {
    await expect(run("add", "bad name", "*")).rejects.toThrow(CliError);
    await expect(run("add", "requests", ">=2.31;rm -rf /")).rejects.toThrow(/not a PEP 440 specifier set/);
    await expect(run("add", "requests", "2.31")).rejects.toThrow(/not a PEP 440 specifier set/);
    await expect(run("add", "requests")).rejects.toThrow(/usage/);
    expect(readFileSync(file, "utf8")).toBe(COMMENTED);
  });

  it("says so when removing a name that is not there", async () => {
    const result = await run("remove", "flask");
    expect(result.code).toBe(1);
    expect(result.err).toContain("flask is not on this allowlist");
    expect(result.text).toBe(COMMENTED);
  });

  it("refuses to edit a file that is not valid YAML", async () => {
    file = tmp.file("broken.yaml", "packages:\n  requests: [unclosed\n");
    const result = await run("add", "attrs", "*");
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/not valid YAML \(line \d+/);
  });

  it("replaces the file by rename (a new inode, same mode) and leaves no temporary file behind", async () => {
    const before = statSync(file);
    writeFileSync(file, COMMENTED, { mode: 0o640 });
    await run("add", "attrs", "*");
    const after = statSync(file);
    expect(after.ino).not.toBe(before.ino);
    expect(after.mode & 0o777).toBe(before.mode & 0o777);
    expect(readdirSync(tmp.dir)).toEqual(["allowlist.yaml"]);
  });

  it("is wired into the pipgate binary's command table, with usage errors on stderr and exit 2", async () => {
    const io = capture();
    expect(await main(["allowlist", "add", "attrs", ">=23", "--file", file], io)).toBe(0);
    expect(readFileSync(file, "utf8")).toContain('  attrs: ">=23"\n');
    const bad = capture();
    expect(await main(["allowlist", "add", "attrs", "not a spec", "--file", file], bad)).toBe(2);
    expect(bad.err()).toMatch(/^pipgate allowlist: "not a spec" is not a PEP 440 specifier set/);
    const help = capture();
    expect(await main(["help"], help)).toBe(0);
    expect(help.out()).toMatch(/\n {2}allowlist +add\|remove\|show\|lint\|import/);
  });

  it("finds the file from pipgate.yaml: --env, default when omitted, and names the environments it knows", async () => {
    const other = tmp.file("other.yaml", "packages: {}\n");
    const config = tmp.file(
      "pipgate.yaml",
      `environments:\n  default: {python: /usr/bin/python3, allowlist: allowlist.yaml}\n  data: {python: /usr/bin/python3, allowlist: other.yaml}\n`,
    );
    const io = capture();
    expect(await allowlist(["add", "attrs", "*", "--config", config], io)).toBe(0);
    expect(readFileSync(file, "utf8")).toContain('  attrs: "*"');
    expect(await allowlist(["add", "polars", "*", "--env", "data", "--config", config], io)).toBe(0);
    expect(readFileSync(other, "utf8")).toBe('packages:\n  polars: "*"\n');
    await expect(allowlist(["add", "polars", "*", "--env", "nope", "--config", config], io)).rejects.toThrow(
      /no environment named "nope".*configured: default, data/,
    );
    await expect(allowlist(["show", "--env", "data", "--file", other, "--config", config], io)).rejects.toThrow(/not both/);
  });
});
