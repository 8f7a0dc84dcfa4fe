// PEP 658/714 metadata through the index proxy: the real proxy on its unix socket in front of the real
// fixture index (serving metadata files or not), asked as pip asks — the page, then the metadata file,
// then the wheel.
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "undici";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { buildAllowlist } from "../../src/config/allowlist.js";
import type { EnvironmentRuntime } from "../../src/config/environments.js";
import { createIndexClient } from "../../src/index/client.js";
import { startIndexProxy, type IndexProxy } from "../../src/index/proxy.js";
import { parseSimplePage } from "../../src/index/simple-page.js";
import { silentLogger } from "../../src/log.js";
import { proxyFilterFor } from "../../src/pipeline/proxy-filter.js";
import { wheelMetadata } from "../fixtures/core-metadata.js";
import { buildSdist, buildWheel } from "../fixtures/dists.js";
import { startIndexServer, type IndexServer, type ProjectSpec } from "../fixtures/index-server.js";

const WHEEL = "meta_app-1.0-py3-none-any.whl";
const DEP_WHEEL = "meta_dep-2.0-py3-none-any.whl";

const projects: ProjectSpec[] = [
  { name: "meta-app", releases: [{ version: "1.0", dists: [buildWheel({ name: "meta-app", version: "1.0", dependencies: ["meta-dep>=2"] })] }] },
  {
    name: "meta-dep",
    releases: [{ version: "2.0", dists: [buildWheel({ name: "meta-dep", version: "2.0" }), buildSdist({ name: "meta-dep", version: "2.0" })] }],
  },
];

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

interface Listed {
  filename: string;
  "core-metadata"?: { sha256: string };
  "dist-info-metadata"?: string;
}

