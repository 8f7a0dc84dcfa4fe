import { writeFileSync } from "node:fs";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWheel } from "../fixtures/dists.js";
import { runPython } from "../fixtures/pip.js";
import { createWorkspace, requireDocker, type Workspace } from "../support/harness.js";
import { openInProcess, resultText, type ToolResult } from "../support/in-process.js";

const allowlist = { packages: { "warm-app": "*", "warm-lib": "*" } };

describe("a repeat of a verified resolution skips the sandbox, never the policy", () => {
  let ws: Workspace;
  let server: Awaited<ReturnType<typeof openInProcess>>;

  beforeAll(async () => {
    await requireDocker();
    ws = await createWorkspace({
      projects: [
        { name: "warm-app", releases: [{ version: "1.0", dists: [buildWheel({ name: "warm-app", version: "1.0", dependencies: ["warm-lib"] })] }] },
        { name: "warm-lib", releases: [{ version: "2.0", dists: [buildWheel({ name: "warm-lib", version: "2.0" })] }] },
      ],
      environments: { first: { allowlist }, second: { allowlist }, third: { allowlist }, fourth: { allowlist } },
      // metadata is revalidated on every use, so a newly published vulnerability is seen at once
      config: { index: { cache_ttl_seconds: 0 } },
    });
    server = await openInProcess(ws.configPath);
  });

  afterAll(async () => {
    await server?.close();
    await ws?.close();
  });

  async function install(environment: string): Promise<ToolResult> {
    return (await server.client.callTool({ name: "install_package", arguments: { package_name: "warm-app", environment } }, undefined, {
      timeout: 120_000,
    })) as ToolResult;
  }

  it("installs into a second venv from verified wheels without a container", async () => {
    expect((await install("first")).isError).toBeFalsy();
    const launches = server.sandbox.launches;
    const second = await install("second");
    expect(resultText(second)).toContain("installed warm-app 1.0");
    expect(server.sandbox.launches).toBe(launches);
    const imported = await runPython(ws.pythons.second!, "import warm_app, warm_lib; print(warm_lib.__version__)");
    expect(imported.stdout.trim()).toBe("2.0");
    const record = (await server.broker.audit.list({ environment: "second" })).at(-1);
    expect(record?.sandbox).toMatchObject({ cached: true });
  });

  it("a changed allowlist is a different key: the sandbox runs again", async () => {
    writeFileSync(ws.allowlists.third!, stringify({ packages: { "warm-app": "*", "warm-lib": ">=2" } }));
    const launches = server.sandbox.launches;
    expect((await install("third")).isError).toBeFalsy();
    expect(server.sandbox.launches).toBe(launches + 1);
  });

  it("re-checks policy on a hit: a vulnerability published since refuses the cached set", async () => {
    ws.index.addProject({
      name: "warm-lib",
      releases: [
        {
          version: "2.0",
          dists: [buildWheel({ name: "warm-lib", version: "2.0" })],
          vulnerabilities: [{ id: "PYSEC-2026-1", details: "found after the first install" }],
        },
      ],
    });
    const result = await install("fourth");
    expect(result.isError).toBe(true);
    expect(resultText(result)).toContain("PYSEC-2026-1");
    expect((await server.broker.audit.list({ environment: "fourth" })).at(-1)?.outcome).toBe("denied");
  });
});
