import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { lintAllowlist } from "../../src/allowlist-edit/lint.js";
import { runAllowlist } from "../../src/cli/allowlist.js";
import { buildWheel } from "../fixtures/dists.js";
import { startIndexServer, type IndexServer } from "../fixtures/index-server.js";
import { capture, COMMENTED, tempDir, type TempDir } from "./helpers.js";

const NOW = new Date("2024-06-15T12:00:00Z");

// Every problem kind once, each on a line of its own so the line numbers can be checked.
const PROBLEMS = `# a file with one of every problem
packages:
  requests: ">=2.31,<3"
  flask: "latest"
  Foo_Bar: "*"
  foo.bar: ">=1"
  evil-pkg: "*"
  "bad name": "*"
deny:
  - Evil_Pkg
deny_list:
  - other
rules:
  min_release_age: 7
  wheels_only: "yes"
exemptions:
  - package: numpy
    rule: wheels_only
    reason: no wheel for our platform yet
    expires: 2024-06-14
  - package: numpy
    rule: license
    reason: legal said fine
    expires: 2024-06-15
    ticket: LEGAL-7
vulnerability_ignore:
  - id: GHSA-xxxx-yyyy-zzzz
    reason: not reachable from our code
    expires: 2024-01-31
`;

describe("pipgate allowlist lint", () => {
  let tmp: TempDir;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.remove());

  it("finds each kind of problem, one line each, with the line it is on", () => {
    const findings = lintAllowlist(PROBLEMS, { now: NOW });
    const brief = findings.map((finding) => `${finding.line}:${finding.kind}`);
    expect(brief).toEqual([
      "4:invalid-specifier",
      "6:duplicate",
      "7:allowed-and-denied",
      "8:invalid-name",
      "11:unknown-key",
      "14:unknown-key",
      "15:schema",
      "20:expired",
      "25:unknown-key",
      "29:expired",
    ]);
    const text = (line: number) => findings.find((finding) => finding.line === line)?.message;
    expect(text(4)).toContain('"latest" is not a PEP 440 specifier set');
    expect(text(6)).toContain("the same project as Foo_Bar");
    expect(text(7)).toContain("also on the deny list");
    expect(text(11)).toMatch(/^deny_list: not a key pipgate knows/);
    expect(text(14)).toMatch(/^rules\.min_release_age: not a key/);
    expect(text(15)).toMatch(/^rules\.wheels_only: /);
    expect(text(20)).toContain("numpy (wheels_only) expired on 2024-06-14");
    expect(text(25)).toMatch(/^exemptions\.1\.ticket/);
    expect(text(29)).toContain("GHSA-xxxx-yyyy-zzzz expired on 2024-01-31");
  });

  it("counts an exemption through the whole of its expiry day, as policy does", () => {
    const file = "packages: {}\nexemptions:\n  - {package: numpy, rule: license, reason: ok, expires: 2024-06-15}\n";
    expect(lintAllowlist(file, { now: new Date("2024-06-15T23:59:59Z") })).toEqual([]);
    expect(lintAllowlist(file, { now: new Date("2024-06-16T00:00:00Z") }).map((finding) => finding.kind)).toEqual(["expired"]);
  });

  it("reports YAML syntax errors with their line", () => {
    const findings = lintAllowlist("packages:\n  requests: '*'\n  flask: [unclosed\n", { now: NOW });
    expect(findings.length).toBeGreaterThan(0);
    expect(findings.every((finding) => finding.kind === "yaml" && typeof finding.line === "number")).toBe(true);
  });

  it("prints file:line: kind: message and exits 1 with findings, 0 on a clean file", async () => {
    const bad = tmp.file("bad.yaml", PROBLEMS);
    const io = capture();
    expect(await runAllowlist(["lint", "--file", bad], io, { now: () => NOW })).toBe(1);
    const lines = io.out().trimEnd().split("\n");
    expect(lines).toHaveLength(10);
    expect(lines[0]).toBe(`${bad}:4: invalid-specifier: packages.flask: "latest" is not a PEP 440 specifier set (e.g. ">=2.31,<3" or "*")`);
    expect(io.err()).toContain("10 problem(s)");

    const good = tmp.file("good.yaml", COMMENTED);
    const clean = capture();
    expect(await runAllowlist(["lint", "--file", good], clean, { now: () => NOW })).toBe(0);
    expect(clean.out()).toBe(`${good}: no problems found\n`);
  });
});