describe("PEP 658 metadata through the index proxy", () => {
  let dir: string;
  let proxy: IndexProxy | undefined;
  let client: Client | undefined;
  const indexes: IndexServer[] = [];

  const env = (): EnvironmentRuntime => {
    const built = buildAllowlist({ packages: { "meta-app": "*", "meta-dep": "*" } }, {}, "test");
    if (!built.ok) throw new Error(built.issues.join("\n"));
    return { name: "default", python: "/usr/bin/python3", pythonVersion: "3.11", description: undefined, allowlistPath: "test", allowlist: built.allowlist };
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "pipgate-proxy-meta-"));
  });
  afterAll(async () => {
    await Promise.all(indexes.map((index) => index.close()));
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await client?.close();
    await proxy?.close();
    client = undefined;
    proxy = undefined;
  });

  /** A fresh index (metadata files or not), a fresh store, and a proxy in front of them. */
  async function start(options: { metadata: boolean; maxMetadataBytes?: number; passMetadata?: boolean }): Promise<{ index: IndexServer; store: string }> {
    const index = await startIndexServer({ projects, seed: false, metadata: options.metadata });
    indexes.push(index);
    const socketPath = join(dir, `p${String(indexes.length)}.sock`);
    const store = join(dir, `files${String(indexes.length)}`);
    proxy = await startIndexProxy({
      index: createIndexClient({ url: index.url, timeoutMs: 5_000, retries: 0, cacheTtlSeconds: 0 }),
      socketPath,
      filter: proxyFilterFor(env(), { name: "meta-app", version: "1.0" }),
      log: silentLogger(),
      storeDir: store,
      passMetadata: options.passMetadata ?? true,
      ...(options.maxMetadataBytes === undefined ? {} : { maxMetadataBytes: options.maxMetadataBytes }),
    });
    client = new Client("http://sandbox", { socketPath });
    return { index, store };
  }

  async function get(path: string): Promise<{ status: number; body: Buffer }> {
    if (client === undefined) throw new Error("no proxy started");
    const answer = await client.request({ method: "GET", path, headers: { accept: "application/vnd.pypi.simple.v1+json" } });
    return { status: answer.statusCode, body: Buffer.from(await answer.body.arrayBuffer()) };
  }

  async function listing(project: string): Promise<Listed[]> {
    const answer = await get(`/simple/${project}/`);
    expect(answer.status).toBe(200);
    return (JSON.parse(answer.body.toString("utf8")) as { files: Listed[] }).files;
  }

  const upstreamGets = (index: IndexServer, filename: string) => index.requests.filter((request) => request.path === `/files/${encodeURIComponent(filename)}`);

  it("lists the metadata hash under both names and passes the metadata file through, checked against it", async () => {
    const { index } = await start({ metadata: true });
    const files = await listing("meta-app");
    const entry = files.find((file) => file.filename === WHEEL);
    const dist = projects[0]?.releases[0]?.dists[0];
    const bytes = dist === undefined ? undefined : wheelMetadata(dist);
    if (dist === undefined || bytes === undefined) throw new Error("the fixture wheel has no METADATA");
    const expected = sha256(bytes);
    expect(entry?.["core-metadata"]).toEqual({ sha256: expected });
    // pip 23.0 reads this name, and only as a string
    expect(entry?.["dist-info-metadata"]).toBe(`sha256=${expected}`);
    // an sdist has no metadata file to list
    const dep = await listing("meta-dep");
    expect(dep.find((file) => file.filename.endsWith(".tar.gz"))?.["core-metadata"]).toBeUndefined();

    const metadata = await get(`/files/${encodeURIComponent(WHEEL)}.metadata`);
    expect(metadata.status).toBe(200);
    expect(sha256(metadata.body)).toBe(expected);
    expect(metadata.body.toString("utf8")).toContain("Requires-Dist: meta-dep>=2");
    expect(proxy?.metadataServed.has(WHEEL)).toBe(true);
    // Asking for the metadata started the wheel's download; the sandbox's own request for the wheel
    // gets those verified bytes, and the index was asked for the wheel once.
    const wheel = await get(`/files/${encodeURIComponent(WHEEL)}`);
    expect(wheel.status).toBe(200);
    expect(sha256(wheel.body)).toBe(dist.sha256);
    expect(proxy?.served.get(WHEEL)?.sha256).toBe(dist.sha256);
    expect(upstreamGets(index, WHEEL)).toHaveLength(1);
  });

  it("by default lists no metadata to the sandbox's pip and serves none (pip 23.0.1 mis-resolves from some)", async () => {
    await start({ metadata: true, passMetadata: false });
    const entry = (await listing("meta-app")).find((file) => file.filename === WHEEL);
    expect(entry).toBeDefined();
    expect(entry?.["core-metadata"]).toBeUndefined();
    expect(entry?.["dist-info-metadata"]).toBeUndefined();
    expect((await get(`/files/${encodeURIComponent(WHEEL)}.metadata`)).status).toBe(404);
  });

  it("fetches the wheel as soon as its metadata is asked for, before the sandbox asks for the wheel", async () => {
    const { index, store } = await start({ metadata: true });
    await listing("meta-dep");
    expect((await get(`/files/${encodeURIComponent(DEP_WHEEL)}.metadata`)).status).toBe(200);
    await proxy?.close(); // waits for the speculative fetch
    proxy = undefined;
    expect(upstreamGets(index, DEP_WHEEL)).toHaveLength(1);
    const wheelBytes = projects[1]?.releases[0]?.dists[0]?.bytes ?? Buffer.alloc(0);
    expect(existsSync(join(store, sha256(wheelBytes), DEP_WHEEL))).toBe(true);
  });

  it("refuses a metadata file whose bytes do not match the advertised hash", async () => {
    const { index } = await start({ metadata: true });
    index.tamperMetadata(WHEEL);
    await listing("meta-app");
    const answer = await get(`/files/${encodeURIComponent(WHEEL)}.metadata`);
    expect(answer.status).toBe(502);
    expect(answer.body.toString("utf8")).toContain("sha256 mismatch");
    expect(proxy?.metadataServed.has(WHEEL)).toBe(false);
    expect(proxy?.refused).toContainEqual(
      expect.objectContaining({ project: "meta-app", filename: `${WHEEL}.metadata`, reason: expect.stringContaining("sha256 mismatch") }),
    );
  });

  it("refuses a metadata file larger than its cap without reading on", async () => {
    await start({ metadata: true, maxMetadataBytes: 16 });
    await listing("meta-app");
    const answer = await get(`/files/${encodeURIComponent(WHEEL)}.metadata`);
    expect(answer.status).toBe(502);
    expect(answer.body.toString("utf8")).toContain("larger than 16 bytes");
    expect(proxy?.metadataServed.size).toBe(0);
  });

  it("lists no metadata when the index has none, and the wheel itself is still served (pip falls back to it)", async () => {
    const { index } = await start({ metadata: false });
    const files = await listing("meta-app");
    expect(files.find((file) => file.filename === WHEEL)).toBeDefined();
    expect(files.every((file) => file["core-metadata"] === undefined && file["dist-info-metadata"] === undefined)).toBe(true);
    expect((await get(`/files/${encodeURIComponent(WHEEL)}.metadata`)).status).toBe(404);
    expect(index.requests.some((request) => request.path.endsWith(".metadata"))).toBe(false);
    expect((await get(`/files/${encodeURIComponent(WHEEL)}`)).status).toBe(200);
  });

  it("refuses a wheel fetched early whose bytes are wrong: nothing stored, nothing served", async () => {
    const { index, store } = await start({ metadata: true });
    index.tamper(WHEEL);
    await listing("meta-app");
    expect((await get(`/files/${encodeURIComponent(WHEEL)}.metadata`)).status).toBe(200);
    const answer = await get(`/files/${encodeURIComponent(WHEEL)}`);
    expect(answer.status).toBe(502);
    expect(answer.body.toString("utf8")).toContain("sha256 mismatch");
    expect(proxy?.served.has(WHEEL)).toBe(false);
    const good = projects[0]?.releases[0]?.dists[0]?.bytes ?? Buffer.alloc(0);
    expect(existsSync(join(store, sha256(good), WHEEL))).toBe(false);
    expect(proxy?.refused).toContainEqual(
      expect.objectContaining({ project: "meta-app", filename: WHEEL, reason: expect.stringContaining("sha256 mismatch") }),
    );
  });
});

