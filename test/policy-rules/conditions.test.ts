import { describe, expect, it } from "vitest";
import { parsePolicy } from "../../src/config/policy-file.js";
import type { Policy } from "../../src/config/policy-file-schema.js";
import { unknownPolicyTools } from "../../src/config/policy-tools.js";
import { compilePolicyRegex, REGEX_INPUT_MAX } from "../../src/config/safe-regex.js";
import { normalisePathValue, isUnder, toolRules, toolVerdict } from "../../src/policy-rules/index.js";

const SEED = `{"version": "1", "default": "deny", "tools": {"install_package": {"limits": [{"counter": "installs", "window": "minute", "max": 10, "scope": "grant"}]}}}`;

function policy(raw: unknown, gateway = true): Policy {
  const parsed = parsePolicy(raw, "policy.yaml", { gateway });
  if (!parsed.ok) throw new Error(parsed.issues.join("\n"));
  return parsed.policy;
}

function issues(raw: unknown, gateway = true): string[] {
  const parsed = parsePolicy(raw, "policy.yaml", { gateway });
  return parsed.ok ? [] : parsed.issues;
}

const verdict = (p: Policy, tool: string, args: unknown, grant?: Parameters<typeof toolRules>[2]) => toolVerdict(toolRules(p, tool, grant), tool, args);

describe("the policy file beyond pipgate's own tools", () => {
  it("still accepts the seed format verbatim, with and without a gateway", () => {
    for (const gateway of [false, true]) {
      const p = policy(JSON.parse(SEED), gateway);
      expect(p.tools.install_package?.limits).toEqual([{ counter: "installs", window: "minute", max: 10, scope: "grant" }]);
      expect(p.default).toBe("deny");
    }
  });

  it("refuses an upstream tool name without a gateway, with the nearest of pipgate's tools", () => {
    expect(issues({ version: "1", tools: { read_file: {}, list_environment: {} } }, false)).toEqual([
      "policy.yaml: tools.read_file: unknown key; known keys: install_package, check_package, list_environments, list_installed_packages, list_allowed_packages, install_status",
      "policy.yaml: tools.list_environment: unknown key; did you mean list_environments?",
    ]);
  });

  it("accepts well-formed upstream names in gateway mode and refuses malformed ones", () => {
    expect(issues({ version: "1", tools: { read_file: {}, "run.python-code_2": {} } })).toEqual([]);
    expect(issues({ version: "1", tools: { "read file": {} } }).join("\n")).toMatch(/tools\.read file: a tool name is 1-128 letters/);
    expect(issues({ version: "1", tools: { ["x".repeat(129)]: {} } }).join("\n")).toMatch(/a tool name is 1-128/);
  });

  it("names the tools neither pipgate nor the upstream offers, with the nearest known name", () => {
    const p = policy({ version: "1", tools: { read_fiel: {}, run_python_code: {}, install_package: {}, zzz: {} } });
    expect(unknownPolicyTools(p, ["read_file", "run_python_code", "write_file"])).toEqual([
      { tool: "read_fiel", where: "tools.read_fiel", suggestion: "read_file" },
      { tool: "zzz", where: "tools.zzz" },
    ]);
    expect(unknownPolicyTools(p, ["read_file"], { ci: { environments: "*", role: "agent", limits: { writ_file: { limits: [] } } } })).toContainEqual({
      tool: "writ_file",
      where: "grants.ci.limits.writ_file",
    });
  });

  it("refuses a condition with no test or two, unknown keys, and base_dir without prefix", () => {
    const bad = (condition: unknown) => issues({ version: "1", tools: { read_file: { conditions: [condition] } } }).join("\n");
    expect(bad({ argument: "file_path" })).toMatch(/tools\.read_file\.conditions\.0: a condition needs one test/);
    expect(bad({ argument: "file_path", equals: "a", regex: "a" })).toMatch(/exactly one test; this one has equals, regex/);
    expect(bad({ argument: "file_path", prefx: "/srv" })).toMatch(/conditions\.0\.prefx: unknown key; did you mean prefix\?/);
    expect(bad({ argument: "file_path", equals: "a", base_dir: "/srv" })).toMatch(/base_dir only applies to a prefix condition/);
    expect(bad({ argument: "file_path", prefix: "srv/work" })).toMatch(/prefix must be an absolute path/);
    expect(bad({ argument: "a..b", equals: 1 })).toMatch(/dotted path/);
  });
});

