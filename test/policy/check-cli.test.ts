import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { check } from "../../src/cli/check.js";
import { CliError, type CliIo } from "../../src/cli/common.js";
import { DecisionSchema } from "../../src/policy/types.js";
import { buildWheel } from "../fixtures/dists.js";
import { startIndexServer, type IndexServer } from "../fixtures/index-server.js";
import { createVenv } from "../fixtures/pip.js";

let index: IndexServer;
let dir: string;
let config: string;

function capture(): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (text) => void out.push(text), stderr: (text) => void err.push(text) };
}

beforeAll(async () => {
  index = await startIndexServer({
    seed: false,
    projects: [{ name: "requests", releases: [{ version: "2.32.3", dists: [buildWheel({ name: "requests", version: "2.32.3" })] }] }],
  });
  dir = mkdtempSync(join(tmpdir(), "pipgate-check-"));
  const python = await createVenv(join(dir, "venv"));
  writeFileSync(join(dir, "allowlist.yaml"), `packages:\n  requests: ">=2.31,<3"\n`);
  writeFileSync(join(dir, "broken.yaml"), `packages:\n  requests: "not a specifier"\n`);
  config = join(dir, "pipgate.yaml");
  writeFileSync(
    config,
    `index:\n  url: ${index.url}\nstate_dir: ./state\nenvironments:\n  default:\n    python: ${python}\n    allowlist: ./allowlist.yaml\n  broken:\n    python: ${python}\n    allowlist: ./broken.yaml\n`,
  );
});

afterAll(async () => {
  await index.close();
});

describe("pipgate check", () => {
  it("exits 0 and explains an allowed request", async () => {
    const io = capture();
    expect(await check(["default", "requests", "--config", config], io)).toBe(0);
    const text = io.out.join("");
    expect(text.split("\n")[0]).toBe("allowed: requests 2.32.3");
    expect(text).toMatch(/✓ requires-python: .*Python 3\.11/);
  });

  it("exits 3 on a refusal, with the suggestion", async () => {
    const io = capture();
    expect(await check(["default", "reqeusts", "--config", config], io)).toBe(3);
    expect(io.out.join("")).toMatch(/^denied: reqeusts: .*did you mean requests\?/);
  });

  it("prints the decision as JSON that matches DecisionSchema", async () => {
    const io = capture();
    expect(await check(["default", "requests==2.32.3", "--json", "--config", config], io)).toBe(0);
    const parsed = DecisionSchema.safeParse(JSON.parse(io.out.join("")));
    expect(parsed.success && parsed.data.allowed && parsed.data.version).toBe("2.32.3");
  });

  it("usage problems are exit 2, configuration problems exit 1", async () => {
    const usage = check(["default", "--config", config], capture());
    await expect(usage).rejects.toBeInstanceOf(CliError);
    await expect(usage).rejects.toMatchObject({ exitCode: 2 });
    await expect(check(["nope", "requests", "--config", config], capture())).rejects.toMatchObject({ exitCode: 2 });
    await expect(check(["default", "--index-url=http://127.0.0.1:9/ x", "--config", config], capture())).rejects.toMatchObject({ exitCode: 2 });
    await expect(check(["broken", "requests", "--config", config], capture())).rejects.toMatchObject({
      exitCode: 1,
      message: expect.stringMatching(/packages\.requests: "not a specifier" is not a PEP 440 specifier set/),
    });
  });
});
