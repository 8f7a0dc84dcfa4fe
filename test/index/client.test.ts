import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createIndexClient, defaultIndexUrl } from "../../src/index/client.js";
import { memoryHttpCache, type HttpCacheStore } from "../../src/index/http-cache.js";
import { parseSimplePage } from "../../src/index/simple-page.js";
import { openMemoryDb } from "../../src/state/db.js";
import { buildSdist, buildWheel } from "../fixtures/dists.js";
import { startIndexServer, type IndexServer } from "../fixtures/index-server.js";

const DAY = 86_400_000;
const noWait = () => Promise.resolve();

let index: IndexServer;
const uploaded = new Date("2026-10-01T12:00:00Z");

beforeAll(async () => {
  index = await startIndexServer({
    seed: false,
    projects: [
      {
        name: "Demo.Pkg",
        releases: [
          { version: "1.0", dists: [buildWheel({ name: "Demo.Pkg", version: "1.0" }), buildSdist({ name: "Demo.Pkg", version: "1.0" })], uploadTime: uploaded },
          {
            version: "1.1",
            dists: [buildWheel({ name: "Demo.Pkg", version: "1.1", requiresPython: ">=3.8" })],
            yanked: "broken build",
            license: "MIT License",
            classifiers: ["License :: OSI Approved :: MIT License"],
            vulnerabilities: [{ id: "GHSA-aaaa-bbbb-cccc", aliases: ["CVE-2026-1"], fixed_in: ["1.2"] }],
          },
        ],
      },
    ],
  });
});

afterAll(async () => {
  await index.close();
});

function client(extra: Partial<Parameters<typeof createIndexClient>[0]> = {}) {
  return createIndexClient({ url: index.url, timeoutMs: 5_000, retries: 1, cacheTtlSeconds: 600, sleep: noWait, ...extra });
}