describe("regex conditions cannot stall the broker", () => {
  it.each([
    ["(a+)+$", /nested quantifiers/],
    ["(a|aa)*", /alternation/],
    ["(x(a|b))+", /alternation/],
    ["(\\w)\\1", /backreferences/],
    ["(?=a)a", /lookarounds/],
    ["a*b*c*", /at most 2 unbounded/],
    ["a{1,1000}b*c+", /at most 2 unbounded/],
    ["(", /not a valid regular expression/],
    ["a".repeat(513), /at most 512/],
  ])("refuses %s", (source, reason) => {
    const compiled = compilePolicyRegex(source);
    expect(compiled.ok).toBe(false);
    if (!compiled.ok) expect(compiled.error).toMatch(reason);
  });

  it("accepts ordinary patterns and matches the whole value", () => {
    const compiled = compilePolicyRegex("[a-z_]+\\.py");
    expect(compiled.ok).toBe(true);
    if (!compiled.ok) return;
    expect(compiled.regex.test("main.py")).toBe(true);
    expect(compiled.regex.test("x/main.py")).toBe(false);
    expect(compiled.regex.test("main.py\nrm")).toBe(false);
    expect(compilePolicyRegex("\\p{L}{1,3}x?").ok).toBe(true);
    expect(compilePolicyRegex("[(+*]+").ok).toBe(true);
  });

  it("refuses a load-time regex in the file, naming the place", () => {
    expect(issues({ version: "1", tools: { read_file: { conditions: [{ argument: "file_path", regex: "(a+)+" }] } } }).join("\n")).toMatch(
      /tools\.read_file\.conditions\.0\.regex: nested quantifiers are refused/,
    );
  });

  it("the worst accepted pattern on the largest matched value stays fast, and a longer value fails", () => {
    const p = policy({ version: "1", tools: { t: { conditions: [{ argument: "s", regex: "a*a*" }] } } });
    const started = Date.now();
    expect(verdict(p, "t", { s: `${"a".repeat(REGEX_INPUT_MAX - 1)}b` }).action).toBe("deny");
    expect(Date.now() - started).toBeLessThan(2000);
    expect(verdict(p, "t", { s: "a".repeat(REGEX_INPUT_MAX) }).action).toBe("allow");
    const long = verdict(p, "t", { s: "a".repeat(REGEX_INPUT_MAX + 1) });
    expect(long).toMatchObject({ action: "deny" });
    if (long.action === "deny") expect(long.message).toMatch(/over 4096 characters is never matched/);
  });
});

describe("path prefixes compare normalised paths by whole segments", () => {
  it.each([
    ["/work/a/../../etc/passwd", false],
    ["/work2/x", false],
    ["/work", true],
    ["/work/", true],
    ["//work///a/./b", true],
    ["/work/a/../b", true],
    ["/work/..", false],
  ])("%s under /work: %s", (value, under) => {
    const normal = normalisePathValue(value, undefined);
    expect(normal.ok).toBe(true);
    if (normal.ok) expect(isUnder(normal.path, "/work")).toBe(under);
  });

  it("refuses NUL, a leading ~, and relative paths without a base_dir; resolves them against one", () => {
    expect(normalisePathValue("/work/a\0b", undefined)).toMatchObject({ ok: false, error: "contains a NUL character" });
    expect(normalisePathValue("~/x", "/work")).toMatchObject({ ok: false });
    expect(normalisePathValue("a/b", undefined)).toMatchObject({ ok: false });
    expect(normalisePathValue("a/../../etc", "/work")).toEqual({ ok: true, path: "/etc" });
    expect(normalisePathValue("a/b", "/work")).toEqual({ ok: true, path: "/work/a/b" });
  });
});

