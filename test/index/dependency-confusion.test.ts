// Several indexes and the dependency-confusion rule against two real local index servers: "public"
// (index:) and "internal" (indexes.internal, behind basic auth). Policy decides as check_package does,
// and the real proxy serves the sandbox's pip; every claim about which index was asked is read from
// the servers' own request logs.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "undici";
import { stringify } from "yaml";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { setPackage } from "../../src/allowlist-edit/edit.js";
import { lintAllowlist } from "../../src/allowlist-edit/lint.js";
import { buildAllowlist, loadAllowlist, type Allowlist } from "../../src/config/allowlist.js";
import type { EnvironmentRuntime } from "../../src/config/environments.js";
import { loadConfig } from "../../src/config/load.js";
import { indexFromConfig } from "../../src/index/from-config.js";
import type { IndexSet } from "../../src/index/index-set.js";
import { startIndexProxy, type IndexProxy } from "../../src/index/proxy.js";
import { silentLogger } from "../../src/log.js";
import { sandboxRoute } from "../../src/pipeline/index-route.js";
import { proxyFilterFor, checkFilterFor } from "../../src/pipeline/proxy-filter.js";
import { decide } from "../../src/policy/decide.js";
import { createPopularNames } from "../../src/policy/popular-names.js";
import type { Decision } from "../../src/policy/types.js";
import { parseRequirement } from "../../src/requirement/index.js";
import { buildWheel } from "../fixtures/dists.js";
import { startIndexServer, type IndexServer, type LoggedRequest } from "../fixtures/index-server.js";

const AUTH = { username: "ci-bot", password: "s3cret-internal-pw" };
const BASIC = `Basic ${Buffer.from(`${AUTH.username}:${AUTH.password}`).toString("base64")}`;
const PASSWORD_ENV = "PIPGATE_TEST_INTERNAL_PASSWORD";
const wheel = (name: string, version: string) => ({ version, dists: [buildWheel({ name, version })] });

let publicIndex: IndexServer;
let internal: IndexServer;
let dir: string;

beforeAll(async () => {
  publicIndex = await startIndexServer({
    seed: false,
    projects: [
      // the squat: the internal name, published on the public index at a higher version
      { name: "internal-utils", releases: [wheel("internal-utils", "99.0")] },
      { name: "public-lib", releases: [wheel("public-lib", "2.0")] },
    ],
  });
  internal = await startIndexServer({
    seed: false,
    basicAuth: AUTH,
    projects: [
      { name: "internal-utils", releases: [wheel("internal-utils", "1.0")] },
      { name: "corp-only", releases: [wheel("corp-only", "3.1")] },
    ],
  });
  dir = mkdtempSync(join(tmpdir(), "pipgate-confusion-"));
  process.env[PASSWORD_ENV] = AUTH.password;
});
afterAll(async () => {
  await publicIndex.close();
  await internal.close();
  rmSync(dir, { recursive: true, force: true });
  delete process.env[PASSWORD_ENV];
});
beforeEach(() => {
  publicIndex.requests.length = 0;
  internal.requests.length = 0;
  internal.setOffline(false);
});

