// Dependency confusion end to end: a "public" index (index:) and an "internal" one behind basic auth
// (indexes.internal), pipgate as serve wires it, a real MCP client, the real sandbox. check_package
// refuses the confused name and passes the bound one; an install whose dependency is confused is
// refused before anything of it is downloaded; an install of bound names reaches the internal index only.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWheel } from "../fixtures/dists.js";
import { startIndexServer, type IndexServer } from "../fixtures/index-server.js";
import { runPython } from "../fixtures/pip.js";
import { createWorkspace, requireDocker, venvDigest, type Workspace } from "../support/harness.js";
import { openInProcess, resultText, type ToolResult } from "../support/in-process.js";

const AUTH = { username: "ci-bot", password: "internal-pw-for-tests" };
const BASIC = `Basic ${Buffer.from(`${AUTH.username}:${AUTH.password}`).toString("base64")}`;
const PASSWORD_ENV = "PIPGATE_TEST_CONFUSION_PASSWORD";
const project = (name: string, version: string, dependencies: string[] = []) => ({
  name,
  releases: [{ version, dists: [buildWheel({ name, version, dependencies })] }],
});

describe("several indexes through the real sandbox", () => {
  let ws: Workspace;
  let internal: IndexServer;
  let app: Awaited<ReturnType<typeof openInProcess>>;

  beforeAll(async () => {
    await requireDocker();
    process.env[PASSWORD_ENV] = AUTH.password;
    internal = await startIndexServer({
      seed: false,
      basicAuth: AUTH,
      projects: [project("internal-utils", "1.0.0"), project("corp-app", "1.0.0", ["internal-utils"])],
    });
    ws = await createWorkspace({
      // the public index carries a squat on the internal name, at a higher version
      projects: [project("internal-utils", "99.0.0"), project("app-public", "1.0.0", ["internal-utils"])],
      environments: {
        unbound: { allowlist: { packages: { "app-public": "*", "internal-utils": "*" } } },
        bound: { allowlist: { packages: { "corp-app": { index: "internal" }, "internal-utils": { version: ">=1", index: "internal" } } } },
      },
      config: { indexes: { internal: { url: internal.url, username: AUTH.username, password_env: PASSWORD_ENV } } },
    });
    app = await openInProcess(ws.configPath);
  });
  afterAll(async () => {
    await app?.close();
    await ws?.close();
    await internal?.close();
    delete process.env[PASSWORD_ENV];
  });

  const call = async (name: string, args: Record<string, unknown>) => (await app.client.callTool({ name, arguments: args })) as ToolResult;
  const fileRequests = (server: IndexServer, fragment: string) =>
    server.requests.filter((request) => request.path.startsWith("/files/") && request.path.includes(fragment));

  it("check_package refuses an unbound name both indexes have, naming both; bound, it passes from the internal index", async () => {
    const confused = await call("check_package", { package_name: "internal-utils", environment: "unbound" });
    const decision = confused.structuredContent?.decision as { allowed: boolean; reason: string; rules: Array<{ rule: string; outcome: string }> };
    expect(decision.allowed).toBe(false);
    expect(decision.reason).toMatch(/^internal-utils exists on index internal and on the default index; bind it with `index: internal` in the allowlist/);
    expect(decision.rules).toContainEqual(expect.objectContaining({ rule: "dependency-confusion", outcome: "fail" }));
    const record = (await app.broker.audit.list({ package: "internal-utils" }))[0];
    expect((record?.decision as { rules: Array<{ rule: string; outcome: string }> }).rules).toContainEqual(
      expect.objectContaining({ rule: "dependency-confusion", outcome: "fail" }),
    );

    const bound = await call("check_package", { package_name: "internal-utils", environment: "bound" });
    expect(bound.structuredContent?.decision).toMatchObject({ allowed: true, version: "1.0.0" });
  });

  it("refuses an install whose dependency is confused, before the sandbox downloads anything of it", async () => {
    const before = venvDigest(ws.pythons.unbound!);
    ws.index.requests.length = 0;
    internal.requests.length = 0;
    const result = await call("install_package", { package_name: "app-public", environment: "unbound" });
    expect(result.isError, resultText(result)).toBe(true);
    expect(result.structuredContent).toMatchObject({ status: "denied" });
    expect(resultText(result)).toMatch(/internal-utils exists on index internal and on the default index; bind it with `index: internal`/);
    expect(fileRequests(ws.index, "internal_utils")).toEqual([]);
    expect(fileRequests(internal, "")).toEqual([]);
    expect(venvDigest(ws.pythons.unbound!)).toBe(before);
  });

  it("installs bound names from the internal index only, with its credentials, and the public one never hears of them", async () => {
    ws.index.requests.length = 0;
    internal.requests.length = 0;
    const result = await call("install_package", { package_name: "corp-app", environment: "bound" });
    expect(result.isError, resultText(result)).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ status: "installed" });
    const imported = await runPython(ws.pythons.bound!, "import internal_utils, corp_app; print(internal_utils.__version__, corp_app.__version__)");
    expect(imported.stdout.trim()).toBe("1.0.0 1.0.0");
    expect(ws.index.requests.filter((request) => /internal[-_]utils|corp[-_]app/.test(request.path))).toEqual([]);
    expect(fileRequests(internal, "internal_utils-1.0.0").length).toBeGreaterThan(0);
    expect(internal.requests.every((request) => request.authorization === BASIC)).toBe(true);
    expect(ws.index.requests.some((request) => request.authorization !== undefined)).toBe(false);
  });
});