describe("pipgate allowlist lint --online", () => {
  let index: IndexServer;
  let tmp: TempDir;
  beforeAll(async () => {
    index = await startIndexServer({
      projects: [{ name: "requests", releases: [{ version: "2.31.0", dists: [buildWheel({ name: "requests", version: "2.31.0" })] }] }],
      seed: false,
    });
    tmp = tempDir();
  });
  afterAll(async () => {
    await index.close();
    tmp.remove();
  });

  it("names the projects the configured index does not know", async () => {
    const file = tmp.file("allowlist.yaml", "packages:\n  requests: '*'\n  reqeusts: '*'   # a typo\n");
    const config = tmp.file("pipgate.yaml", `index: {url: "${index.url}"}\nenvironments:\n  default: {python: /usr/bin/python3, allowlist: allowlist.yaml}\n`);
    const offline = capture();
    expect(await runAllowlist(["lint", "--config", config], offline)).toBe(0);
    const io = capture();
    expect(await runAllowlist(["lint", "--online", "--config", config], io)).toBe(1);
    expect(io.out()).toBe(`${file}:3: unknown-project: packages.reqeusts: the index does not know this project\n`);

    tmp.file("allowlist.yaml", "packages:\n  requests: '*'\n");
    const clean = capture();
    expect(await runAllowlist(["lint", "--online", "--config", config], clean)).toBe(0);
    expect(clean.out()).toContain("every project is known to the index");
  });

  it("asks an entry bound to a named index of that index alone, and names a binding to an index pipgate.yaml lacks", async () => {
    const internal = await startIndexServer({
      projects: [{ name: "acme-core", releases: [{ version: "1.0.0", dists: [buildWheel({ name: "acme-core", version: "1.0.0" })] }] }],
      seed: false,
    });
    try {
      // requests is on the public index only: bound to internal, it does not resolve there, whatever the public index holds.
      const file = tmp.file(
        "bound.yaml",
        "packages:\n  requests: {version: '*', index: internal}\n  acme-core: {version: '*', index: internal}\n  other-lib: {version: '*', index: nowhere}\n",
      );
      const config = tmp.file(
        "bound-config.yaml",
        `index: {url: "${index.url}"}\nindexes:\n  internal: {url: "${internal.url}"}\nenvironments:\n  default: {python: /usr/bin/python3, allowlist: bound.yaml}\n`,
      );
      const io = capture();
      expect(await runAllowlist(["lint", "--online", "--config", config, "--file", file], io)).toBe(1);
      expect(io.out()).toBe(
        `${file}:2: unknown-project: packages.requests: index internal does not know this project\n` +
          `${file}:4: unknown-index: packages.other-lib: bound to index "nowhere", which pipgate.yaml's indexes: does not define\n`,
      );
    } finally {
      await internal.close();
    }
  });

  it("reports an index it cannot reach as a finding, not as a clean file", async () => {
    const file = tmp.file("unreach.yaml", "packages:\n  requests: '*'\n");
    const config = tmp.file(
      "down.yaml",
      `index: {url: "${index.url}", retries: 0}\nenvironments:\n  default: {python: /usr/bin/python3, allowlist: unreach.yaml}\n`,
    );
    index.setOffline(true);
    try {
      const io = capture();
      expect(await runAllowlist(["lint", "--online", "--config", config, "--file", file], io)).toBe(1);
      expect(io.out()).toMatch(/:2: index-unreachable: packages\.requests: could not ask the index/);
    } finally {
      index.setOffline(false);
    }
  });
});
