// The build tools the index proxy serves are the closure of what the sdists it served declare: the real
// proxy, on its unix socket, in front of the real fixture index, asked as pip would ask.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "undici";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { buildAllowlist } from "../../src/config/allowlist.js";
import type { EnvironmentRuntime } from "../../src/config/environments.js";
import { createIndexClient } from "../../src/index/client.js";
import { startIndexProxy, type IndexProxy } from "../../src/index/proxy.js";
import { silentLogger } from "../../src/log.js";
import { proxyFilterFor, type SandboxProxyFilter } from "../../src/pipeline/proxy-filter.js";
import { buildSdist, buildWheel } from "../fixtures/dists.js";
import { startIndexServer, type IndexServer, type ProjectSpec } from "../fixtures/index-server.js";

const HATCH = (requires: string[]) => `[build-system]\nrequires = ${JSON.stringify(requires)}\nbuild-backend = "hatchling.build"\n`;

const wheelOnly = (name: string, version: string, dependencies: string[] = [], yanked?: string): ProjectSpec["releases"][number] => ({
  version,
  dists: [buildWheel({ name, version, dependencies })],
  ...(yanked === undefined ? {} : { yanked }),
});

const projects: ProjectSpec[] = [
  {
    name: "app-hatch",
    releases: [
      {
        version: "1.0",
        dists: [
          buildSdist({
            name: "app-hatch",
            version: "1.0",
            pyproject: HATCH(["hatchling>=1", "pinned-tool==2.0", "yanked-tool", "denied-tool"]),
            noSetupPy: true,
          }),
        ],
      },
    ],
  },
  {
    name: "app-docs",
    releases: [{ version: "1.0", dists: [buildSdist({ name: "app-docs", version: "1.0", pyproject: HATCH(["hatchling[docs]"]), noSetupPy: true })] }],
  },
  { name: "app-legacy", releases: [{ version: "1.0", dists: [buildSdist({ name: "app-legacy", version: "1.0", pyproject: false })] }] },
  { name: "app-wheel", releases: [wheelOnly("app-wheel", "1.0", ["hatchling"])] },
  {
    name: "hatchling",
    releases: [
      {
        version: "1.12",
        dists: [
          buildWheel({
            name: "hatchling",
            version: "1.12",
            dependencies: ["pathspec>=0.10", 'tomli>=1.2; python_version < "3.11"', 'docs-tool; extra == "docs"'],
          }),
          buildSdist({ name: "hatchling", version: "1.12" }),
        ],
      },
      wheelOnly("hatchling", "1.13", [], "broken"),
    ],
  },
  { name: "pathspec", releases: [wheelOnly("pathspec", "0.11")] },
  { name: "tomli", releases: [wheelOnly("tomli", "2.0")] },
  { name: "docs-tool", releases: [wheelOnly("docs-tool", "1.0")] },
  { name: "pinned-tool", releases: [wheelOnly("pinned-tool", "1.0"), wheelOnly("pinned-tool", "2.0", [], "withdrawn")] },
  { name: "yanked-tool", releases: [wheelOnly("yanked-tool", "1.0"), wheelOnly("yanked-tool", "2.0", [], "withdrawn")] },
  { name: "denied-tool", releases: [wheelOnly("denied-tool", "1.0")] },
];

interface Answer {
  status: number;
  body: string;
}

