import { appendFileSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAllowlist } from "../../src/cli/allowlist.js";
import { doctor } from "../../src/cli/doctor.js";
import { capture } from "../allowlist/helpers.js";
import { buildWheel } from "../fixtures/dists.js";
import { createWorkspace, requireDocker, type Workspace } from "../support/harness.js";
import { openInProcess, resultText, type ToolResult } from "../support/in-process.js";

type Session = Awaited<ReturnType<typeof openInProcess>>;

/**
 * Makes sure the environment's (mtime, size) check sees an edit even on a file system with coarse
 * timestamps: the new mtime is set a few seconds past the old one.
 */
function touchForward(path: string): void {
  const { mtimeMs } = statSync(path);
  const later = new Date(mtimeMs + 5_000);
  utimesSync(path, later, later);
}

describe("allowlist edits reach a running server without a restart", () => {
  let ws: Workspace;
  let session: Session;
  let path: string;

  const allowedNames = async () => {
    const result = (await session.client.callTool({ name: "list_allowed_packages", arguments: { environment: "default" } })) as ToolResult;
    expect(result.isError).toBeFalsy();
    return (result.structuredContent as { packages: Array<{ name: string; specifier: string }> }).packages;
  };
  const check = async (packageName: string) => {
    const result = (await session.client.callTool({ name: "check_package", arguments: { package_name: packageName } })) as ToolResult;
    return { result, decision: (result.structuredContent as { decision: { allowed: boolean } } | undefined)?.decision, text: resultText(result) };
  };
  const statusOfDefault = () => session.broker.environments.status().find((entry) => entry.environment === "default");

  beforeAll(async () => {
    ws = await createWorkspace({
      projects: [
        { name: "demo-lib", releases: [{ version: "1.0.0", dists: [buildWheel({ name: "demo-lib", version: "1.0.0" })] }] },
        { name: "extra-tool", releases: [{ version: "1.4.0", dists: [buildWheel({ name: "extra-tool", version: "1.4.0" })] }] },
      ],
      environments: { default: { allowlist: { packages: { "demo-lib": "*" } } } },
    });
    path = ws.allowlists.default!;
    writeFileSync(path, '# maintained with pipgate allowlist\npackages:\n  demo-lib: "*"   # core\n');
    session = await openInProcess(ws.configPath);
  });

  afterAll(async () => {
    await session?.close();
    await ws?.close();
  });

  it("answers from the allowlist as it is first", async () => {
    expect(await allowedNames()).toEqual([{ name: "demo-lib", specifier: "*" }]);
    const refused = await check("extra-tool");
    expect(refused.decision?.allowed).toBe(false);
    expect(refused.text).toMatch(/not on the allowlist/i);
  });

  it("sees a package added with `pipgate allowlist add` on the next call", async () => {
    const io = capture();
    // No touch here: the CLI's own write (a longer file, renamed into place) is what the server must notice.
    expect(await runAllowlist(["add", "extra-tool", ">=1.2,<2", "--reason", "release tooling", "--config", ws.configPath], io)).toBe(0);
    expect(readFileSync(path, "utf8")).toContain('  extra-tool: ">=1.2,<2"  # release tooling\n');
    expect(await allowedNames()).toEqual([
      { name: "demo-lib", specifier: "*" },
      { name: "extra-tool", specifier: ">=1.2,<2" },
    ]);
    const allowed = await check("extra-tool");
    expect(allowed.decision?.allowed).toBe(true);
    expect(allowed.text).toContain("extra-tool 1.4.0");
    expect(statusOfDefault()?.error).toBeUndefined();
  });

  it("keeps the last good allowlist in force when an edit is not valid YAML, and reports the error", async () => {
    const good = readFileSync(path, "utf8");
    appendFileSync(path, "  broken: [unclosed\n");
    touchForward(path);
    expect((await allowedNames()).map((entry) => entry.name)).toEqual(["demo-lib", "extra-tool"]);
    expect((await check("extra-tool")).decision?.allowed).toBe(true);
    expect(statusOfDefault()?.error).toMatch(/not valid YAML/);

    // Once fixed, the error is gone and the file is in force again.
    writeFileSync(path, good);
    touchForward(path);
    expect((await allowedNames()).map((entry) => entry.name)).toEqual(["demo-lib", "extra-tool"]);
    expect(statusOfDefault()?.error).toBeUndefined();
  });

  it("keeps the last good allowlist when an edit misspells a rule, naming the key and what it meant", async () => {
    const good = readFileSync(path, "utf8");
    // Taken as written, this edit would let in a new package while its cooldown silently stayed off.
    writeFileSync(path, `${good}  brand-new: "*"\nrules:\n  min_release_age_dayz: 7\n`);
    touchForward(path);
    expect((await allowedNames()).map((entry) => entry.name)).toEqual(["demo-lib", "extra-tool"]);
    expect(statusOfDefault()?.error).toBe(`${path}: rules.min_release_age_dayz: unknown key; did you mean min_release_age_days?`);

    writeFileSync(path, good);
    touchForward(path);
    expect((await allowedNames()).map((entry) => entry.name)).toEqual(["demo-lib", "extra-tool"]);
    expect(statusOfDefault()?.error).toBeUndefined();
  });

  it("keeps the last good allowlist when an edit has an invalid specifier; doctor prints the error", async () => {
    writeFileSync(path, 'packages:\n  demo-lib: "*"\n  extra-tool: "latest"\n');
    touchForward(path);
    const previous = await allowedNames();
    expect(previous).toEqual([
      { name: "demo-lib", specifier: "*" },
      { name: "extra-tool", specifier: ">=1.2,<2" },
    ]);
    expect((await check("extra-tool")).decision?.allowed).toBe(true);
    const status = statusOfDefault();
    expect(status?.error).toContain('packages.extra-tool: "latest" is not a PEP 440 specifier set');
    expect(status?.path).toBe(path);

    await requireDocker();
    const io = capture();
    expect(await doctor(["--config", ws.configPath], io)).toBe(1);
    const line = io
      .out()
      .split("\n")
      .find((l) => l.includes("environment default"));
    expect(line).toMatch(/^FAIL/);
    expect(line).toContain('packages.extra-tool: "latest" is not a PEP 440 specifier set');
  });
});
