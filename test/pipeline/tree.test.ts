import { describe, expect, it } from "vitest";
import { closureEntries } from "../../src/allowlist-edit/closure.js";
import { runAllowlist } from "../../src/cli/allowlist.js";
import { CliError } from "../../src/cli/common.js";
import { buildAllowlist, type Allowlist } from "../../src/config/allowlist.js";
import type { EnvironmentRuntime } from "../../src/config/environments.js";
import type { IndexFile } from "../../src/index/types.js";
import type { ResolvedItem } from "../../src/pipeline/pip-report.js";
import { checkFilterFor, proxyFilterFor } from "../../src/pipeline/proxy-filter.js";
import { allowCommand, chainOf, shellWord, treeCheckAnswer, treeRefusalText, unlistedHint, type TreeRefusal } from "../../src/pipeline/tree.js";
import { allowlistWith } from "../../src/pipeline/check-tree.js";
import { evaluate } from "../../src/policy/index.js";
import { parseRequirement } from "../../src/requirement/index.js";

function item(name: string, version: string, requiresDist: string[] = [], requested = false): ResolvedItem {
  return { name, displayName: name, version, filename: `${name}-${version}-py3-none-any.whl`, sha256: undefined, kind: "wheel", requiresDist, requested };
}

function allowlistOf(raw: unknown): Allowlist {
  const built = buildAllowlist(raw, {}, "test.yaml");
  if (!built.ok) throw new Error(built.issues.join("; "));
  return built.allowlist;
}

function envOf(raw: unknown): EnvironmentRuntime {
  return {
    name: "default",
    python: "/usr/bin/python3",
    pythonVersion: "3.11.9",
    description: undefined,
    allowlistPath: "test.yaml",
    allowlist: allowlistOf(raw),
  };
}

const REQUESTS = [
  item(
    "requests",
    "2.32.3",
    ["charset-normalizer<4,>=2", "idna<4,>=2.5", "urllib3<3,>=1.21.1", "certifi>=2017.4.17", 'PySocks!=1.5.7,>=1.5.6; extra == "socks"'],
    true,
  ),
  item("charset-normalizer", "3.4.0"),
  item("idna", "3.10"),
  item("urllib3", "2.2.3"),
  item("certifi", "2024.8.30"),
];

const missing = (name: string, version: string, allowable = true): TreeRefusal => ({
  name,
  version,
  chain: chainOf(REQUESTS, name),
  rule: "allowlist",
  reason: `${name} is not on the allowlist`,
  allowable,
});

describe("chains of a resolved set", () => {
  it("names who requires a dependency, with the specifier its metadata states", () => {
    expect(chainOf(REQUESTS, "idna")).toEqual([{ name: "requests", version: "2.32.3", requires: "idna<4,>=2.5" }]);
    expect(chainOf(REQUESTS, "requests")).toEqual([]);
  });

  it("follows a chain several levels down to the requested project, shortest first, through cycles", () => {
    const items = [item("app", "1.0", ["mid>=1"], true), item("mid", "1.2", ["leaf<2", "app"]), item("leaf", "1.5", ["mid"]), item("other", "1.0", ["leaf"])];
    expect(chainOf(items, "leaf")).toEqual([
      { name: "app", version: "1.0", requires: "mid>=1" },
      { name: "mid", version: "1.2", requires: "leaf<2" },
    ]);
    expect(chainOf(items, "Leaf")).toHaveLength(2);
  });
});

