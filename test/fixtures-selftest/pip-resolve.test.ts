import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWheel } from "../fixtures/dists.js";
import { startIndexServer, type IndexServer } from "../fixtures/index-server.js";
import { createVenv, runPip, runPython } from "../fixtures/pip.js";

// Real pip (the host's, isolated from the host's configuration) against the fixture index.
describe("real pip against the fixture index", () => {
  let index: IndexServer;
  let dir: string;
  const tampered = buildWheel({ name: "tampered-pkg", version: "1.0" });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pipgate-resolve-"));
    index = await startIndexServer({
      seed: false,
      projects: [
        {
          name: "demo-app",
          releases: [{ version: "1.0", dists: [buildWheel({ name: "demo-app", version: "1.0", dependencies: ["demo-lib>=1.0"] })] }],
        },
        {
          name: "demo-lib",
          releases: [
            { version: "1.0", dists: [buildWheel({ name: "demo-lib", version: "1.0" })] },
            // Newer, but only for a Python that does not exist yet: pip must pass it over.
            { version: "1.5", dists: [buildWheel({ name: "demo-lib", version: "1.5", requiresPython: ">=4" })] },
            // Newest, but yanked: pip must skip it unless pinned with ==.
            { version: "2.0", dists: [buildWheel({ name: "demo-lib", version: "2.0" })], yanked: "broken build" },
          ],
        },
        { name: "tampered-pkg", releases: [{ version: "1.0", dists: [tampered] }] },
      ],
    });
  });
  afterAll(async () => {
    await index.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("resolves a dependency through PEP 691 JSON, skipping yanked and requires-python-excluded releases", async () => {
    const python = await createVenv(join(dir, "venv"));
    const install = await runPip(python, "install", ["--index-url", index.url, "demo-app"]);
    expect(install.exitCode).toBe(0);
    expect(install.stdout).toContain("Successfully installed demo-app-1.0 demo-lib-1.0");
    const imported = await runPython(python, "import demo_app, demo_lib; print(demo_app.__version__, demo_lib.__version__)");
    expect(imported.stdout).toBe("1.0 1.0");
    // pip asked for the JSON form first and got it (the page is requested once per project).
    const pages = index.requests.filter((request) => request.path.startsWith("/simple/"));
    expect(pages.map((request) => [request.path, request.status])).toEqual([
      ["/simple/demo-app/", 200],
      ["/simple/demo-lib/", 200],
    ]);
    expect(pages[0]?.accept).toMatch(/^application\/vnd\.pypi\.simple\.v1\+json/);

    // Pinned with ==, the yanked release is installed, with pip's warning naming the reason.
    const pinned = await runPip(python, "install", ["--index-url", index.url, "demo-lib==2.0"]);
    expect(pinned.exitCode).toBe(0);
    expect(pinned.stderr).toContain("broken build");
    expect((await runPython(python, "import demo_lib; print(demo_lib.__version__)")).stdout).toBe("2.0");
  });

  it("refuses a release whose requires-python excludes this interpreter, even when pinned", async () => {
    const download = await runPip(null, "download", ["--no-deps", "-d", join(dir, "rp"), "--index-url", index.url, "demo-lib==1.5"]);
    expect(download.exitCode).not.toBe(0);
    expect(download.stderr).toMatch(/Requires-Python >=4/);
  });

  it("makes pip fail with a hash mismatch when a file is tampered with", async () => {
    index.tamper(tampered.filename);
    const target = join(dir, "tampered");
    const download = await runPip(null, "download", ["--no-deps", "-d", target, "--index-url", index.url, "tampered-pkg"]);
    expect(download.exitCode).not.toBe(0);
    expect(download.stderr).toContain("THESE PACKAGES DO NOT MATCH THE HASHES");
    expect(download.stderr).toContain(`Expected sha256 ${tampered.sha256}`);
    expect(await readdir(target).catch(() => [])).toEqual([]);
  });
});