describe("toolVerdict", () => {
  const gateway = policy({
    version: "1",
    default: "deny",
    tools: {
      read_file: { conditions: [{ name: "workdir-only", argument: "file_path", prefix: "/srv/work" }] },
      write_file: {
        conditions: [
          { argument: "file_path", prefix: "/srv/work", base_dir: "/srv/work" },
          { argument: "overwrite", equals: false, optional: true, action: "approval" },
          { argument: "content", max_length: 10 },
        ],
      },
      run_python_code: { action: "approval", conditions: [{ argument: "execution_mode", in: ["inline", "subprocess"], optional: true }] },
      install_package: { action: "deny" },
      list_sessions: {},
      nested: { conditions: [{ argument: "options.mode", equals: "safe" }] },
    },
  });

  it("names the rule and the value in a refusal", () => {
    expect(verdict(gateway, "read_file", { file_path: "/etc/passwd" })).toEqual({
      action: "deny",
      rule: "workdir-only",
      message: 'refused by policy rule "workdir-only" (tools.read_file.conditions[0]): file_path must be under /srv/work; it is /etc/passwd',
    });
    expect(verdict(gateway, "read_file", { file_path: "/srv/work/a/../../../etc/passwd" })).toMatchObject({ action: "deny" });
    expect(verdict(gateway, "read_file", { file_path: "/srv/work/notes.txt" })).toEqual({ action: "allow" });
  });

  it("fails closed on a missing argument unless the condition is optional", () => {
    expect(verdict(gateway, "read_file", {})).toMatchObject({ action: "deny", message: expect.stringMatching(/file_path is required by this rule/) });
    expect(verdict(gateway, "read_file", undefined)).toMatchObject({ action: "deny" });
    expect(verdict(gateway, "write_file", { file_path: "notes.txt", content: "hi" })).toEqual({ action: "allow" });
  });

  it("holds a call for approval when a condition says so, but a failed deny condition wins", () => {
    expect(verdict(gateway, "write_file", { file_path: "notes.txt", content: "hi", overwrite: true })).toMatchObject({
      action: "approval",
      rule: "tools.write_file.conditions[1]",
    });
    expect(verdict(gateway, "write_file", { file_path: "notes.txt", content: "far too long", overwrite: true })).toMatchObject({
      action: "deny",
      rule: "tools.write_file.conditions[2]",
      message: expect.stringMatching(/content must be at most 10 characters/),
    });
  });

  it("applies the tool's action: approval, deny, and the default for unnamed tools", () => {
    expect(verdict(gateway, "run_python_code", { code: "1" })).toMatchObject({ action: "approval", rule: "tools.run_python_code.action" });
    expect(verdict(gateway, "run_python_code", { code: "1", execution_mode: "shell" })).toMatchObject({ action: "deny" });
    expect(verdict(gateway, "install_package", {})).toMatchObject({ action: "deny", rule: "tools.install_package.action" });
    expect(verdict(gateway, "list_sessions", {})).toEqual({ action: "allow" });
    expect(verdict(gateway, "clear_session", {})).toMatchObject({ action: "deny", rule: "default" });
  });

  it("reads dotted paths through nested objects, own keys only", () => {
    expect(verdict(gateway, "nested", { options: { mode: "safe" } })).toEqual({ action: "allow" });
    expect(verdict(gateway, "nested", { options: { mode: "unsafe" } })).toMatchObject({ action: "deny" });
    expect(verdict(gateway, "nested", { options: JSON.parse('{"__proto__": {"mode": "safe"}}') })).toMatchObject({ action: "deny" });
    expect(verdict(gateway, "nested", { "options.mode": "safe" })).toMatchObject({ action: "deny" });
  });

  it("equals and in compare JSON scalars by type", () => {
    const p = policy({
      version: "1",
      tools: {
        t: {
          conditions: [
            { argument: "n", equals: 1 },
            { argument: "s", in: ["a", null], optional: true },
          ],
        },
      },
    });
    expect(verdict(p, "t", { n: 1 }).action).toBe("allow");
    expect(verdict(p, "t", { n: "1" }).action).toBe("deny");
    expect(verdict(p, "t", { n: [1] }).action).toBe("deny");
    expect(verdict(p, "t", { n: 1, s: null }).action).toBe("allow");
    expect(verdict(p, "t", { n: 1, s: "b" }).action).toBe("deny");
  });

  it("lets a grant narrow — add conditions, make allow approval — but never widen the file", () => {
    const grantTools = {
      list_sessions: { action: "deny" as const, limits: [] },
      read_file: {
        action: "allow" as const,
        limits: [],
        conditions: [{ argument: "file_path", regex: "[a-z/]+\\.txt", optional: false, action: "deny" as const }],
      },
      install_package: { action: "allow" as const, limits: [] },
      clear_session: { limits: [] },
    };
    const grant = { name: "ci", tools: grantTools };
    expect(verdict(gateway, "list_sessions", {}, grant)).toMatchObject({ action: "deny", rule: "grants.ci.limits.list_sessions.action" });
    expect(verdict(gateway, "read_file", { file_path: "/srv/work/a.py" }, grant)).toMatchObject({
      action: "deny",
      rule: "grants.ci.limits.read_file.conditions[0]",
    });
    expect(verdict(gateway, "read_file", { file_path: "/srv/work/a.txt" }, grant)).toEqual({ action: "allow" });
    expect(verdict(gateway, "read_file", { file_path: "/etc/a.txt" }, grant)).toMatchObject({ action: "deny", rule: "workdir-only" });
    expect(verdict(gateway, "install_package", {}, grant)).toMatchObject({ action: "deny", rule: "tools.install_package.action" });
    expect(verdict(gateway, "clear_session", {}, grant)).toMatchObject({ action: "deny", rule: "default" });
  });
});
