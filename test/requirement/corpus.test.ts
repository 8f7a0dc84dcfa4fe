import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { REFUSAL_KINDS, parseRequirement } from "../../src/requirement/index.js";
import { validateInstallArguments, type ArgumentContext } from "../../src/validate/tool-arguments.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const corpusFile = path.resolve(repoRoot, "../shared/bad-inputs.jsonl");
const ctx: ArgumentContext = { environments: ["default", "data-science"], timeoutMax: 900 };

const CorpusLine = z.object({ arguments: z.record(z.string(), z.unknown()), refused_as: z.enum(REFUSAL_KINDS) });

function readCorpus() {
  // The shared corpus is part of the contract: a missing file fails the suite instead of skipping it.
  if (!existsSync(corpusFile)) throw new Error(`bad-input corpus missing: ${corpusFile}`);
  return readFileSync(corpusFile, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => CorpusLine.parse(JSON.parse(line)));
}

describe("the shared bad-input corpus", () => {
  const corpus = readCorpus();

  it("has the 45 lines it was written with", () => {
    expect(corpus).toHaveLength(45);
  });

  it.each(corpus.map((line) => [JSON.stringify(line.arguments).slice(0, 70), line] as const))("refuses %s", (_label, line) => {
    const result = validateInstallArguments(line.arguments, ctx);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.refusal.kind).toBe(line.refused_as);
    expect(result.refusal.message.length).toBeGreaterThan(20);
    expect(result.refusal.message.length).toBeLessThanOrEqual(1000);
    expect(result.refusal.message).toMatch(/^[\x20-\x7e]+$/);
  });
});

