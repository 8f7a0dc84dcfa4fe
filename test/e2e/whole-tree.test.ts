import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAllowlist } from "../../src/cli/allowlist.js";
import { check } from "../../src/cli/check.js";
import { buildWheel } from "../fixtures/dists.js";
import { runPython } from "../fixtures/pip.js";
import { capture } from "../support/cli-io.js";
import { createWorkspace, requireDocker, venvDigest, type Workspace } from "../support/harness.js";
import { openInProcess, resultText, type ToolResult } from "../support/in-process.js";

/** requests as PyPI ships it: four dependencies with the specifiers of 2.32.3's metadata. */
const DEPENDENCIES = { "charset-normalizer": "3.4.0", idna: "3.10", urllib3: "2.2.3", certifi: "2024.8.30" };
const REQUIRES = ["charset-normalizer<4,>=2", "idna<4,>=2.5", "urllib3<3,>=1.21.1", "certifi>=2017.4.17"];

/** Every file name under a directory tree (the content-addressed store). */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => entry.name);
}

/** The words of a shell command as the hint quotes them (single quotes only). */
function shellWords(command: string): string[] {
  return [...command.matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)].map((match) => (match[1] === undefined ? (match[2] ?? "") : match[1].replace(/'\\''/g, "'")));
}

describe("whole-tree decisions: one refusal names everything missing, one command allows it", () => {
  let ws: Workspace;
  let server: Awaited<ReturnType<typeof openInProcess>>;

  beforeAll(async () => {
    await requireDocker();
    ws = await createWorkspace({
      projects: [
        { name: "requests", releases: [{ version: "2.32.3", dists: [buildWheel({ name: "requests", version: "2.32.3", dependencies: REQUIRES })] }] },
        ...Object.entries(DEPENDENCIES).map(([name, version]) => ({ name, releases: [{ version, dists: [buildWheel({ name, version })] }] })),
      ],
      environments: { default: { allowlist: { packages: { requests: "*" } } } },
    });
    server = await openInProcess(ws.configPath);
  });

  afterAll(async () => {
    await server?.close();
    await ws?.close();
  });

  let hint = "";

  it("refuses requests once, naming all four missing dependencies with chain and rule; nothing reaches the venv or the store", async () => {
    const before = venvDigest(ws.pythons.default!);
    const result = (await server.client.callTool({ name: "install_package", arguments: { package_name: "requests" } }, undefined, {
      timeout: 240_000,
    })) as ToolResult;
    expect(result.isError).toBe(true);
    const structured = result.structuredContent as {
      status: string;
      hint: string;
      refused: Array<{ name: string; version: string; rule: string; allowable: boolean; chain: unknown[] }>;
    };
    expect(structured.status).toBe("denied");
    expect(structured.refused.map((entry) => entry.name).sort()).toEqual(Object.keys(DEPENDENCIES).sort());
    for (const entry of structured.refused) {
      expect(entry).toMatchObject({ version: DEPENDENCIES[entry.name as keyof typeof DEPENDENCIES], rule: "allowlist", allowable: true });
      expect(entry.chain).toEqual([{ name: "requests", version: "2.32.3", requires: REQUIRES.find((line) => line.startsWith(entry.name))! }]);
    }
    const text = resultText(result);
    expect(text).toContain("needs 4 distributions that environment default does not allow");
    expect(text).toContain("requests 2.32.3 requires idna<4,>=2.5");
    expect(structured.hint).toContain("pipgate allowlist add requests '*' --with-deps --env default");
    hint = structured.hint;
    // The check run served the unlisted wheels to the resolver only: none of them is in the venv or the store.
    expect(venvDigest(ws.pythons.default!)).toBe(before);
    const stored = filesUnder(join(ws.stateDir, "files"));
    for (const name of Object.keys(DEPENDENCIES)) expect(stored.some((file) => file.startsWith(name.replace(/-/g, "_")))).toBe(false);
    expect((await server.broker.audit.list({ package: "requests" })).at(-1)?.reason).toContain("certifi 2024.8.30");
  });

  it("check_package decides the named project by default and resolves the tree with resolve: true", async () => {
    const dry = (await server.client.callTool({ name: "check_package", arguments: { package_name: "requests" } })) as ToolResult;
    expect((dry.structuredContent as { decision: { allowed: boolean }; tree?: unknown }).decision.allowed).toBe(true);
    expect((dry.structuredContent as { tree?: unknown }).tree).toBeUndefined();
    const before = venvDigest(ws.pythons.default!);
    const resolved = (await server.client.callTool({ name: "check_package", arguments: { package_name: "requests", resolve: true } }, undefined, {
      timeout: 240_000,
    })) as ToolResult;
    const tree = (
      resolved.structuredContent as { tree: { allowed: boolean; resolved: Array<{ name: string }>; refused: Array<{ name: string }>; hint: string } }
    ).tree;
    expect(tree.allowed).toBe(false);
    expect(tree.resolved.map((dist) => dist.name).sort()).toEqual(["requests", ...Object.keys(DEPENDENCIES)].sort());
    expect(tree.refused.map((entry) => entry.name).sort()).toEqual(Object.keys(DEPENDENCIES).sort());
    expect(tree.hint).toContain("--with-deps");
    expect(venvDigest(ws.pythons.default!)).toBe(before);

    // `pipgate check --resolve` answers the same tree, and exits 3 (denied) for it.
    const io = capture();
    expect(await check(["default", "requests", "--resolve", "--json", "--config", ws.configPath], io)).toBe(3);
    const printed = JSON.parse(io.out()) as { decision: { allowed: boolean }; tree: { refused: Array<{ name: string }> } };
    expect(printed.decision.allowed).toBe(true);
    expect(printed.tree.refused.map((entry) => entry.name).sort()).toEqual(Object.keys(DEPENDENCIES).sort());
    expect(venvDigest(ws.pythons.default!)).toBe(before);
  });

  it("the hinted command allows the closure, pinned and commented, and the install then succeeds in one call", async () => {
    const command = /pipgate allowlist add [^;]+/.exec(hint)?.[0] ?? "";
    const words = shellWords(command);
    expect(words.slice(0, 3)).toEqual(["pipgate", "allowlist", "add"]);
    const io = capture();
    const code = await runAllowlist([...words.slice(2), "--json", "--config", ws.configPath], io);
    expect(io.err()).toBe("");
    expect(code).toBe(0);
    const answer = JSON.parse(io.out()) as {
      ok: boolean;
      package: { name: string; action: string };
      added: Array<{ name: string; specifier: string; reason: string }>;
    };
    expect(answer.package).toMatchObject({ name: "requests", action: "unchanged" });
    expect(answer.added.map((entry) => [entry.name, entry.specifier]).sort()).toEqual(
      Object.entries(DEPENDENCIES)
        .map(([name, version]) => [name, `==${version}`])
        .sort(),
    );
    const text = readFileSync(ws.allowlists.default!, "utf8");
    expect(text).toContain('idna: "==3.10"  # requests 2.32.3 requires idna<4,>=2.5');
    expect(text).toContain('charset-normalizer: "==3.4.0"  # requests 2.32.3 requires charset-normalizer<4,>=2');

    const launches = server.sandbox.launches;
    const result = (await server.client.callTool({ name: "install_package", arguments: { package_name: "requests" } }, undefined, {
      timeout: 240_000,
    })) as ToolResult;
    expect(resultText(result)).toContain("installed requests 2.32.3 into default with 4 dependencies");
    expect(server.sandbox.launches).toBe(launches + 1);
    const imported = await runPython(ws.pythons.default!, "import requests, idna, urllib3, certifi, charset_normalizer; print(requests.__version__)");
    expect(imported.stdout.trim()).toBe("2.32.3");
  });
});
