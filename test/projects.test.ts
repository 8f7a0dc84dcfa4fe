import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { INTEGRATION_TESTS, UNIT_TESTS } from "../vitest.config.js";

const ROOT = join(import.meta.dirname, "..");

function testFiles(): string[] {
  const names = readdirSync(join(ROOT, "test"), { recursive: true, encoding: "utf8" });
  return names
    .filter((name) => name.endsWith(".test.ts"))
    .map((name) => `test/${name.split("\\").join("/")}`)
    .sort();
}

describe("the vitest projects", () => {
  it("list every test file in exactly one project, so a new file cannot fall through", () => {
    const listed = [...UNIT_TESTS, ...INTEGRATION_TESTS];
    const twice = listed.filter((file, index) => listed.indexOf(file) !== index);
    expect(twice, "listed in both projects, or twice in one").toEqual([]);
    const unlisted = testFiles().filter((file) => !listed.includes(file));
    expect(unlisted, "add these to UNIT_TESTS or INTEGRATION_TESTS in vitest.config.ts").toEqual([]);
  });

  it("list only files that exist, by plain path (a glob would hide a moved or renamed file)", () => {
    const files = testFiles();
    const listed = [...UNIT_TESTS, ...INTEGRATION_TESTS];
    expect(listed.filter((file) => /[*?[\]{}!]/.test(file))).toEqual([]);
    expect(listed.filter((file) => !files.includes(file))).toEqual([]);
  });
});
