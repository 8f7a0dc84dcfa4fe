import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadPolicy, watchPolicy } from "../../src/config/policy-file.js";

const seed = (max: number) =>
  JSON.stringify({
    version: "1",
    default: "deny",
    tools: { install_package: { limits: [{ counter: "install_package_rate", window: "minute", max, scope: "grant" }] } },
  });

/** Writes like an editor or `git checkout` does: a new file renamed over the old one. */
function replace(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

describe("a policy file edited while the server runs", () => {
  const dir = mkdtempSync(join(tmpdir(), "pipgate-policy-"));

  it("takes a valid edit at the next admission and keeps the last good policy through a broken one", () => {
    const path = join(dir, "policy.json");
    writeFileSync(path, seed(2));
    const initial = loadPolicy(path);
    if (!initial.ok) throw new Error(initial.issues.join("\n"));
    const errors: string[][] = [];
    const watched = watchPolicy(path, initial.policy, (issues) => errors.push(issues));
    expect(watched.current().tools.install_package?.limits[0]?.max).toBe(2);

    replace(path, seed(5));
    expect(watched.current().tools.install_package?.limits[0]?.max).toBe(5);
    expect(watched.error()).toBeUndefined();

    replace(path, '{"version": "1", "tools": {"install_package": {"limits": [{"window": "fortnight"}]}}}');
    expect(watched.current().tools.install_package?.limits[0]?.max).toBe(5);
    expect(watched.error()).toMatch(/window/);
    expect(errors).toHaveLength(1);

    replace(path, seed(7));
    expect(watched.current().tools.install_package?.limits[0]?.max).toBe(7);
    expect(watched.error()).toBeUndefined();
  });

  it("keeps the last good policy through an edit with a misspelt key, and names the key", () => {
    const path = join(dir, "typo.json");
    writeFileSync(path, seed(3));
    const initial = loadPolicy(path);
    if (!initial.ok) throw new Error(initial.issues.join("\n"));
    const errors: string[][] = [];
    const watched = watchPolicy(path, initial.policy, (issues) => errors.push(issues));

    // `concurency` would otherwise be dropped, and with it the cap the maintainer meant to add.
    replace(path, JSON.stringify({ version: "1", default: "deny", tools: { install_package: { limits: [], concurency: 1 } } }));
    expect(watched.current().tools.install_package?.limits[0]?.max).toBe(3);
    expect(watched.error()).toBe(`${path}: tools.install_package.concurency: unknown key; did you mean concurrency?`);
    expect(errors).toEqual([[`${path}: tools.install_package.concurency: unknown key; did you mean concurrency?`]]);

    replace(path, seed(4));
    expect(watched.current().tools.install_package?.limits[0]?.max).toBe(4);
    expect(watched.error()).toBeUndefined();
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));
});