describe("build tools the index proxy serves", () => {
  let index: IndexServer;
  let dir: string;
  let proxy: IndexProxy;
  let filter: SandboxProxyFilter;
  let client: Client;

  const env = (): EnvironmentRuntime => {
    const built = buildAllowlist({ packages: { "app-hatch": "*", "app-legacy": "*", "app-wheel": "*", "app-docs": "*" }, deny: ["denied-tool"] }, {}, "test");
    if (!built.ok) throw new Error(built.issues.join("\n"));
    return { name: "default", python: "/usr/bin/python3", pythonVersion: "3.11", description: undefined, allowlistPath: "test", allowlist: built.allowlist };
  };

  beforeAll(async () => {
    index = await startIndexServer({ projects, seed: true });
    dir = mkdtempSync(join(tmpdir(), "pipgate-proxy-build-"));
  });
  afterAll(async () => {
    await index.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(): Promise<void> {
    filter = proxyFilterFor(env(), { name: "app-hatch", version: "1.0" });
    const socketPath = join(dir, `p${Date.now()}.sock`);
    proxy = await startIndexProxy({
      index: createIndexClient({ url: index.url, timeoutMs: 5_000, retries: 0, cacheTtlSeconds: 0 }),
      socketPath,
      filter,
      log: silentLogger(),
      storeDir: join(dir, "files"),
    });
    client = new Client("http://sandbox", { socketPath });
  }
  afterEach(async () => {
    await client?.close();
    await proxy?.close();
  });

  async function get(path: string): Promise<Answer> {
    const answer = await client.request({ method: "GET", path, headers: { accept: "application/vnd.pypi.simple.v1+json" } });
    return { status: answer.statusCode, body: await answer.body.text() };
  }

  /** The filenames a project page lists, or the status when there is no page. */
  async function page(project: string): Promise<string[] | number> {
    const answer = await get(`/simple/${project}/`);
    if (answer.status !== 200) return answer.status;
    return (JSON.parse(answer.body) as { files: Array<{ filename: string }> }).files.map((file) => file.filename).sort();
  }

  /** Lists the file's project, as pip does, then fetches the file. */
  async function fetchFile(filename: string): Promise<void> {
    await page(filename.split("-")[0]?.replace(/_/g, "-") ?? "");
    const answer = await get(`/files/${encodeURIComponent(filename)}`);
    expect(answer.status, answer.body).toBe(200);
  }

  it("serves no build tool before an sdist is served", async () => {
    await start();
    expect(await page("hatchling")).toBe(404);
    expect(await page("setuptools")).toBe(404);
    expect(proxy.refused).toContainEqual({ project: "hatchling", reason: "hatchling is not on the allowlist of environment default" });
    // A wheel's requirements make nothing a build tool.
    expect(await page("app-wheel")).toEqual(["app_wheel-1.0-py3-none-any.whl"]);
    await fetchFile("app_wheel-1.0-py3-none-any.whl");
    expect(await page("hatchling")).toBe(404);
    expect(filter.buildTools()).toEqual([]);
  });

  it("serves the declared backend once its sdist is served, then the requirements of each backend wheel", async () => {
    await start();
    expect(await page("app-hatch")).toEqual(["app_hatch-1.0.tar.gz"]);
    await fetchFile("app_hatch-1.0.tar.gz");
    // Wheels only, and the yanked 1.13 hidden: nothing pins it.
    expect(await page("hatchling")).toEqual(["hatchling-1.12-py3-none-any.whl"]);
    // The base every sdist gets: setuptools' backend asks for wheel though nothing declares it.
    expect(await page("wheel")).toEqual([expect.stringMatching(/^wheel-[\d.]+-py3-none-any\.whl$/)]);
    expect(await page("pathspec")).toBe(404);
    await fetchFile("hatchling-1.12-py3-none-any.whl");
    expect(await page("pathspec")).toEqual(["pathspec-0.11-py3-none-any.whl"]);
    // Markers are not evaluated here (pip does that); an extra nobody asked for brings nothing in.
    expect(await page("tomli")).toEqual(["tomli-2.0-py3-none-any.whl"]);
    expect(await page("docs-tool")).toBe(404);
    expect(filter.buildTools()).toEqual(["denied-tool", "hatchling", "pathspec", "pinned-tool", "setuptools", "tomli", "wheel", "yanked-tool"]);
  });

  it("serves a requirement behind an extra once a declaration asks for that extra, even of a wheel already served", async () => {
    await start();
    await fetchFile("app_hatch-1.0.tar.gz");
    await fetchFile("hatchling-1.12-py3-none-any.whl");
    expect(await page("docs-tool")).toBe(404);
    await fetchFile("app_docs-1.0.tar.gz");
    expect(await page("docs-tool")).toEqual(["docs_tool-1.0-py3-none-any.whl"]);
  });

  it("never serves a deny-listed build tool, nor a yanked file unless a declaration pins it", async () => {
    await start();
    await fetchFile("app_hatch-1.0.tar.gz");
    expect(await page("denied-tool")).toBe(404);
    expect(proxy.refused).toContainEqual({ project: "denied-tool", reason: "denied-tool is on the deny list of environment default" });
    expect(await page("pinned-tool")).toEqual(["pinned_tool-1.0-py3-none-any.whl", "pinned_tool-2.0-py3-none-any.whl"]);
    expect(await page("yanked-tool")).toEqual(["yanked_tool-1.0-py3-none-any.whl"]);
    expect(proxy.refused).toContainEqual({ project: "yanked-tool", reason: "yanked-tool 2.0 is yanked" });
    expect(await page("hatchling")).toEqual(["hatchling-1.12-py3-none-any.whl"]);
    expect(proxy.refused).toContainEqual({ project: "hatchling", reason: "build tools are served as wheels only" });
  });

  it("serves setuptools' legacy default, and nothing more, for an sdist without pyproject.toml", async () => {
    await start();
    await fetchFile("app_legacy-1.0.tar.gz");
    expect(filter.buildTools()).toEqual(["setuptools", "wheel"]);
    expect(await page("setuptools")).toEqual(expect.arrayContaining([expect.stringMatching(/^setuptools-.*\.whl$/)]));
    expect(await page("wheel")).toEqual(expect.arrayContaining([expect.stringMatching(/^wheel-.*\.whl$/)]));
    expect(await page("hatchling")).toBe(404);
  });

  it("reads a file served again from the store as it read it the first time", async () => {
    await start();
    await fetchFile("app_hatch-1.0.tar.gz");
    await fetchFile("hatchling-1.12-py3-none-any.whl");
    await proxy.close();
    await client.close();
    // A new run: the files now come from pipgate's store, not the index.
    await start();
    const before = index.requests.length;
    await fetchFile("app_hatch-1.0.tar.gz");
    expect(await page("hatchling")).toEqual(["hatchling-1.12-py3-none-any.whl"]);
    await fetchFile("hatchling-1.12-py3-none-any.whl");
    expect(index.requests.slice(before).filter((request) => request.path.startsWith("/files/"))).toEqual([]);
    expect(await page("pathspec")).toEqual(["pathspec-0.11-py3-none-any.whl"]);
  });
});