describe("metadata advertisements in index pages", () => {
  const hash = "a".repeat(64);
  const json = (metadata: unknown) =>
    JSON.stringify({
      meta: { "api-version": "1.1" },
      name: "x",
      files: [{ filename: "x-1.0-py3-none-any.whl", url: "x-1.0-py3-none-any.whl", hashes: { sha256: "b".repeat(64) }, ...(metadata as object) }],
    });
  const parsed = (body: string, type: string) => {
    const page = parseSimplePage(body, type, "https://index.example/simple/x/", "x");
    if (!page.ok) throw new Error(page.error);
    return page.value.files[0]?.metadataSha256;
  };

  it("reads core-metadata, else dist-info-metadata, only with a sha256", () => {
    const type = "application/vnd.pypi.simple.v1+json";
    expect(parsed(json({ "core-metadata": { sha256: hash } }), type)).toBe(hash);
    expect(parsed(json({ "dist-info-metadata": { sha256: hash.toUpperCase() } }), type)).toBe(hash);
    expect(parsed(json({ "dist-info-metadata": `sha256=${hash}` }), type)).toBe(hash);
    expect(parsed(json({ "core-metadata": true }), type)).toBeUndefined();
    expect(parsed(json({ "core-metadata": { sha256: "short" } }), type)).toBeUndefined();
    expect(parsed(json({}), type)).toBeUndefined();
  });

  it("reads data-core-metadata and data-dist-info-metadata in HTML, only with a sha256", () => {
    const html = (attribute: string) => `<a href="x-1.0-py3-none-any.whl#sha256=${"b".repeat(64)}" ${attribute}>x-1.0-py3-none-any.whl</a>`;
    expect(parsed(html(`data-core-metadata="sha256=${hash}"`), "text/html")).toBe(hash);
    expect(parsed(html(`data-dist-info-metadata="sha256=${hash}"`), "text/html")).toBe(hash);
    expect(parsed(html(`data-core-metadata="true"`), "text/html")).toBeUndefined();
  });
});
