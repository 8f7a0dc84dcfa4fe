import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { buildSdist, buildWheel } from "../fixtures/dists.js";
import { startIndexServer, type IndexServer } from "../fixtures/index-server.js";

// The shapes clients rely on, written from PEP 691/700 and the public JSON API, not from the server's code.
const pep691File = z.strictObject({
  filename: z.string(),
  url: z.url(),
  hashes: z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
  "requires-python": z.string().optional(),
  yanked: z.union([z.boolean(), z.string()]),
  size: z.number().int().positive(),
  "upload-time": z.string().regex(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/),
});
const pep691Project = z.strictObject({
  meta: z.object({ "api-version": z.literal("1.1") }),
  name: z.string(),
  versions: z.array(z.string()),
  files: z.array(pep691File),
});
const jsonFile = z.object({
  filename: z.string(),
  url: z.url(),
  digests: z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
  packagetype: z.enum(["bdist_wheel", "sdist"]),
  requires_python: z.string().nullable(),
  size: z.number().int().positive(),
  upload_time_iso_8601: z.string().regex(/Z$/),
  yanked: z.boolean(),
  yanked_reason: z.string().nullable(),
});
const vulnerability = z.object({
  id: z.string(),
  aliases: z.array(z.string()),
  details: z.string(),
  fixed_in: z.array(z.string()),
  withdrawn: z.string().nullable(),
  link: z.string(),
});
const jsonInfo = z.object({
  name: z.string(),
  version: z.string(),
  summary: z.string().nullable(),
  license: z.string().nullable(),
  license_expression: z.string().nullable(),
  classifiers: z.array(z.string()),
  requires_python: z.string().nullable(),
  requires_dist: z.array(z.string()).nullable(),
  yanked: z.boolean(),
  yanked_reason: z.string().nullable(),
});
const jsonProject = z.object({
  info: jsonInfo,
  releases: z.record(z.string(), z.array(jsonFile)),
  urls: z.array(jsonFile),
  vulnerabilities: z.array(vulnerability),
});
const jsonRelease = jsonProject.omit({ releases: true });

const PEP691 = "application/vnd.pypi.simple.v1+json";
const uploaded = new Date("2024-03-01T12:00:00Z");