/** A pipgate.yaml naming both indexes, loaded as serve loads it; the index set built from it (fresh caches). */
function writeConfig(extra: Record<string, unknown> = {}): string {
  const path = join(dir, `pipgate-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(
    path,
    stringify({
      index: { url: publicIndex.url, retries: 0 },
      indexes: { internal: { url: internal.url, username: AUTH.username, password_env: PASSWORD_ENV } },
      environments: { default: { python: "/usr/bin/python3", allowlist: "allow.yaml" } },
      ...extra,
    }),
  );
  return path;
}

async function indexSet(): Promise<IndexSet> {
  const loaded = loadConfig(writeConfig());
  if (!loaded.ok) throw new Error(loaded.issues.join("\n"));
  const configured = await indexFromConfig(loaded.config, { cacheTtlSeconds: 0 });
  if (!configured.ok) throw new Error(configured.error);
  return configured.value.indexes;
}

function allowlistOf(packages: Record<string, unknown>): Allowlist {
  const built = buildAllowlist({ packages }, {}, "test", { indexes: ["internal"] });
  if (!built.ok) throw new Error(built.issues.join("\n"));
  return built.allowlist;
}

async function check(raw: string, packages: Record<string, unknown>): Promise<Decision> {
  const parsed = parseRequirement(raw);
  if (!parsed.ok) throw new Error(parsed.message);
  const indexes = await indexSet();
  return decide(
    parsed.requirement,
    { allowlist: allowlistOf(packages), pythonVersion: "3.11.7" },
    { index: indexes.default.client, indexes, now: () => new Date(), popularNames: createPopularNames() },
  );
}

const asked = (log: LoggedRequest[], name: string) => log.filter((request) => request.path.includes(name));
const confusionRule = (decision: Decision) => decision.rules.find((rule) => rule.rule === "dependency-confusion");

describe("policy with a default and a named index", () => {
  it("refuses an unbound name that both indexes have, naming both and the binding to add", async () => {
    const decision = await check("internal-utils", { "internal-utils": "*" });
    expect(decision.allowed).toBe(false);
    if (decision.allowed) return;
    expect(decision.reason).toBe(
      "internal-utils exists on index internal and on the default index; bind it with `index: internal` in the allowlist (or `index: default` if the public one is meant) (dependency-confusion)",
    );
    expect(confusionRule(decision)?.outcome).toBe("fail");
    // the rule sits among the name rules, before the index's metadata is read; nothing after it ran
    expect(decision.rules.map((rule) => rule.rule).slice(0, 6)).toEqual(["deny", "allowlist", "typosquat", "unknown-name", "dependency-confusion", "exists"]);
    expect(decision.rules.find((rule) => rule.rule === "exists")?.outcome).toBe("skip");
    // no release metadata was read from either index for the confused name
    expect(asked(publicIndex.requests, "/pypi/")).toEqual([]);
  });

  it("resolves a name bound to the internal index from it only: the public squat is never asked for", async () => {
    const decision = await check("internal-utils", { "internal-utils": { version: "*", index: "internal" } });
    expect(decision.allowed, JSON.stringify(decision)).toBe(true);
    if (!decision.allowed) return;
    expect(decision.version).toBe("1.0");
    expect(decision.files.map((file) => file.url)).toEqual([internal.fileUrl("internal_utils-1.0-py3-none-any.whl")]);
    expect(confusionRule(decision)).toEqual({
      rule: "dependency-confusion",
      outcome: "pass",
      detail: "internal-utils is bound to index internal: resolved and downloaded from it only",
    });
    expect(publicIndex.requests).toEqual([]);
    expect(asked(internal.requests, "internal-utils").length).toBeGreaterThan(0);
  });

  it("the other way round: a name bound to default is resolved from the public index, the internal one never asked", async () => {
    const decision = await check("internal-utils", { "internal-utils": { version: "*", index: "default" } });
    expect(decision.allowed).toBe(true);
    if (decision.allowed) expect(decision.version).toBe("99.0");
    expect(internal.requests).toEqual([]);
  });

  it("passes an unbound public name after asking the internal index (with its credentials) that it does not have it", async () => {
    const decision = await check("public-lib", { "public-lib": "*" });
    expect(decision.allowed).toBe(true);
    expect(confusionRule(decision)).toMatchObject({ outcome: "pass", detail: "public-lib is on no named index (internal): resolved from the default index" });
    expect(internal.requests.map((request) => [request.path, request.status])).toEqual([["/simple/public-lib/", 404]]);
  });

  it("refuses an unbound name only the internal index has, saying which binding it needs", async () => {
    const decision = await check("corp-only", { "corp-only": "*" });
    expect(decision.allowed).toBe(false);
    if (!decision.allowed) {
      expect(decision.reason).toMatch(
        /^corp-only exists only on index internal, and an unbound name is resolved from the default index; bind it with `index: internal`/,
      );
    }
  });

  it("fails closed when the internal index cannot be asked about an unbound name", async () => {
    internal.setOffline(true);
    const decision = await check("public-lib", { "public-lib": "*" });
    expect(decision.allowed).toBe(false);
    if (!decision.allowed) expect(decision.reason).toMatch(/^index internal could not be asked whether it has public-lib .*refusing \(fail closed\)/);
  });

  it("sends the internal index's credentials to it alone", async () => {
    await check("internal-utils", { "internal-utils": { version: "*", index: "internal" } });
    await check("public-lib", { "public-lib": "*" });
    expect(internal.requests.length).toBeGreaterThan(0);
    expect(internal.requests.every((request) => request.authorization === BASIC && request.status !== 401)).toBe(true);
    expect(publicIndex.requests.length).toBeGreaterThan(0);
    expect(publicIndex.requests.some((request) => request.authorization !== undefined)).toBe(false);
  });
});

describe("the sandbox's proxy with a default and a named index", () => {
  let proxy: IndexProxy | undefined;
  let client: Client | undefined;
  afterEach(async () => {
    await client?.close();
    await proxy?.close();
    proxy = undefined;
  });

  async function start(packages: Record<string, unknown>, mode: "install" | "check"): Promise<Client> {
    const indexes = await indexSet();
    const allowlist = allowlistOf(packages);
    const env: EnvironmentRuntime = {
      name: "default",
      python: "/usr/bin/python3",
      pythonVersion: "3.11",
      description: undefined,
      allowlistPath: "test",
      allowlist,
    };
    const filter = mode === "install" ? proxyFilterFor(env, { name: "x", version: "0" }) : checkFilterFor(env, { name: "x", version: "0" });
    const socketPath = join(dir, `p${Date.now()}.sock`);
    const route = sandboxRoute(indexes, allowlist);
    proxy = await startIndexProxy({
      index: indexes.default.client,
      ...(route === undefined ? {} : { route }),
      socketPath,
      filter,
      log: silentLogger(),
      storeDir: join(dir, `files-${Date.now()}`),
    });
    client = new Client("http://sandbox", { socketPath });
    return client;
  }

  async function get(path: string): Promise<{ status: number; body: string }> {
    const answer = await (client as Client).request({ method: "GET", path, headers: { accept: "application/vnd.pypi.simple.v1+json" } });
    return { status: answer.statusCode, body: await answer.body.text() };
  }

  it("serves a bound name's page and file from the internal index, with its credentials, never asking the public one", async () => {
    await start({ "internal-utils": { version: "*", index: "internal" } }, "install");
    const page = await get("/simple/internal-utils/");
    expect(page.status).toBe(200);
    const files = (JSON.parse(page.body) as { files: Array<{ filename: string }> }).files.map((file) => file.filename);
    expect(files).toEqual(["internal_utils-1.0-py3-none-any.whl"]);
    const file = await get("/files/internal_utils-1.0-py3-none-any.whl");
    expect(file.status).toBe(200);
    expect(publicIndex.requests).toEqual([]);
    const download = internal.requests.find((request) => request.path === "/files/internal_utils-1.0-py3-none-any.whl");
    expect(download).toMatchObject({ status: 200, authorization: BASIC });
  });

  it.each(["install", "check"] as const)(
    "hides an unbound confused name from a sandbox's %s, naming both indexes, and downloads nothing of it",
    async (mode) => {
      await start({ "internal-utils": "*" }, mode);
      const page = await get("/simple/internal-utils/");
      expect(page.status).toBe(404);
      expect(page.body).toMatch(/internal-utils exists on index internal and on the default index; bind it with `index: internal`/);
      expect(proxy?.refused.map((entry) => entry.reason)).toEqual([expect.stringMatching(/\(dependency-confusion\)$/)]);
      expect(asked(publicIndex.requests, "/files/")).toEqual([]);
      expect(asked(internal.requests, "/files/")).toEqual([]);
    },
  );

  it("serves an unbound name no named index has from the default index, without credentials", async () => {
    await start({ "public-lib": "*" }, "check");
    const page = await get("/simple/public-lib/");
    expect(page.status).toBe(200);
    expect((JSON.parse(page.body) as { files: Array<{ filename: string }> }).files.map((file) => file.filename)).toEqual(["public_lib-2.0-py3-none-any.whl"]);
    const file = await get("/files/public_lib-2.0-py3-none-any.whl");
    expect(file.status).toBe(200);
    expect(publicIndex.requests.some((request) => request.authorization !== undefined)).toBe(false);
    expect(internal.requests.map((request) => [request.path, request.status, request.authorization])).toEqual([["/simple/public-lib/", 404, BASIC]]);
  });
});

describe("configuring several indexes", () => {
  const issuesOf = (path: string): string[] => {
    const loaded = loadConfig(path);
    return loaded.ok ? [] : loaded.issues;
  };

  it("refuses a password written into an index URL, for index: and for a named index", () => {
    const withPassword = internal.url.replace("http://", "http://ci-bot:hunter2@");
    const named = writeConfig({ indexes: { internal: { url: withPassword } } });
    expect(issuesOf(named)).toEqual([expect.stringMatching(/indexes\.internal\.url: the URL carries a password: put the user name in username/)]);
    const main = writeConfig({ index: { url: withPassword } });
    expect(issuesOf(main)).toEqual([expect.stringMatching(/: index\.url: the URL carries a password/)]);
  });

  it("refuses an index called default, and an unknown key with a suggestion", () => {
    expect(issuesOf(writeConfig({ indexes: { default: { url: internal.url } } }))).toEqual([
      expect.stringMatching(/indexes\.default: "default" is the name of index: itself; choose another/),
    ]);
    expect(issuesOf(writeConfig({ indexes: { internal: { url: internal.url, pasword_env: "X" } } }))).toEqual([
      expect.stringMatching(/indexes\.internal\.pasword_env: unknown key; did you mean password_env\?/),
    ]);
  });

  it("refuses to start a named index whose password variable is unset, and never prints a password", async () => {
    const loaded = loadConfig(writeConfig({ indexes: { internal: { url: internal.url, username: "u", password_env: "PIPGATE_TEST_UNSET_VARIABLE" } } }));
    if (!loaded.ok) throw new Error(loaded.issues.join("\n"));
    const configured = await indexFromConfig(loaded.config);
    expect(configured).toEqual({
      ok: false,
      error: "indexes.internal.password_env names the environment variable PIPGATE_TEST_UNSET_VARIABLE, which is unset; export it before starting pipgate",
    });
    const good = await indexFromConfig((loadConfig(writeConfig()) as { ok: true; config: Parameters<typeof indexFromConfig>[0] }).config);
    expect(JSON.stringify(good.ok ? { url: good.value.indexes.named.get("internal")?.client.url } : good)).not.toContain(AUTH.password);
  });

  it("an allowlist binding a name to an index pipgate.yaml does not configure is an error with a suggestion", () => {
    const path = join(dir, "bad-binding.yaml");
    writeFileSync(path, stringify({ packages: { "internal-utils": { version: ">=1", index: "intrenal" }, "public-lib": "*" } }));
    const loaded = loadAllowlist(path, {}, { indexes: ["internal"] });
    expect(loaded).toEqual({
      ok: false,
      issues: [`${path}: packages.internal-utils.index: "intrenal" is not an index pipgate.yaml configures (did you mean internal?)`],
    });
    writeFileSync(path, stringify({ packages: { "internal-utils": { version: ">=1", index: "internal", source: "x" } } }));
    const unknownKey = loadAllowlist(path, {}, { indexes: ["internal"] });
    expect(unknownKey.ok ? [] : unknownKey.issues).toEqual([expect.stringMatching(/packages\.internal-utils.*source/)]);
  });
});

describe("allowlist tools and the long form { version, index }", () => {
  const text = 'packages:\n  internal-utils: { version: ">=1", index: internal }\n  bad-range: { version: "=>1", index: internal }\n  requests: "*"\n';

  it("lint reads the long form: a good entry is clean, a bad version is named", () => {
    const findings = lintAllowlist(text, { now: new Date() });
    expect(findings.map((finding) => finding.message)).toEqual(['packages.bad-range: "=>1" is not a PEP 440 specifier set (e.g. ">=2.31,<3" or "*")']);
  });

  it("allowlist add refuses to rewrite a bound entry (the binding would be lost), and edits plain ones", () => {
    const bound = setPackage(text, { name: "internal_utils", specifier: ">=2", reason: undefined });
    expect(bound).toEqual({
      ok: false,
      error: "internal-utils is bound to an index ({ version, index }); change its version by hand so that the binding stays",
    });
    const plain = setPackage(text, { name: "requests", specifier: ">=2.31", reason: undefined });
    expect(plain.ok && plain.text).toBe(text.replace('requests: "*"', 'requests: ">=2.31"'));
  });
});
