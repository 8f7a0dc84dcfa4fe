import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { loadAllowlist } from "../../src/config/allowlist.js";
import { loadConfig } from "../../src/config/load.js";

const dir = mkdtempSync(join(tmpdir(), "pipgate-osv-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, doc: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, stringify(doc));
  return path;
}

const config = (rules: Record<string, unknown>) => ({
  rules,
  environments: { default: { python: "./venv/bin/python", allowlist: "./allowlist.yaml" } },
});

describe("rules.osv in pipgate.yaml", () => {
  it("resolves the path against the config file and keeps it out of the allowlist defaults", () => {
    const loaded = loadConfig(write("a.yaml", config({ min_release_age_days: 2, osv: { path: "feeds/all.zip", max_age_hours: 36 } })));
    expect(loaded.ok).toBe(true);
    if (!loaded.ok) return;
    expect(loaded.config.osv).toEqual({ path: join(dir, "feeds/all.zip"), max_age_hours: 36 });
    expect(loaded.config.rules).toEqual({ min_release_age_days: 2 });
  });

  it("refuses a misspelt key with the nearest one, and a bad age", () => {
    const typo = loadConfig(write("b.yaml", config({ osv: { path: "x", max_age_hour: 3 } })));
    expect(typo.ok).toBe(false);
    if (!typo.ok) expect(typo.issues.join("\n")).toMatch(/rules\.osv.*max_age_hour.*max_age_hours/);
    const negative = loadConfig(write("c.yaml", config({ osv: { path: "x", max_age_hours: -1 } })));
    expect(negative.ok).toBe(false);
    if (!negative.ok) expect(negative.issues.join("\n")).toMatch(/rules\.osv\.max_age_hours/);
  });

  it("is refused in an allowlist: one database serves every environment", () => {
    const loaded = loadAllowlist(write("allow.yaml", { packages: { requests: "*" }, rules: { osv: { path: "x" } } }), {});
    expect(loaded.ok).toBe(false);
    if (!loaded.ok) expect(loaded.issues.join("\n")).toMatch(/osv/);
  });
});
