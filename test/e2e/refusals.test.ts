import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWheel } from "../fixtures/dists.js";
import { createWorkspace, REPO_ROOT, requireDocker, venvDigest, type Workspace } from "../support/harness.js";
import { openInProcess, resultText, type ToolResult } from "../support/in-process.js";

const corpusFile = resolve(REPO_ROOT, "../shared/bad-inputs.jsonl");

function corpus(): Array<{ arguments: Record<string, unknown>; refused_as: string }> {
  if (!existsSync(corpusFile)) throw new Error(`bad-input corpus missing: ${corpusFile}`);
  return readFileSync(corpusFile, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as { arguments: Record<string, unknown>; refused_as: string });
}

// Strings an attacker (or a confused model) might send: options, URLs, paths, shell, markers, unicode.
const hostile = fc.oneof(
  fc.tuple(fc.constantFrom("-", "--", "-r ", "-e ", "--index-url=", "--extra-index-url "), fc.string()).map(([a, b]) => a + b),
  fc.tuple(fc.constantFrom("http://", "https://", "git+https://", "file://", "ftp://"), fc.webPath()).map(([a, b]) => `${a}127.0.0.1${b}`),
  fc.tuple(fc.constantFrom("./", "../", "/", "~/", "C:\\", "\\\\srv\\"), fc.string({ minLength: 1 })).map(([a, b]) => a + b),
  fc
    .tuple(fc.stringMatching(/^[a-z]{1,10}$/), fc.constantFrom(";", " @ ", "|", "&&", "$(", "`", "\n", "\r", "\u0000", "\t", "/", ":"), fc.string())
    .map(([a, b, c]) => a + b + c),
  fc
    .tuple(fc.stringMatching(/^[a-z]{1,8}$/), fc.constantFrom("\u0455", "\u0443", "\u200b", "\u202e", "\uff41", "é"), fc.stringMatching(/^[a-z]{0,8}$/))
    .map(([a, b, c]) => a + b + c),
  fc.string({ minLength: 201, maxLength: 400 }),
);

describe("refusals through the MCP server launch nothing and are audited", () => {
  let ws: Workspace;
  let server: Awaited<ReturnType<typeof openInProcess>>;

  beforeAll(async () => {
    await requireDocker();
    ws = await createWorkspace({
      projects: [{ name: "requests", releases: [{ version: "2.32.3", dists: [buildWheel({ name: "requests", version: "2.32.3" })] }] }],
      environments: { default: { allowlist: { packages: { requests: "*" } } } },
      config: { identity: "corpus-agent" },
    });
    server = await openInProcess(ws.configPath);
  });

  afterAll(async () => {
    await server?.close();
    await ws?.close();
  });

  it("refuses every line of the shared corpus before any container or index request", async () => {
    const before = venvDigest(ws.pythons.default!);
    const lines = corpus();
    const indexRequests = ws.index.requests.length;
    const auditBefore = await server.broker.audit.count();
    for (const line of lines) {
      const result = (await server.client.callTool({ name: "install_package", arguments: line.arguments })) as ToolResult;
      expect(result.isError, JSON.stringify(line.arguments).slice(0, 80)).toBe(true);
      expect(resultText(result).length).toBeGreaterThan(20);
      // the same kind in structuredContent as in the audit record, in install_package's own shape
      expect(result.structuredContent, JSON.stringify(line.arguments).slice(0, 80)).toMatchObject({ status: "invalid", refusal: { kind: line.refused_as } });
    }
    expect(server.sandbox.launches).toBe(0);
    expect(ws.index.requests.length).toBe(indexRequests);
    expect(venvDigest(ws.pythons.default!)).toBe(before);
    const records = (await server.broker.audit.list({ order: "asc" })).slice(auditBefore);
    expect(records).toHaveLength(lines.length);
    for (const [i, record] of records.entries()) {
      expect(record.outcome).toBe("invalid");
      expect(record.identity).toBe("corpus-agent");
      expect(record.arguments).toEqual(lines[i]!.arguments);
      expect(record.reason).toBeTruthy();
      expect((record.request as { refusal: string }).refusal).toBe(lines[i]!.refused_as);
    }
  });

  it("refuses generated hostile strings with a readable error and never reaches the sandbox", async () => {
    const indexRequests = ws.index.requests.length;
    await fc.assert(
      fc.asyncProperty(hostile, async (packageName) => {
        const result = (await server.client.callTool({ name: "install_package", arguments: { package_name: packageName } })) as ToolResult;
        const message = resultText(result);
        expect(result.isError).toBe(true);
        expect(message).toMatch(/e\.g\. "requests/);
        // eslint-disable-next-line no-control-regex
        expect(message).not.toMatch(/[\u0000-\u001f\u007f]/);
      }),
      { numRuns: 150 },
    );
    expect(server.sandbox.launches).toBe(0);
    expect(ws.index.requests.length).toBe(indexRequests);
  });
});