describe("index server protocol", () => {
  let index: IndexServer;
  const lib1 = buildWheel({ name: "Demo_Lib", version: "1.0", requiresPython: ">=3.8" });
  const lib2 = buildWheel({ name: "Demo_Lib", version: "2.0", dependencies: ["demo-dep>=1"], license: "MIT" });
  const lib2sdist = buildSdist({ name: "Demo_Lib", version: "2.0" });
  const lib3 = buildWheel({ name: "Demo_Lib", version: "3.0" });

  beforeAll(async () => {
    index = await startIndexServer({
      seed: false,
      projects: [
        {
          name: "Demo_Lib",
          releases: [
            { version: "1.0", dists: [lib1], uploadTime: uploaded, vulnerabilities: [{ id: "PYSEC-0001", aliases: ["CVE-2024-0001"], fixed_in: ["2.0"] }] },
            { version: "2.0", dists: [lib2, lib2sdist], licenseExpression: "MIT", classifiers: ["Programming Language :: Python :: 3"] },
            { version: "3.0", dists: [lib3], yanked: 'broken "quoted" <release>' },
          ],
        },
      ],
    });
  });
  afterAll(async () => {
    await index.close();
  });

  const get = (path: string, headers: Record<string, string> = {}) => fetch(new URL(path, index.origin), { headers, redirect: "manual" });

  it("serves PEP 691 JSON with PEP 700 fields when asked for it", async () => {
    const response = await get("/simple/demo-lib/", { Accept: PEP691 });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe(PEP691);
    const page = pep691Project.parse(await response.json());
    expect(page.name).toBe("demo-lib");
    expect(page.versions).toEqual(["1.0", "2.0", "3.0"]);
    const byName = new Map(page.files.map((file) => [file.filename, file]));
    expect([...byName.keys()]).toEqual([lib1.filename, lib2.filename, lib2sdist.filename, lib3.filename]);
    expect(byName.get(lib1.filename)).toMatchObject({
      url: `${index.origin}/files/${lib1.filename}`,
      hashes: { sha256: lib1.sha256 },
      "requires-python": ">=3.8",
      yanked: false,
      size: lib1.bytes.length,
      "upload-time": "2024-03-01T12:00:00.000Z",
    });
    expect(byName.get(lib3.filename)?.yanked).toBe('broken "quoted" <release>');
  });

  it("serves PEP 503 HTML with escaped data-requires-python and data-yanked by default", async () => {
    for (const accept of [undefined, "text/html", "application/vnd.pypi.simple.v1+html"]) {
      const response = await get("/simple/demo-lib/", accept === undefined ? {} : { Accept: accept });
      expect(response.headers.get("content-type")).toBe(accept ?? "text/html");
      const html = await response.text();
      expect(html).toContain(`<a href="${index.origin}/files/${lib1.filename}#sha256=${lib1.sha256}" data-requires-python="&gt;=3.8">`);
      expect(html).toContain(`data-yanked="broken &quot;quoted&quot; &lt;release&gt;">${lib3.filename}</a>`);
      expect(html).not.toMatch(new RegExp(`${lib2.filename}"[^>]*data-yanked`));
    }
  });

  it("negotiates by q-value and refuses what it cannot serve", async () => {
    const pipAccept = `${PEP691}, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01`;
    expect((await get("/simple/demo-lib/", { Accept: pipAccept })).headers.get("content-type")).toBe(PEP691);
    const htmlFirst = `text/html;q=0.9, ${PEP691};q=0.5`;
    expect((await get("/simple/demo-lib/", { Accept: htmlFirst })).headers.get("content-type")).toBe("text/html");
    expect((await get("/simple/", { Accept: "application/vnd.pypi.simple.latest+json" })).headers.get("content-type")).toBe(PEP691);
    expect((await get("/simple/demo-lib/", { Accept: "application/xml" })).status).toBe(406);
  });

  it("lists projects, redirects other spellings to the normalised URL, and 404s unknown ones", async () => {
    const list = (await (await get("/simple/", { Accept: PEP691 })).json()) as { projects: Array<{ name: string }> };
    expect(list.projects).toEqual([{ name: "Demo_Lib" }]);
    expect(await (await get("/simple/")).text()).toContain('<a href="/simple/demo-lib/">Demo_Lib</a>');
    for (const path of ["/simple/Demo_Lib/", "/simple/demo.lib/", "/simple/demo-lib"]) {
      const response = await get(path);
      expect(response.status).toBe(301);
      expect(response.headers.get("location")).toBe(`${index.origin}/simple/demo-lib/`);
    }
    expect((await get("/simple/no-such-project/")).status).toBe(404);
    expect((await get("/files/no-such-file.whl")).status).toBe(404);
  });

  it("serves the files' bytes", async () => {
    const response = await get(`/files/${lib2sdist.filename}`);
    expect(Buffer.from(await response.arrayBuffer()).equals(lib2sdist.bytes)).toBe(true);
    expect(index.fileUrl(lib2sdist.filename)).toBe(`${index.origin}/files/${lib2sdist.filename}`);
  });

  it("JSON API: project level describes the latest non-yanked release", async () => {
    const response = await get("/pypi/Demo_Lib/json");
    expect(response.headers.get("content-type")).toBe("application/json");
    const body = jsonProject.parse(await response.json());
    expect(body.info).toMatchObject({
      name: "Demo_Lib",
      version: "2.0",
      requires_dist: ["demo-dep>=1"],
      license_expression: "MIT",
      classifiers: ["Programming Language :: Python :: 3"],
      yanked: false,
    });
    expect(Object.keys(body.releases)).toEqual(["1.0", "2.0", "3.0"]);
    expect(body.urls.map((file) => [file.filename, file.packagetype])).toEqual([
      [lib2.filename, "bdist_wheel"],
      [lib2sdist.filename, "sdist"],
    ]);
    expect(body.releases["3.0"]?.[0]).toMatchObject({ yanked: true, yanked_reason: 'broken "quoted" <release>' });
    expect(body.vulnerabilities).toEqual([]);
  });

  it("JSON API: version level carries that release's vulnerabilities and yanked state", async () => {
    const v1 = jsonRelease.parse(await (await get("/pypi/Demo_Lib/1.0/json")).json());
    expect(v1.info).toMatchObject({ version: "1.0", requires_python: ">=3.8", requires_dist: null });
    expect(v1.urls[0]).toMatchObject({ digests: { sha256: lib1.sha256 }, upload_time_iso_8601: "2024-03-01T12:00:00.000000Z" });
    expect(v1.vulnerabilities).toEqual([expect.objectContaining({ id: "PYSEC-0001", aliases: ["CVE-2024-0001"], fixed_in: ["2.0"], withdrawn: null })]);
    const v3 = jsonRelease.parse(await (await get("/pypi/Demo_Lib/3.0/json")).json());
    expect(v3.info).toMatchObject({ yanked: true, yanked_reason: 'broken "quoted" <release>' });
    expect((await get("/pypi/Demo_Lib/9.9/json")).status).toBe(404);
    expect((await get("/pypi/nothing-here/json")).status).toBe(404);
    const redirected = await get("/pypi/demo-lib/1.0/json");
    expect(redirected.status).toBe(301);
    expect(redirected.headers.get("location")).toBe(`${index.origin}/pypi/Demo_Lib/1.0/json`);
  });

  it("answers revalidation with 304, and stops doing so once the project changes", async () => {
    for (const [path, accept] of [
      ["/simple/demo-lib/", PEP691],
      ["/simple/demo-lib/", "text/html"],
      ["/simple/", PEP691],
      ["/pypi/Demo_Lib/json", "application/json"],
    ] as const) {
      const first = await get(path, { Accept: accept });
      const etag = first.headers.get("etag");
      const lastModified = first.headers.get("last-modified");
      expect(etag).toMatch(/^"[0-9a-f]+"$/);
      expect(lastModified).not.toBeNull();
      const byTag = await get(path, { Accept: accept, "If-None-Match": etag ?? "" });
      expect(byTag.status).toBe(304);
      expect(byTag.headers.get("etag")).toBe(etag);
      expect(await byTag.text()).toBe("");
      expect((await get(path, { Accept: accept, "If-Modified-Since": lastModified ?? "" })).status).toBe(304);
      expect((await get(path, { Accept: accept, "If-None-Match": '"something-else"' })).status).toBe(200);
      // If-None-Match wins over If-Modified-Since.
      const both = { Accept: accept, "If-None-Match": '"stale"', "If-Modified-Since": lastModified ?? "" };
      expect((await get(path, both)).status).toBe(200);
    }
    // The JSON and HTML forms of one page are different representations with different tags.
    const jsonTag = (await get("/simple/demo-lib/", { Accept: PEP691 })).headers.get("etag");
    const htmlTag = (await get("/simple/demo-lib/", { Accept: "text/html" })).headers.get("etag");
    expect(jsonTag).not.toBe(htmlTag);

    const before = await get("/simple/demo-lib/", { Accept: PEP691 });
    const [etag, lastModified] = [before.headers.get("etag") ?? "", before.headers.get("last-modified") ?? ""];
    const lib4 = buildWheel({ name: "Demo_Lib", version: "4.0" });
    index.addProject({
      name: "Demo_Lib",
      releases: [
        { version: "1.0", dists: [lib1] },
        { version: "4.0", dists: [lib4] },
      ],
    });
    const afterTag = await get("/simple/demo-lib/", { Accept: PEP691, "If-None-Match": etag });
    expect(afterTag.status).toBe(200);
    expect(pep691Project.parse(await afterTag.json()).versions).toEqual(["1.0", "4.0"]);
    expect((await get("/simple/demo-lib/", { Accept: PEP691, "If-Modified-Since": lastModified })).status).toBe(200);
    expect((await get(`/files/${lib3.filename}`)).status).toBe(404);
    const info = jsonProject.parse(await (await get("/pypi/Demo_Lib/json")).json()).info;
    expect(info.version).toBe("4.0");
  });
});