describe("good requirements", () => {
  const good: [string, string, string[], string][] = [
    ["numpy", "numpy", [], ""],
    ["Django>=4.2,<5", "django", [], ">=4.2,<5"],
    ["requests[socks]", "requests", ["socks"], ""],
    ["zope.interface==6.*", "zope-interface", [], "==6.*"],
    ["backports.zoneinfo~=0.2", "backports-zoneinfo", [], "~=0.2"],
    ["PyYAML!=6.0.0", "pyyaml", [], "!=6.0.0"],
    ["name (>=1)", "name", [], ">=1"],
    ["A.B-C_d", "a-b-c-d", [], ""],
    ["pkg===1.0", "pkg", [], "===1.0"],
    ["Django >= 4.2 , < 5", "django", [], ">=4.2,<5"],
    ["  numpy==1.26.4  ", "numpy", [], "==1.26.4"],
    ["requests[socks,Security]==2.32.3", "requests", ["socks", "security"], "==2.32.3"],
    ["requests [ socks ] (>=2.31, <3)", "requests", ["socks"], ">=2.31,<3"],
    ["requests[]", "requests", [], ""],
    ["x", "x", [], ""],
    ["pkg==1.0+local.7", "pkg", [], "==1.0+local.7"],
    ["pkg>=1!2.0rc1.post3.dev4", "pkg", [], ">=1!2.0rc1.post3.dev4"],
    ["pkg!=1.0.*", "pkg", [], "!=1.0.*"],
    ["Foo__Bar..Baz--Qux", "foo-bar-baz-qux", [], ""],
    ["pkg[a_b,A.B]", "pkg", ["a-b"], ""],
  ];

  it.each(good)("accepts %j", (raw, normalized, extras, specifier) => {
    const result = parseRequirement(raw);
    expect(result).toEqual({
      ok: true,
      requirement: { raw, name: raw.trim().split(/[\s[(<>=!~]/)[0], normalized, extras, specifier },
    });
  });

  it("defaults the other install arguments", () => {
    const result = validateInstallArguments({ package_name: "numpy" }, ctx);
    expect(result).toMatchObject({ ok: true, args: { environment: "default", upgrade: false, timeout: 300 } });
  });

  it("passes explicit install arguments through", () => {
    const result = validateInstallArguments({ package_name: "numpy==1.26.4", environment: "data-science", upgrade: true, timeout: 900 }, ctx);
    expect(result).toMatchObject({
      ok: true,
      args: { requirement: { normalized: "numpy", specifier: "==1.26.4" }, environment: "data-science", upgrade: true, timeout: 900 },
    });
  });
});

describe("hostile additions", () => {
  const hostile: [string, string][] = [
    ["requests\r\n", "control"],
    ["requests\r\nevil", "control"],
    ["requests\tevil", "control"],
    ["req\u200buests", "control"],
    ["req\u202euests", "control"],
    ["requests\u2028", "control"],
    ["\ufeffrequests", "control"],
    ["requests\u0085", "control"],
    ["requests\u00a0", "non-ascii"],
    ["r\u0435quests", "non-ascii"],
    ["requests\u{1f600}", "non-ascii"],
    ["ｒｅｑｕｅｓｔｓ", "non-ascii"],
    ["pkg==1.0 --hash=sha256:00", "option"],
    ["pkg==1.0 --hash", "option"],
    ["--requirement=reqs.txt", "option"],
    ["pkg>=1;", "marker"],
    ["pkg ; python_version < '3.8'", "marker"],
    ["pkg>=1 ;<2", "invalid-specifier"],
    ["pkg @ file:///x", "direct-reference"],
    ["pkg[extra]@https://127.0.0.1/x.whl", "direct-reference"],
    ["git@127.0.0.1:evil/evil.git", "direct-reference"],
    ["hg+http://127.0.0.1/repo", "url"],
    ["ssh:evil", "url"],
    ["data:text/plain,evil", "url"],
    ["\\\\server\\share", "path"],
    ["~/x", "path"],
    ["~root", "path"],
    ["%2e%2e/", "path"],
    ["%2e%2e%2fetc", "invalid-name"],
    [".", "path"],
    ["..", "path"],
    ["evil-1.0-py3-none-any.whl", "path"],
    ["evil-1.0.tar.gz", "path"],
    ["evil.zip==1.0", "path"],
    [`pkg[${"e".repeat(65)}]`, "too-long"],
    [`pkg[${Array.from({ length: 17 }, (_, i) => `e${i}`).join(",")}]`, "too-long"],
    ["n".repeat(129), "too-long"],
    ["a".repeat(201), "too-long"],
    ["pkg[ex tra]", "invalid-specifier"],
    ["pkg[-x]", "invalid-specifier"],
    ["pkg[x]]", "invalid-specifier"],
    ["pkg (>=1", "invalid-specifier"],
    ["pkg=1.0", "invalid-specifier"],
    ["pkg 1.0", "invalid-specifier"],
    ["pkg==", "invalid-specifier"],
    ["pkg>=1.0,", "invalid-specifier"],
    ["pkg~=1", "invalid-specifier"],
    ["pkg>=1.*", "invalid-specifier"],
    ["pkg>=1.0+local", "invalid-specifier"],
    ["pkg===$(id)", "invalid-specifier"],
    ["pkg===1.0,>=1", "invalid-specifier"],
    ["pkg (===1.0)", "invalid-specifier"],
    ["pkg==1 && id", "invalid-specifier"],
    ["numpy scipy", "invalid-specifier"],
    ["requests|sh", "invalid-name"],
    ["requests$(id)", "invalid-name"],
    ["'requests'", "invalid-name"],
    [">=1.0", "invalid-name"],
    ["[socks]", "invalid-name"],
    ["pkg" + ",>=1".repeat(9), "too-long"],
  ];

  it.each(hostile)("refuses %j as %s", (raw, kind) => {
    const result = parseRequirement(raw);
    expect(result).toMatchObject({ ok: false, kind });
    if (result.ok) return;
    expect(result.message).toMatch(/^[\x20-\x7e]+$/);
    expect(result.message).toContain("plain requirement");
  });

  it("escapes control characters and look-alike letters instead of echoing them", () => {
    const control = parseRequirement("requests\nevil");
    expect(control.ok ? "" : control.message).toContain('"requests\\nevil"');
    const homoglyph = parseRequirement("reque\u0455ts");
    expect(homoglyph.ok ? "" : homoglyph.message).toContain('"reque\\u0455ts"');
  });

  it("truncates what it quotes from long input", () => {
    const result = parseRequirement("a".repeat(10_000));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.message).toContain(`"${"a".repeat(60)}..."`);
    expect(result.message).not.toContain("a".repeat(61));
  });

  it.each([
    [{ package_name: "numpy", index_url: "http://127.0.0.1:9/simple" }, "type", "index_url"],
    [{ package_name: "numpy", timeout: 1.5 }, "timeout", "timeout"],
    [{ package_name: "numpy", timeout: 901 }, "timeout", "timeout"],
    [{ package_name: "numpy", timeout: "300" }, "timeout", "timeout"],
    [{ package_name: "numpy", upgrade: 1 }, "upgrade", "upgrade"],
    [{ package_name: "numpy", upgrade: "true" }, "upgrade", "upgrade"],
    [{ package_name: "numpy", environment: "" }, "environment", "environment"],
    [{ package_name: "numpy", environment: 7 }, "environment", "environment"],
    [{ package_name: "numpy", environment: "default/../x" }, "environment", "environment"],
    [{}, "type", "package_name"],
    [{ package_name: 42 }, "type", "package_name"],
  ])("refuses the install arguments %j as %s", (args, kind, field) => {
    const result = validateInstallArguments(args, ctx);
    expect(result).toMatchObject({ ok: false, refusal: { kind, field } });
  });

  it.each([null, "numpy", ["numpy"], 3])("refuses %j as an argument object", (args) => {
    expect(validateInstallArguments(args, ctx)).toMatchObject({ ok: false, refusal: { kind: "type" } });
  });

  it("refuses the default environment when it is not configured", () => {
    const result = validateInstallArguments({ package_name: "numpy" }, { environments: ["prod"], timeoutMax: 60 });
    expect(result).toMatchObject({ ok: false, refusal: { kind: "environment", field: "environment" } });
    expect(result.ok ? "" : result.refusal.message).toContain('configured environments: "prod"');
  });

  it("lowers the default timeout to a smaller maximum", () => {
    const result = validateInstallArguments({ package_name: "numpy", environment: "prod" }, { environments: ["prod"], timeoutMax: 60 });
    expect(result).toMatchObject({ ok: true, args: { timeout: 60 } });
  });

  it("lists the configured environments when refusing one", () => {
    const result = validateInstallArguments({ package_name: "requests", environment: "../../etc" }, ctx);
    expect(result.ok ? "" : result.refusal.message).toBe(
      'environment "../../etc" is a path; it must be the name of a configured environment; configured environments: "default", "data-science".',
    );
  });

  it("states the timeout bounds when refusing one", () => {
    const result = validateInstallArguments({ package_name: "requests", timeout: 0 }, ctx);
    expect(result.ok ? "" : result.refusal.message).toBe("timeout must be a whole number of seconds from 1 to 900, not 0; it defaults to 300.");
  });
});