describe("the refusal of a tree and its hint", () => {
  const root = { name: "requests", version: "2.32.3", specifier: ">=2.28" };

  it("names every refused distribution in one message, and the one command that allows them", () => {
    const refused = ["charset-normalizer", "idna", "urllib3", "certifi"].map((name) => missing(name, REQUESTS.find((i) => i.name === name)!.version));
    const { message, hint } = treeRefusalText(root, "default", refused);
    expect(message).toMatch(/^refused: requests 2\.32\.3 needs 4 distributions that environment default does not allow:/);
    expect(message).toContain(
      "  - charset-normalizer 3.4.0 (requests 2.32.3 requires charset-normalizer<4,>=2): charset-normalizer is not on the allowlist [allowlist]",
    );
    for (const name of ["charset-normalizer", "idna", "urllib3", "certifi"]) expect(message).toContain(`  - ${name} `);
    expect(hint).toContain("pipgate allowlist add requests '>=2.28' --with-deps --env default");
  });

  it("says which ones allowing cannot fix, and offers the command only for the rest", () => {
    const blocked: TreeRefusal = { ...missing("urllib3", "2.2.3", false), rule: "vulnerabilities", reason: "urllib3 2.2.3 has a known vulnerability" };
    const mixed = treeRefusalText(root, "default", [missing("idna", "3.10"), blocked]);
    expect(mixed.hint).toMatch(/^allowing is not enough for urllib3 2\.2\.3 \(vulnerabilities\)/);
    expect(mixed.hint).toContain("the others can be allowed with pipgate allowlist add requests");
    const only = treeRefusalText(root, "default", [blocked]);
    expect(only.hint).not.toContain("pipgate allowlist add");
  });

  it("quotes for the shell what needs it", () => {
    expect(shellWord("requests")).toBe("requests");
    expect(shellWord(">=2.28,<3")).toBe("'>=2.28,<3'");
    expect(shellWord("*")).toBe("'*'");
    expect(shellWord("it's")).toBe(`'it'\\''s'`);
    expect(allowCommand({ name: "flask", specifier: "" }, "data science")).toBe("pipgate allowlist add flask '*' --with-deps --env 'data science'");
  });

  it("answers a clean tree with the whole set, and a refused one with refused entries and the hint", () => {
    const clean = treeCheckAnswer(root, "default", REQUESTS, []);
    expect(clean.json).toMatchObject({ allowed: true, refused: [] });
    expect(clean.json.resolved).toHaveLength(5);
    const refused = treeCheckAnswer(root, "default", REQUESTS, [missing("idna", "3.10")]);
    expect(refused.json.allowed).toBe(false);
    expect(refused.json.refused).toEqual([
      {
        name: "idna",
        version: "3.10",
        chain: [{ name: "requests", version: "2.32.3", requires: "idna<4,>=2.5" }],
        rule: "allowlist",
        reason: "idna is not on the allowlist",
        allowable: true,
      },
    ]);
    expect(refused.json.hint).toContain("--with-deps");
  });

  it("hints the with-deps command for an unlisted project, never for a lookalike or a denied one", () => {
    const allowlist = allowlistOf({ packages: { requests: "*" }, deny: ["evil"] });
    const decideStatic = (raw: string) => {
      const parsed = parseRequirement(raw);
      if (!parsed.ok) throw new Error(parsed.message);
      const decision = evaluate({
        requirement: parsed.requirement,
        allowlist,
        pythonVersion: "3.11.9",
        now: new Date(),
        popularNames: [],
        indexUrl: "http://127.0.0.1/simple",
        project: undefined,
        releases: () => undefined,
      });
      return unlistedHint(decision, parsed.requirement, "default");
    };
    expect(decideStatic("flask>=3")).toBe(
      "a maintainer can allow it with everything it needs in one step: pipgate allowlist add flask '>=3' --with-deps --env default",
    );
    expect(decideStatic("evil")).toBeUndefined();
    expect(decideStatic("reqeusts")).toBeUndefined();
  });
});

