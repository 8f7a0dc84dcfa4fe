import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { corpusAllowlist, loadCorpus } from "../../bench/corpus/build-corpus.js";
import { CORPUS } from "../../bench/corpus/corpus.js";
import { runPython } from "../fixtures/pip.js";
import { createWorkspace, requireDocker, type Workspace } from "../support/harness.js";
import { openInProcess, resultText, type ToolResult } from "../support/in-process.js";

// The bench corpus is only worth its figures if its wheels go through pipgate like any real package:
// the requests set, built from Debian's files into a cache of this test's own, installed by
// install_package from the test index and imported.
describe("a corpus set installs through pipgate", () => {
  const requests = CORPUS.find((set) => set.name === "requests")!;
  const cacheDir = mkdtempSync(join(tmpdir(), "pipgate-corpus-cache-"));
  let ws: Workspace;
  let server: Awaited<ReturnType<typeof openInProcess>>;

  beforeAll(async () => {
    await requireDocker();
    const corpus = await loadCorpus([requests], { cacheDir });
    if (!corpus.ok) throw new Error(corpus.error);
    expect(corpus.value.built).toBe(true);
    // a second load finds the verified wheels cached, byte for byte
    const again = await loadCorpus([requests], { cacheDir });
    expect(again.ok && !again.value.built && again.value.wheels.map((w) => w.sha256)).toEqual(corpus.value.wheels.map((w) => w.sha256));
    ws = await createWorkspace({ projects: corpus.value.projects, environments: { app: { allowlist: corpusAllowlist(requests) } } });
    server = await openInProcess(ws.configPath);
  }, 240_000);

  afterAll(async () => {
    await server?.close();
    await ws?.close();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it("installs requests with its whole tree, and it imports", async () => {
    const result = (await server.client.callTool(
      { name: "install_package", arguments: { package_name: requests.requirement, environment: "app" } },
      undefined,
      { timeout: 240_000 },
    )) as ToolResult;
    expect(result.isError, resultText(result)).toBeFalsy();
    expect(result.structuredContent?.["status"]).toBe("installed");
    const imported = await runPython(ws.pythons.app!, "import requests, urllib3, idna, certifi, charset_normalizer; print(requests.__version__)");
    // (Debian pairs requests 2.28 with charset-normalizer 3, which requests warns about on import)
    expect(imported.exitCode, imported.stderr).toBe(0);
    expect(imported.stdout.trim()).toBe("2.28.1");
  }, 240_000);
});
