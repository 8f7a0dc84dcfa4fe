import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadAllowlist } from "../../src/config/allowlist.js";

function file(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), "pipgate-allowlist-")), "allowlist.yaml");
  writeFileSync(path, text);
  return path;
}

describe("loadAllowlist", () => {
  it("normalises names, reads specifiers and merges rules default ← config ← file", () => {
    const result = loadAllowlist(
      file(`packages:
  Requests: ">=2.31, <3"
  python_dateutil: "*"
  Django:
deny: [Evil.Pkg]
rules:
  wheels_only: true
exemptions:
  - { package: Requests, version: "2.32.0", rule: min_release_age, reason: "security fix", expires: 2026-12-31 }
pth_allowed: [Some_Pkg]
`),
      { min_release_age_days: 7, wheels_only: false },
    );
    if (!result.ok) throw new Error(result.issues.join("\n"));
    const { allowlist } = result;
    expect([...allowlist.packages.entries()]).toEqual([
      ["requests", { name: "Requests", specifier: ">=2.31,<3" }],
      ["python-dateutil", { name: "python_dateutil", specifier: "" }],
      ["django", { name: "Django", specifier: "" }],
    ]);
    expect(allowlist.deny.has("evil-pkg")).toBe(true);
    expect(allowlist.rules.min_release_age_days).toBe(7);
    expect(allowlist.rules.wheels_only).toBe(true);
    expect(allowlist.rules.vulnerabilities).toBe("deny");
    expect(allowlist.exemptions[0]).toMatchObject({ package: "requests", version: "2.32.0", expires: "2026-12-31" });
    expect(allowlist.pthAllowed.has("some-pkg")).toBe(true);
  });

  it("refuses the whole file on an invalid specifier, naming the place", () => {
    const result = loadAllowlist(file(`packages:\n  requests: ">=2.31;<3"\n  numpy: "==1.26.4"\n`));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues).toHaveLength(1);
    expect(result.issues[0]).toMatch(/packages\.requests: ">=2\.31;<3" is not a PEP 440 specifier set/);
  });

  it("reports schema problems as path: message lines", () => {
    const result = loadAllowlist(
      file(`packages: {}\nexemptions:\n  - { package: x, rule: min_release_age, expires: 2026-01-01 }\nrules: { min_release_age_days: -1 }\n`),
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.some((issue) => /exemptions\.0\.reason: /.test(issue))).toBe(true);
    expect(result.issues.some((issue) => /rules\.min_release_age_days: /.test(issue))).toBe(true);
  });

  it("refuses two spellings of one project and invalid names", () => {
    const result = loadAllowlist(file(`packages:\n  Foo_Bar: "*"\n  foo.bar: "*"\n  "-bad": "*"\n`));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.join("\n")).toMatch(/foo\.bar: the same project as Foo_Bar/);
    expect(result.issues.join("\n")).toMatch(/packages\.-bad: not a valid project name/);
  });

  it("an empty file allows nothing; a missing file is an issue", () => {
    const empty = loadAllowlist(file(""));
    expect(empty.ok && empty.allowlist.packages.size).toBe(0);
    const missing = loadAllowlist("/nonexistent/allowlist.yaml");
    expect(missing.ok).toBe(false);
  });
});