describe("the closure an allowlist edit adds", () => {
  const allowlist = allowlistOf({ packages: { requests: ">=2.28", idna: "<3", certifi: "*" } });

  it("pins every missing dependency, commented with who requires it; keeps what is already allowed", () => {
    const entries = closureEntries(REQUESTS, "requests", allowlist, "pins");
    expect(entries.map((entry) => [entry.name, entry.specifier, entry.previous])).toEqual([
      ["charset-normalizer", "==3.4.0", undefined],
      ["idna", "==3.10", "<3"],
      ["urllib3", "==2.2.3", undefined],
    ]);
    expect(entries[0]?.reason).toBe("requests 2.32.3 requires charset-normalizer<4,>=2");
  });

  it("with ranges writes the requirers' specifiers, or * when none states one", () => {
    const items = [...REQUESTS, item("extra-lib", "1.0"), item("uses", "1.0", ["extra-lib"], false)];
    const entries = closureEntries(items, "requests", allowlistOf({ packages: { requests: "*" } }), "ranges");
    const byName = Object.fromEntries(entries.map((entry) => [entry.name, entry.specifier]));
    expect(byName).toMatchObject({ "charset-normalizer": "<4,>=2", idna: "<4,>=2.5", urllib3: "<3,>=1.21.1", certifi: ">=2017.4.17", "extra-lib": "*" });
  });
});

describe("the proxy filter of a check", () => {
  const env = envOf({ packages: { requests: "*", idna: "<3" }, deny: ["evil"] });
  const file = (name: string, version: string, extra: Partial<IndexFile> = {}): IndexFile => ({
    filename: `${name}-${version}-py3-none-any.whl`,
    url: `http://127.0.0.1/${name}`,
    sha256: "0".repeat(64),
    requiresPython: undefined,
    uploadTime: undefined,
    yanked: false,
    kind: "wheel",
    version,
    ...extra,
  });
  const pinned = { name: "requests", version: "2.32.3" };

  it("shows unlisted projects' wheels to the resolver; the install filter hides them", () => {
    const check = checkFilterFor(env, pinned);
    const install = proxyFilterFor(env, pinned);
    expect(check.project("certifi")).toBeUndefined();
    expect(check.file("certifi", file("certifi", "2024.8.30"))).toBeUndefined();
    expect(install.project("certifi")).toMatch(/not on the allowlist/);
    expect(install.file("certifi", file("certifi", "2024.8.30"))).toMatch(/not allowed/);
  });

  it("never shows a denied project, an unlisted sdist or a yanked file, and keeps allowed ranges strict", () => {
    const check = checkFilterFor(env, pinned);
    expect(check.project("evil")).toMatch(/deny list/);
    expect(check.file("certifi", file("certifi", "1.0", { kind: "sdist", filename: "certifi-1.0.tar.gz" }))).toMatch(/wheels only/);
    expect(check.file("certifi", file("certifi", "1.0", { yanked: "broken" }))).toMatch(/yanked/);
    expect(check.file("idna", file("idna", "3.10"))).toMatch(/outside the allowed range <3/);
    expect(check.file("idna", file("idna", "2.10"))).toBeUndefined();
  });

  it("allows, in a copy of the allowlist, what an edit would add, leaving the original untouched", () => {
    const copy = allowlistWith(env.allowlist, [{ name: "certifi", specifier: "==2024.8.30" }]);
    expect(copy.packages.get("certifi")?.specifier).toBe("==2024.8.30");
    expect(env.allowlist.packages.has("certifi")).toBe(false);
  });
});

describe("allowlist add --with-deps arguments", () => {
  it("needs an environment's sandbox, not a bare file, and keeps --ranges and --json to --with-deps", async () => {
    const io = { stdout: () => undefined, stderr: () => undefined };
    await expect(runAllowlist(["add", "requests", "*", "--with-deps", "--file", "/nonexistent/allowlist.yaml"], io)).rejects.toThrow(/give --env ENV/);
    await expect(runAllowlist(["add", "requests", "*", "--ranges", "--file", "/nonexistent/allowlist.yaml"], io)).rejects.toThrow(/go with --with-deps/);
    await expect(runAllowlist(["add", "requests", "not a spec", "--with-deps"], io)).rejects.toBeInstanceOf(CliError);
  });
});
