import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/harness.js";

const BIN = join(REPO_ROOT, "dist", "src", "cli", "bin.js");

/** A set-up `serve` starts on; each case spoils one file of it with one misspelt key. */
function setUp(
  dir: string,
  spoil: { config?: Record<string, unknown>; allowlist?: Record<string, unknown>; overlay?: Record<string, unknown>; policy?: Record<string, unknown> } = {},
): string {
  writeFileSync(join(dir, "allowlist.yaml"), stringify({ packages: { requests: "*" }, ...spoil.allowlist }));
  writeFileSync(join(dir, "overlay.yaml"), stringify({ deny: ["flask"], ...spoil.overlay }));
  writeFileSync(join(dir, "policy.json"), JSON.stringify({ version: "1", default: "allow", tools: {}, ...spoil.policy }));
  const config = join(dir, "pipgate.yaml");
  writeFileSync(
    config,
    stringify({
      index: { url: "http://127.0.0.1:9/simple/" },
      state_dir: join(dir, "state"),
      identity: "ci",
      policy: "policy.json",
      environments: { default: { python: join(dir, "venv", "bin", "python"), allowlist: "allowlist.yaml" } },
      grants: { ci: { environments: ["default"], allowlist_overlay: "overlay.yaml" } },
      ...spoil.config,
    }),
  );
  return config;
}

/** `pipgate serve` on stdio, the real built CLI; stdin is closed at once, so a server that starts stops again cleanly. */
function serve(config: string) {
  return execa("node", [BIN, "serve", "--config", config], { cwd: REPO_ROOT, input: "", reject: false, timeout: 60_000, env: { PIPGATE_LOG_LEVEL: "info" } });
}

describe("pipgate serve (the built CLI) stops at start-up on a misspelt key", () => {
  let dir: string;

  beforeAll(() => {
    if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build first (npx tsc -p tsconfig.json)`);
    dir = mkdtempSync(join(tmpdir(), "pipgate-serve-typo-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("starts on the unspoilt set-up (the control: what stops it below is the typo alone)", async () => {
    const run = await serve(setUp(dir));
    expect(run.stderr).toContain("pipgate serving on stdio");
    expect(run.exitCode).toBe(0);
  });

  it.each([
    ["pipgate.yaml", { config: { sandboxx: { memory_mb: 512 } } }, "pipgate.yaml: sandboxx: unknown key; did you mean sandbox?"],
    [
      "an allowlist",
      { allowlist: { rules: { min_release_age_dayz: 7 } } },
      "allowlist.yaml: rules.min_release_age_dayz: unknown key; did you mean min_release_age_days?",
    ],
    ["a grant's overlay", { overlay: { dney: ["numpy"] } }, "overlay.yaml: dney: unknown key; did you mean deny?"],
    ["the policy file", { policy: { tools: { install_pakage: {} } } }, "policy.json: tools.install_pakage: unknown key; did you mean install_package?"],
  ])("in %s", async (_, spoil, line) => {
    const run = await serve(setUp(dir, spoil));
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain("pipgate serve: invalid configuration:");
    expect(run.stderr).toContain(line);
    expect(run.stderr).not.toContain("pipgate serving");
  });
});
