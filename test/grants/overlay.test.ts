import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { doctor } from "../../src/cli/doctor.js";
import { buildAllowlist } from "../../src/config/allowlist.js";
import { narrowAllowlist, overlayLoader } from "../../src/grants/allowlist-overlay.js";
import { capture } from "../allowlist/helpers.js";
import { buildWheel } from "../fixtures/dists.js";
import { createWorkspace, type Workspace } from "../support/harness.js";
import { openInProcess, resultText, type ToolResult } from "../support/in-process.js";

function allowlist(raw: unknown) {
  const built = buildAllowlist(raw, {}, "test");
  if (!built.ok) throw new Error(built.issues.join("\n"));
  return built.allowlist;
}

describe("narrowAllowlist", () => {
  const base = allowlist({
    packages: { requests: ">=2.31", numpy: "*", flask: "*" },
    deny: ["evil"],
    rules: { min_release_age_days: 3, licenses: ["MIT", "BSD-3-Clause"] },
  });

  it("adds denials, keeps only names on both lists under both specifiers", () => {
    const narrowed = narrowAllowlist(base, allowlist({ packages: { requests: "<3", numpy: "*" }, deny: ["flask"] }));
    expect([...narrowed.packages.entries()]).toEqual([
      ["requests", { name: "requests", specifier: ">=2.31,<3" }],
      ["numpy", { name: "numpy", specifier: "" }],
    ]);
    expect([...narrowed.deny].sort()).toEqual(["evil", "flask"]);
  });

  it("never widens: an overlay without packages keeps the environment's list, and rules only get stricter", () => {
    const overlay = allowlist({ rules: { min_release_age_days: 1, licenses: ["MIT", "Apache-2.0"], wheels_only: true } });
    const narrowed = narrowAllowlist(base, overlay);
    expect([...narrowed.packages.keys()]).toEqual(["requests", "numpy", "flask"]);
    expect(narrowed.rules.min_release_age_days).toBe(3);
    expect(narrowed.rules.licenses).toEqual(["MIT"]);
    expect(narrowed.rules.wheels_only).toBe(true);
  });
});

describe("a grant with an allowlist overlay", () => {
  let ws: Workspace;

  beforeAll(async () => {
    ws = await createWorkspace({
      projects: [
        {
          name: "demo-lib",
          releases: [
            { version: "1.0", dists: [buildWheel({ name: "demo-lib", version: "1.0" })] },
            { version: "2.0", dists: [buildWheel({ name: "demo-lib", version: "2.0" })] },
          ],
        },
      ],
      environments: { default: { allowlist: { packages: { "demo-lib": "*" } } } },
    });
    const overlay = join(ws.dir, "contractor-overlay.yaml");
    writeFileSync(overlay, stringify({ packages: { "demo-lib": "<2" } }));
    const denyAll = join(ws.dir, "intern-overlay.yaml");
    writeFileSync(denyAll, stringify({ deny: ["demo-lib"] }));
    writeFileSync(
      ws.configPath,
      stringify({
        index: { url: ws.index.url },
        state_dir: ws.stateDir,
        environments: { default: { python: ws.pythons.default, allowlist: ws.allowlists.default } },
        grants: {
          staff: { environments: "*" },
          contractor: { environments: "*", allowlist_overlay: overlay },
          intern: { environments: "*", allowlist_overlay: "intern-overlay.yaml" },
        },
      }),
    );
  });

  afterAll(async () => {
    await ws?.close();
  });

  async function check(identity: string, requirement: string): Promise<ToolResult> {
    const server = await openInProcess(ws.configPath, { identity });
    try {
      return (await server.client.callTool({ name: "check_package", arguments: { package_name: requirement } })) as ToolResult;
    } finally {
      await server.close();
    }
  }

  it("sees the environment's allowlist narrowed, while other grants see it whole", async () => {
    expect(resultText(await check("staff", "demo-lib"))).toMatch(/^allowed: demo-lib 2\.0/);
    expect(resultText(await check("contractor", "demo-lib"))).toMatch(/^allowed: demo-lib 1\.0/);
    expect(resultText(await check("contractor", "demo-lib==2.0"))).toMatch(/^denied/);
    expect(resultText(await check("intern", "demo-lib"))).toMatch(/^denied.*deny list/s);
  });

  it("doctor names a misspelt key in an overlay and in the policy file", async () => {
    const overlay = join(ws.dir, "typo-overlay.yaml");
    writeFileSync(overlay, stringify({ packages: { "demo-lib": "<2" }, rules: { min_release_age_dayz: 7 } }));
    const policy = join(ws.dir, "typo-policy.json");
    writeFileSync(policy, JSON.stringify({ version: "1", default: "allow", tools: { install_package: { limits: [], concurency: 1 } } }));
    const config = join(ws.dir, "typo-pipgate.yaml");
    writeFileSync(
      config,
      stringify({
        index: { url: ws.index.url },
        state_dir: ws.stateDir,
        policy,
        environments: { default: { python: ws.pythons.default, allowlist: ws.allowlists.default } },
        grants: { staff: { environments: "*" }, contractor: { environments: "*", allowlist_overlay: "typo-overlay.yaml" } },
      }),
    );
    const io = capture();
    expect(await doctor(["--config", config], io)).toBe(1);
    const lines = io.out().split("\n");
    expect(lines).toContain(`FAIL  grant contractor overlay: ${overlay}: rules.min_release_age_dayz: unknown key; did you mean min_release_age_days?`);
    expect(lines).toContain(`FAIL  policy: ${policy}: tools.install_package.concurency: unknown key; did you mean concurrency?`);
  });
});

describe("an overlay edited while the server runs", () => {
  const dir = mkdtempSync(join(tmpdir(), "pipgate-overlay-reload-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Writes like an editor does: a new file renamed over the old one (a new inode, so the change is seen). */
  const replace = (path: string, doc: unknown) => {
    writeFileSync(`${path}.tmp`, stringify(doc));
    renameSync(`${path}.tmp`, path);
  };

  it("keeps the last good overlay through an edit with a misspelt key, reports it, and takes the fix", () => {
    const path = join(dir, "overlay.yaml");
    replace(path, { deny: ["flask"] });
    const reported: Array<{ issues: string[]; lastGoodKept: boolean }> = [];
    const load = overlayLoader((_, issues, lastGoodKept) => reported.push({ issues, lastGoodKept }));
    const first = load(path);
    expect(first.ok && [...first.overlay.deny]).toEqual(["flask"]);

    replace(path, { deny: ["flask", "numpy"], rules: { wheels_onyl: true } });
    const kept = load(path);
    expect(kept.ok && [...kept.overlay.deny]).toEqual(["flask"]);
    expect(reported).toEqual([{ issues: [`${path}: rules.wheels_onyl: unknown key; did you mean wheels_only?`], lastGoodKept: true }]);

    replace(path, { deny: ["flask", "numpy"], rules: { wheels_only: true } });
    const fixed = load(path);
    expect(fixed.ok && [...fixed.overlay.deny]).toEqual(["flask", "numpy"]);
    expect(fixed.ok && fixed.overlay.rules.wheels_only).toBe(true);
  });

  it("refuses the grant when no good overlay was ever loaded", () => {
    const path = join(dir, "never-good.yaml");
    replace(path, { dney: ["flask"] });
    const reported: boolean[] = [];
    const loaded = overlayLoader((_, __, lastGoodKept) => reported.push(lastGoodKept))(path);
    expect(loaded.ok).toBe(false);
    expect(loaded.ok ? "" : loaded.error).toContain(`${path}: dney: unknown key; did you mean deny?`);
    expect(reported).toEqual([false]);
  });
});