describe("index server controls", () => {
  it("tamper serves other bytes under the same published hash", async () => {
    const wheel = buildWheel({ name: "tamper-me", version: "1.0" });
    const index = await startIndexServer({ seed: false, projects: [{ name: "tamper-me", releases: [{ version: "1.0", dists: [wheel] }] }] });
    try {
      index.tamper(wheel.filename);
      const served = Buffer.from(await (await fetch(index.fileUrl(wheel.filename))).arrayBuffer());
      expect(served.length).toBe(wheel.bytes.length);
      expect(served.equals(wheel.bytes)).toBe(false);
      const page = pep691Project.parse(await (await fetch(`${index.url}tamper-me/`, { headers: { Accept: PEP691 } })).json());
      expect(page.files[0]?.hashes.sha256).toBe(wheel.sha256);
      index.tamper(wheel.filename, Buffer.from("other"));
      expect(await (await fetch(index.fileUrl(wheel.filename))).text()).toBe("other");
      expect(() => index.tamper("missing.whl")).toThrow(/no file/);
    } finally {
      await index.close();
    }
  });

  it("goes offline (503, or reset connections), comes back, and logs every request", async () => {
    const index = await startIndexServer({ seed: false, projects: [] });
    try {
      index.setOffline(true);
      const offline = await fetch(index.url);
      expect(offline.status).toBe(503);
      await offline.text();
      index.setOffline("reset");
      await expect(fetch(index.url)).rejects.toThrow();
      index.setOffline(false);
      expect((await fetch(index.url, { headers: { Accept: PEP691 } })).status).toBe(200);
      expect((await fetch(index.url, { method: "POST" })).status).toBe(405);
      expect(index.requests).toEqual([
        { method: "GET", path: "/simple/", status: 503, accept: "*/*" },
        { method: "GET", path: "/simple/", status: 0, accept: "*/*" },
        { method: "GET", path: "/simple/", status: 200, accept: PEP691 },
        { method: "POST", path: "/simple/", status: 405, accept: "*/*" },
      ]);
    } finally {
      await index.close();
    }
  });

  it("serves the real pip, setuptools and wheel wheels unless told not to", async () => {
    const index = await startIndexServer({ projects: [] });
    try {
      const list = (await (await fetch(index.url, { headers: { Accept: PEP691 } })).json()) as { projects: Array<{ name: string }> };
      expect(list.projects.map((project) => project.name)).toEqual(["pip", "setuptools", "wheel"]);
      const page = pep691Project.parse(await (await fetch(`${index.url}setuptools/`, { headers: { Accept: PEP691 } })).json());
      expect(page.files[0]).toMatchObject({ filename: expect.stringMatching(/^setuptools-.*\.whl$/), "requires-python": ">=3.7" });
    } finally {
      await index.close();
    }
  });
});