describe("project pages", () => {
  it("reads the PEP 691 JSON page: absolute URLs, hashes, upload times, yanked, kind and version", async () => {
    const page = await client().project("demo_pkg");
    if (!page.ok) throw new Error(page.error.message);
    expect(page.value.name).toBe("demo-pkg");
    expect(page.value.versions).toEqual(["1.0", "1.1"]);
    const wheel = page.value.files.find((file) => file.filename === "demo_pkg-1.0-py3-none-any.whl");
    expect(wheel).toMatchObject({ kind: "wheel", version: "1.0", yanked: false, url: index.fileUrl("demo_pkg-1.0-py3-none-any.whl") });
    expect(wheel?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(wheel?.uploadTime?.toISOString()).toBe(uploaded.toISOString());
    const sdist = page.value.files.find((file) => file.kind === "sdist");
    expect(sdist?.version).toBe("1.0");
    const yanked = page.value.files.find((file) => file.version === "1.1");
    expect(yanked).toMatchObject({ yanked: "broken build", requiresPython: ">=3.8" });
    const accept = index.requests.find((r) => r.path === "/simple/demo-pkg/")?.accept ?? "";
    expect(accept).toContain("application/vnd.pypi.simple.v1+json");
  });

  it("parses the PEP 503 HTML form of the same page to the same files", async () => {
    const url = `${index.url}demo-pkg/`;
    const html = await request(url, { headers: { accept: "text/html" } });
    const body = await html.body.text();
    const fromHtml = parseSimplePage(body, String(html.headers["content-type"]), url, "demo-pkg");
    const fromJson = await client().project("demo-pkg");
    if (!fromHtml.ok || !fromJson.ok) throw new Error("parse failed");
    const strip = (files: typeof fromJson.value.files) => files.map(({ uploadTime: _uploadTime, ...rest }) => rest);
    expect(strip(fromHtml.value.files)).toEqual(strip(fromJson.value.files));
    expect(fromHtml.value.files.every((file) => file.uploadTime === undefined)).toBe(true);
  });

  it("falls back to HTML when the index answers HTML", async () => {
    // A real HTML-only index in front of the fixture: it asks for HTML whatever the client accepts.
    const htmlOnly = createServer((req, res) => {
      void (async () => {
        const answer = await request(`${index.origin}${req.url ?? "/"}`, { headers: { accept: "text/html" } });
        const body = Buffer.from(await answer.body.arrayBuffer());
        res.writeHead(answer.statusCode, { "content-type": String(answer.headers["content-type"] ?? "text/plain") });
        res.end(body);
      })();
    });
    await new Promise<void>((resolve) => htmlOnly.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = htmlOnly.address() as AddressInfo;
      const page = await createIndexClient({ url: `http://127.0.0.1:${port}/simple/`, timeoutMs: 5_000, retries: 0, cacheTtlSeconds: 0 }).project("demo-pkg");
      if (!page.ok) throw new Error(page.error.message);
      expect(page.value.versions).toEqual(["1.0", "1.1"]);
      expect(page.value.files.map((file) => file.filename)).toContain("demo_pkg-1.0.tar.gz");
      expect(page.value.files.every((file) => file.url.startsWith(index.origin))).toBe(true);
    } finally {
      await new Promise<void>((resolve) => htmlOnly.close(() => resolve()));
    }
  });

  it("a project the index does not have is not-found, not unreachable", async () => {
    const page = await client().project("no-such-project");
    expect(page.ok).toBe(false);
    if (!page.ok) expect(page.error.kind).toBe("not-found");
  });
});

describe("release metadata (JSON API)", () => {
  it("reads licence, classifiers, requires_python and vulnerabilities, following the name redirect", async () => {
    const release = await client().release("demo-pkg", "1.1");
    if (!release.ok) throw new Error(release.error.message);
    expect(release.value).toMatchObject({
      version: "1.1",
      license: "MIT License",
      classifiers: ["License :: OSI Approved :: MIT License"],
      requiresPython: ">=3.8",
      vulnerabilities: [{ id: "GHSA-aaaa-bbbb-cccc", aliases: ["CVE-2026-1"], fixedIn: ["1.2"], withdrawn: undefined }],
    });
    expect(index.requests.some((r) => r.path === "/pypi/demo-pkg/1.1/json" && r.status === 301)).toBe(true);
    expect(index.requests.some((r) => r.path === "/pypi/Demo.Pkg/1.1/json" && r.status === 200)).toBe(true);
  });

  it("a version without metadata is not-found (distinct from unreachable)", async () => {
    const release = await client().release("demo-pkg", "9.9");
    expect(!release.ok && release.error.kind).toBe("not-found");
  });
});

describe("the metadata cache", () => {
  it("serves within the TTL without a request, revalidates after it (304), refuses stale data when offline", async () => {
    const db = openMemoryDb();
    let now = new Date("2026-11-01T00:00:00Z");
    const c = client({ db, now: () => now, cacheTtlSeconds: 600 });
    const path = "/simple/demo-pkg/";
    const count = () => index.requests.filter((r) => r.path === path).length;

    const before = count();
    expect((await c.project("demo-pkg")).ok).toBe(true);
    expect(count()).toBe(before + 1);

    now = new Date(now.getTime() + 300_000);
    expect((await c.project("demo-pkg")).ok).toBe(true);
    expect(count()).toBe(before + 1);

    now = new Date(now.getTime() + 600_000);
    const revalidated = await c.project("demo-pkg");
    expect(revalidated.ok && revalidated.value.versions).toEqual(["1.0", "1.1"]);
    expect(index.requests.filter((r) => r.path === path).at(-1)?.status).toBe(304);

    // The 304 made the entry fresh again: no request within the TTL.
    const afterRevalidation = count();
    now = new Date(now.getTime() + 60_000);
    expect((await c.project("demo-pkg")).ok).toBe(true);
    expect(count()).toBe(afterRevalidation);

    now = new Date(now.getTime() + DAY);
    index.setOffline("reset");
    try {
      const stale = await c.project("demo-pkg");
      expect(stale.ok).toBe(false);
      if (!stale.ok) {
        expect(stale.error.kind).toBe("unreachable");
        expect(stale.error.message).toMatch(/too old to rely on/);
      }
    } finally {
      index.setOffline(false);
    }
    const rows = db.prepare("SELECT url FROM http_cache").all() as { url: string }[];
    expect(rows.map((row) => row.url)).toContain(`${index.url}demo-pkg/`);
  });

  it("answers a fresh project page from its parsed copy, and parses again once the response is stale", async () => {
    let now = new Date("2026-11-01T00:00:00Z");
    const inner = memoryHttpCache();
    let reads = 0;
    const cache: HttpCacheStore = { ...inner, get: async (url) => ((reads += 1), inner.get(url)) };
    const c = client({ cache, now: () => now, cacheTtlSeconds: 600 });
    const first = await c.project("demo-pkg");
    expect(reads).toBe(1);
    for (let i = 0; i < 5; i += 1) expect(await c.project("Demo_Pkg")).toEqual(first);
    expect(reads).toBe(1);
    now = new Date(now.getTime() + 601_000);
    expect(await c.project("demo-pkg")).toEqual(first);
    expect(reads).toBe(2);
    // Without a TTL (lint --online) every call asks again.
    const uncached = client({ cache, now: () => now, cacheTtlSeconds: 0 });
    await uncached.project("demo-pkg");
    await uncached.project("demo-pkg");
    expect(reads).toBe(4);
  });

  it("retries 5xx answers a bounded number of times, then reports the index unreachable", async () => {
    index.setOffline(true);
    try {
      const before = index.requests.length;
      const page = await client({ retries: 2, cacheTtlSeconds: 0 }).project("demo-pkg");
      expect(!page.ok && page.error.kind).toBe("unreachable");
      expect(!page.ok && page.error.message).toMatch(/HTTP 503/);
      expect(index.requests.length - before).toBe(3);
    } finally {
      index.setOffline(false);
    }
  });

  it("refuses a body over the size cap", async () => {
    const page = await client({ maxBodyBytes: 64, retries: 3, cacheTtlSeconds: 0 }).project("demo-pkg");
    expect(!page.ok && page.error.message).toMatch(/exceeds 64 bytes/);
  });
});

describe("credentials", () => {
  it("are sent as Basic auth, and appear neither in cache keys nor in messages", async () => {
    const seen: IncomingHttpHeaders[] = [];
    const guarded = createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(503);
      res.end();
    });
    await new Promise<void>((resolve) => guarded.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = guarded.address() as AddressInfo;
      const db = openMemoryDb();
      const c = createIndexClient({ url: `http://alice:s3cret-pw@127.0.0.1:${port}/simple/`, timeoutMs: 2_000, retries: 0, cacheTtlSeconds: 60, db });
      expect(c.url).toBe(`http://127.0.0.1:${port}/simple/`);
      const page = await c.project("demo-pkg");
      expect(seen[0]?.authorization).toBe(`Basic ${Buffer.from("alice:s3cret-pw").toString("base64")}`);
      expect(page.ok).toBe(false);
      expect(JSON.stringify(page)).not.toContain("s3cret-pw");
      const explicit = createIndexClient({ url: index.url, username: "bob", password: "hunter2-pw", timeoutMs: 2_000, retries: 0, cacheTtlSeconds: 60, db });
      expect((await explicit.project("demo-pkg")).ok).toBe(true);
      const keys = (db.prepare("SELECT url FROM http_cache").all() as { url: string }[]).map((row) => row.url).join(" ");
      expect(keys).not.toMatch(/hunter2|s3cret|bob|alice/);
    } finally {
      await new Promise<void>((resolve) => guarded.close(() => resolve()));
    }
  });
});

describe("defaultIndexUrl", () => {
  it("asks the interpreter's pip for its default simple index", async () => {
    const url = await defaultIndexUrl("python3");
    expect(url.ok).toBe(true);
    if (url.ok) expect(url.value).toMatch(/^https:\/\/[^/]+\/simple\/$/);
  });

  it("fails as a value when the interpreter cannot be run", async () => {
    const url = await defaultIndexUrl("/nonexistent/python");
    expect(url.ok).toBe(false);
  });
});
