import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildAllowlist } from "../../src/config/allowlist.js";
import { contentActions, DEFAULT_RULES, type ContentRules } from "../../src/config/allowlist-schema.js";
import { withContentRule } from "../../src/policy/content-rule.js";
import type { Decision } from "../../src/policy/types.js";
import { BASE64_BLOB_CHARS, isPureTagged, nativeFormat, pthCode } from "../../src/verify/content-signals.js";
import { inspectWheel, type WheelInspection } from "../../src/verify/wheel.js";
import { buildWheel } from "../fixtures/dists.js";

const dir = mkdtempSync(join(tmpdir(), "pipgate-content-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ELF = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.alloc(56)]);
const defaults = contentActions(DEFAULT_RULES);

function inspect(
  files: Record<string, string | Buffer>,
  options: { allowPth?: boolean; content?: Partial<ContentRules>; filename?: string } = {},
): WheelInspection {
  const built = buildWheel({ name: "sig-demo", version: "1.0", files });
  const path = join(dir, options.filename ?? built.filename);
  writeFileSync(path, built.bytes);
  const result = inspectWheel(path, { allowPth: options.allowPth ?? false, content: { ...defaults, ...options.content } });
  if (!result.ok) throw new Error(result.error);
  return result.inspection;
}

const kinds = (inspection: WheelInspection) => inspection.signals.map((signal) => `${signal.kind}:${signal.action}`);

describe("content signals of the wheel inspection", () => {
  it("finds a .pth that runs code, beyond the .pth allow rule, and none in a .pth of paths", () => {
    const code = inspect({ "sig_demo-hook.pth": "./extra\nimport os; exec(open('/tmp/x').read())\n" }, { allowPth: true });
    expect(kinds(code)).toEqual(["pth_code:warn"]);
    expect(code.signals[0]?.detail).toMatch(/^sig_demo-hook\.pth: runs code at every interpreter start-up: "import os; exec/);
    expect(code.problems).toEqual([]);
    const denied = inspect({ "sig_demo-hook.pth": "import os\n" }, { allowPth: true, content: { pth_code: "deny" } });
    expect(denied.problems).toEqual([`sig_demo-hook.pth: runs code at every interpreter start-up: "import os" (rules.content.pth_code: deny)`]);
    expect(kinds(inspect({ "sig_demo-paths.pth": "./vendor\n# import nothing\n" }, { allowPth: true }))).toEqual([]);
  });

  it("finds a native binary in a pure-tagged wheel, and not in a platform wheel", () => {
    const pure = inspect({ "sig_demo/_speedups.so": ELF });
    expect(kinds(pure)).toEqual(["native_in_pure:warn"]);
    expect(pure.signals[0]?.detail).toBe("sig_demo/_speedups.so: ELF binary in a wheel tagged pure Python (py3-none-any)");
    expect(inspect({ "sig_demo/_speedups.so": ELF }, { content: { native_in_pure: "deny" } }).problems).toContain(
      "sig_demo/_speedups.so: ELF binary in a wheel tagged pure Python (py3-none-any) (rules.content.native_in_pure: deny)",
    );
    const platform = inspect({ "sig_demo/_speedups.so": ELF }, { filename: "sig_demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl" });
    expect(platform.signals).toEqual([]);
  });

  it("refuses module-level exec of decoded data by default, not the same call inside a function", () => {
    const payload = Buffer.from("print('hi')").toString("base64");
    for (const line of [
      `exec(base64.b64decode("${payload}"))`,
      `exec(zlib.decompress(b"x\\x9c"))`,
      `exec(compile(__import__('base64').b64decode("${payload}"), "<x>", "exec"))`,
    ]) {
      const found = inspect({ "sig_demo/boot.py": `import base64, zlib\n${line}\n` });
      expect(kinds(found)).toEqual(["encoded_exec:deny"]);
      expect(found.problems.join("\n")).toMatch(/sig_demo\/boot\.py: module-level exec of decoded data: .*\(rules\.content\.encoded_exec: deny\)/);
    }
    expect(kinds(inspect({ "sig_demo/boot.py": `def run(data):\n    exec(base64.b64decode(data))\n` }))).toEqual([]);
    expect(inspect({ "sig_demo/boot.py": `exec(base64.b64decode("${payload}"))\n` }, { content: { encoded_exec: "warn" } }).problems).toEqual([]);
  });

  it("warns of a very long base64 literal, not a shorter one", () => {
    const blob = Buffer.alloc((BASE64_BLOB_CHARS * 3) / 4 + 30, 7).toString("base64");
    const found = inspect({ "sig_demo/data.py": `ICON = "${blob}"\n` });
    expect(kinds(found)).toEqual(["base64_blob:warn"]);
    expect(found.problems).toEqual([]);
    expect(kinds(inspect({ "sig_demo/data.py": `ICON = "${blob.slice(0, 1000)}"\n` }))).toEqual([]);
  });

  it("lets the real setuptools through by default, reporting its launchers and its .pth", () => {
    const result = inspectWheel("/usr/share/python-wheels/setuptools-66.1.1-py3-none-any.whl", { allowPth: true, content: defaults });
    expect(result.ok && result.inspection.problems).toEqual([]);
    if (!result.ok) return;
    expect(new Set(kinds(result.inspection))).toEqual(new Set(["pth_code:warn", "native_in_pure:warn"]));
  });

  it("tells binaries by magic, pure tags, and the lines site.py executes", () => {
    expect(nativeFormat(ELF)).toBe("ELF");
    expect(nativeFormat(Buffer.from([0xcf, 0xfa, 0xed, 0xfe, 0, 0, 0, 0]))).toBe("Mach-O");
    expect(nativeFormat(Buffer.from([0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 52]))).toBeUndefined(); // a Java class file
    expect(nativeFormat(Buffer.from("#!/bin/sh\n"))).toBeUndefined();
    expect(isPureTagged(["py2-none-any", "py3-none-any"])).toBe(true);
    expect(isPureTagged(["cp311-abi3-linux_x86_64"])).toBe(false);
    expect(pthCode("import a\nimport\tb\nimportant\n  import c\n")).toEqual(["import a", "import\tb"]);
  });
});

describe("rules.content", () => {
  it("merges per signal: an allowlist naming one keeps pipgate.yaml's others", () => {
    const built = buildAllowlist({ packages: {}, rules: { content: { base64_blob: "deny" } } }, { content: { pth_code: "deny" } }, "t");
    expect(built.ok && built.allowlist.rules.content).toEqual({ pth_code: "deny", native_in_pure: "warn", encoded_exec: "deny", base64_blob: "deny" });
    const typo = buildAllowlist({ packages: {}, rules: { content: { pth_cod: "deny" } } }, {}, "t");
    expect(typo.ok).toBe(false);
    if (!typo.ok) expect(typo.issues.join("\n")).toMatch(/pth_cod.*pth_code/);
  });

  it("puts the inspection's verdict into the decision's content rule", () => {
    const decision: Decision = {
      allowed: true,
      name: "x",
      version: "1",
      files: [],
      summary: "",
      rules: [{ rule: "content", outcome: "skip", detail: "later" }],
    };
    expect(withContentRule(decision, [], 2).rules).toEqual([{ rule: "content", outcome: "pass", detail: "no content signals in 2 wheels" }]);
    expect(withContentRule(decision, [{ kind: "base64_blob", detail: "a.whl: b64", action: "warn" }], 1).rules[0]).toEqual({
      rule: "content",
      outcome: "pass",
      detail: "warn: a.whl: b64 (rules.content.base64_blob: warn)",
    });
    expect(withContentRule(decision, [{ kind: "encoded_exec", detail: "a.whl: exec", action: "deny" }], 1).rules[0]?.outcome).toBe("fail");
  });
});
