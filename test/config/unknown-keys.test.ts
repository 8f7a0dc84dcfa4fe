import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { loadAllowlist } from "../../src/config/allowlist.js";
import { editDistance, nearestKey, unknownKeyMessage } from "../../src/config/issues.js";
import { loadConfig } from "../../src/config/load.js";
import { overlayLoader } from "../../src/grants/allowlist-overlay.js";
import { loadPolicy } from "../../src/config/policy-file.js";
import { REPO_ROOT } from "../support/harness.js";

const dir = mkdtempSync(join(tmpdir(), "pipgate-unknown-keys-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
function write(name: string, doc: unknown): string {
  counter += 1;
  const path = join(dir, `${counter}-${name}`);
  writeFileSync(path, typeof doc === "string" ? doc : stringify(doc));
  return path;
}

/** A pipgate.yaml that loads; each case below adds one misspelt key at one level. */
function goodConfig(): Record<string, unknown> {
  return {
    index: { timeout_ms: 5000 },
    state_dir: ".pipgate",
    sandbox: { memory_mb: 512 },
    commit: { installer: "direct" },
    rules: { min_release_age_days: 3 },
    environments: { default: { python: "./venv/bin/python", allowlist: "./allowlist.yaml" } },
    grants: {
      ci: {
        environments: ["default"],
        limits: { install_package: { limits: [{ counter: "ci_installs", window: "hour", max: 5 }], concurrency: 1 } },
      },
    },
  };
}

/** Sets `value` at a dotted path of a fresh good configuration (numbers index arrays). */
function withKey(base: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const keys = path.split(".");
  let node = base as Record<string, unknown>;
  for (const key of keys.slice(0, -1)) node = node[key] as Record<string, unknown>;
  node[keys[keys.length - 1]!] = value;
  return base;
}

function issuesOf(result: { ok: true } | { ok: false; issues: string[] }): string[] {
  expect(result.ok).toBe(false);
  return result.ok ? [] : result.issues;
}

describe("the nearest known key", () => {
  it("is found across a substitution, an insertion, a transposition, case and '-' for '_'", () => {
    expect(nearestKey("min_release_age_dayz", ["min_release_age_days", "licenses"])).toBe("min_release_age_days");
    expect(nearestKey("sandboxx", ["index", "sandbox", "commit"])).toBe("sandbox");
    expect(nearestKey("pdis", ["memory_mb", "pids", "cpus"])).toBe("pids");
    expect(nearestKey("Min-Release-Age-Days", ["min_release_age_days"])).toBe("min_release_age_days");
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("ab", "ba")).toBe(1);
  });

  it("is not offered when nothing is close; the known keys are listed instead", () => {
    expect(nearestKey("colour", ["packages", "deny", "rules"])).toBeUndefined();
    expect(unknownKeyMessage("colour", ["packages", "deny"])).toBe("unknown key; known keys: packages, deny");
    expect(unknownKeyMessage("denny", ["packages", "deny"])).toBe("unknown key; did you mean deny?");
  });
});

describe("pipgate.yaml refuses an unknown key at every level", () => {
  it("loads the good base configuration", () => {
    const loaded = loadConfig(write("pipgate.yaml", goodConfig()));
    expect(loaded.ok ? "" : loaded.issues.join("\n")).toBe("");
  });

  const cases: Array<[string, string]> = [
    ["sandboxx", "did you mean sandbox?"],
    ["index.timeout_msec", "did you mean timeout_ms?"],
    ["sandbox.memory_mbb", "did you mean memory_mb?"],
    ["commit.instaler", "did you mean installer?"],
    ["commit.store_max_mbs", "did you mean store_max_mb?"],
    ["rules.min_release_age_dayz", "did you mean min_release_age_days?"],
    ["environments.default.allowlst", "did you mean allowlist?"],
    ["grants.ci.token_sha265", "did you mean token_sha256?"],
    ["grants.ci.limits.install_pakage", "did you mean install_package?"],
    ["grants.ci.limits.install_package.concurency", "did you mean concurrency?"],
    ["grants.ci.limits.install_package.limits.0.windw", "did you mean window?"],
  ];
  it.each(cases)("%s", (path, suggestion) => {
    const file = write("pipgate.yaml", withKey(goodConfig(), path, path.includes("install_pakage") ? {} : 1));
    const issues = issuesOf(loadConfig(file));
    expect(issues).toContain(`${file}: ${path}: unknown key; ${suggestion}`);
  });

  it("names every unknown key of one object on its own line", () => {
    const file = write("pipgate.yaml", { ...goodConfig(), sandboxx: {}, colour: "blue" });
    expect(issuesOf(loadConfig(file))).toEqual([
      `${file}: sandboxx: unknown key; did you mean sandbox?`,
      `${file}: colour: unknown key; known keys: index, indexes, state_dir, identity, policy, grants, sandbox, commit, http, rules, environments, upstream, database`,
    ]);
  });
});

describe("an allowlist refuses an unknown key at every level", () => {
  const good = () => ({
    packages: { requests: ">=2.31" },
    deny: ["evil"],
    rules: { wheels_only: true },
    exemptions: [{ package: "requests", rule: "min_release_age", reason: "security fix", expires: "2099-01-01" }],
    vulnerability_ignore: [{ id: "GHSA-xxxx-yyyy-zzzz", reason: "not reachable", expires: "2099-01-01" }],
    pth_allowed: [],
  });

  it("loads the good base allowlist", () => {
    const loaded = loadAllowlist(write("allowlist.yaml", good()));
    expect(loaded.ok ? "" : loaded.issues.join("\n")).toBe("");
  });

  const cases: Array<[string, string]> = [
    ["pakages", "did you mean packages?"],
    ["rules.min_release_age_dayz", "did you mean min_release_age_days?"],
    ["rules.wheel_only", "did you mean wheels_only?"],
    ["exemptions.0.reasn", "did you mean reason?"],
    ["vulnerability_ignore.0.expire", "did you mean expires?"],
  ];
  it.each(cases)("%s", (path, suggestion) => {
    const file = write("allowlist.yaml", withKey(good(), path, 7));
    expect(issuesOf(loadAllowlist(file))).toContain(`${file}: ${path}: unknown key; ${suggestion}`);
  });

  it("refuses a misspelt rule also in a grant's overlay (the grant is refused, not left unnarrowed)", () => {
    const file = write("overlay.yaml", { packages: { requests: "<3" }, rules: { min_release_age_dayz: 7 } });
    const loaded = overlayLoader()(file);
    expect(loaded.ok).toBe(false);
    if (loaded.ok) return;
    expect(loaded.error).toContain(`${file}: rules.min_release_age_dayz: unknown key; did you mean min_release_age_days?`);
  });
});

describe("the policy file refuses an unknown key at every level", () => {
  const good = () => ({
    version: "1",
    default: "deny",
    tools: { install_package: { limits: [{ counter: "rate", window: "minute", max: 10, scope: "grant" }], concurrency: 2 } },
    approval: { unlisted: true, environments: ["default"] },
  });

  it("loads the good base policy", () => {
    const loaded = loadPolicy(write("policy.yaml", good()));
    expect(loaded.ok ? "" : loaded.issues.join("\n")).toBe("");
  });

  const cases: Array<[string, string]> = [
    ["defualt", "did you mean default?"],
    ["tools.install_pakage", "did you mean install_package?"],
    ["tools.install_package.limit", "did you mean limits?"],
    ["tools.install_package.limits.0.scop", "did you mean scope?"],
    ["approval.unlisteed", "did you mean unlisted?"],
  ];
  it.each(cases)("%s", (path, suggestion) => {
    const file = write("policy.json", JSON.stringify(withKey(good(), path, path === "tools.install_pakage" ? {} : 1)));
    expect(issuesOf(loadPolicy(file))).toContain(`${file}: ${path}: unknown key; ${suggestion}`);
  });
});

describe("every configuration file the repository ships still loads", () => {
  it("pipgate.yaml", () => {
    const loaded = loadConfig(join(REPO_ROOT, "pipgate.yaml"));
    expect(loaded.ok ? "" : loaded.issues.join("\n")).toBe("");
  });

  it("every allowlist under allowlists/", () => {
    const files = readdirSync(join(REPO_ROOT, "allowlists")).filter((name) => /\.ya?ml$/.test(name));
    expect(files.length).toBeGreaterThan(0);
    for (const name of files) {
      const loaded = loadAllowlist(join(REPO_ROOT, "allowlists", name));
      expect(loaded.ok ? "" : loaded.issues.join("\n")).toBe("");
    }
  });

  it("every policy under policies/, the seed format verbatim", () => {
    const files = readdirSync(join(REPO_ROOT, "policies"));
    expect(files).toContain("seed.json");
    for (const name of files) {
      const loaded = loadPolicy(join(REPO_ROOT, "policies", name));
      expect(loaded.ok ? "" : loaded.issues.join("\n")).toBe("");
    }
    const seed = loadPolicy(join(REPO_ROOT, "policies", "seed.json"));
    expect(seed.ok && seed.policy.tools.install_package?.limits[0]).toEqual({ counter: "install_package_rate", window: "minute", max: 10, scope: "grant" });
  });
});
