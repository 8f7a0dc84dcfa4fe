import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";

const dir = mkdtempSync(join(tmpdir(), "pipgate-upstream-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
/** A pipgate.yaml with one environment and the given `upstream:`. */
function write(upstream: unknown): string {
  counter += 1;
  const path = join(dir, `${counter}-pipgate.yaml`);
  writeFileSync(path, stringify({ environments: { default: { python: "./venv/bin/python", allowlist: "./allowlist.yaml" } }, upstream }));
  return path;
}

function issuesOf(file: string, env: Record<string, string> = {}): string[] {
  const loaded = loadConfig(file, env);
  expect(loaded.ok).toBe(false);
  return loaded.ok ? [] : loaded.issues;
}

describe("upstream: in pipgate.yaml", () => {
  it("loads a stdio upstream with its defaults, cwd taken relative to the config file", () => {
    const loaded = loadConfig(write({ command: ["python3", "-m", "mcp_python_interpreter"], cwd: "work", env: { A: "1" } }), {});
    expect(loaded.ok ? "" : loaded.issues.join("\n")).toBe("");
    if (!loaded.ok) return;
    expect(loaded.config.upstream).toEqual({
      command: ["python3", "-m", "mcp_python_interpreter"],
      cwd: join(dir, "work"),
      env: { A: "1" },
      serve_upstream: [],
      restart: { initial_ms: 500, max_ms: 30_000 },
      max_message_kb: 4096,
      sandbox: false,
    });
  });

  it("is absent when not configured", () => {
    const loaded = loadConfig(write(undefined), {});
    expect(loaded.ok && loaded.config.upstream).toBeUndefined();
  });

  it("expands ${NAME} in header values from the environment", () => {
    const loaded = loadConfig(write({ url: "http://127.0.0.1:9/mcp", headers: { Authorization: "Bearer ${UP_TOKEN}", "X-Fixed": "a${B}c" } }), {
      UP_TOKEN: "s3cret",
      B: "-",
    });
    expect(loaded.ok ? loaded.config.upstream?.headers : loaded.issues).toEqual({ Authorization: "Bearer s3cret", "X-Fixed": "a-c" });
  });

  it("refuses a header naming an unset variable, naming the variable and the header (fail closed)", () => {
    const file = write({ url: "https://mcp.example.invalid/mcp", headers: { Authorization: "Bearer ${UP_TOKEN}" } });
    expect(issuesOf(file, { OTHER: "x" })).toEqual([
      `${file}: upstream.headers.Authorization: names the environment variable UP_TOKEN, which is unset; export it before starting pipgate, or write the value in the file`,
    ]);
  });

  it("refuses both command and url, and neither", () => {
    const both = write({ command: ["srv"], url: "http://127.0.0.1:9/mcp" });
    expect(issuesOf(both)).toEqual([`${both}: upstream: give either command (a stdio server pipgate starts) or url (a Streamable HTTP server), not both`]);
    const neither = write({ serve_upstream: ["read_file"] });
    expect(issuesOf(neither)).toEqual([
      `${neither}: upstream: give command (a stdio server pipgate starts, as an argv list) or url (a Streamable HTTP server)`,
    ]);
  });

  it("refuses stdio-only keys with url and headers with command", () => {
    const http = write({ url: "http://127.0.0.1:9/mcp", cwd: "x" });
    expect(issuesOf(http)).toEqual([`${http}: upstream.cwd: cwd applies to a stdio upstream: it needs command`]);
    const stdio = write({ command: ["srv"], headers: { A: "b" } });
    expect(issuesOf(stdio)).toEqual([`${stdio}: upstream.headers: headers apply to an HTTP upstream: they need url`]);
  });

  it("refuses install_package in serve_upstream: it is always pipgate's own", () => {
    const file = write({ command: ["srv"], serve_upstream: ["read_file", "install_package"] });
    const issues = issuesOf(file);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(new RegExp(`^${file}: upstream.serve_upstream: install_package is always pipgate's own .*never reachable`));
  });

  it("refuses a command that is a string, an empty argument, a non-HTTP url", () => {
    const shell = write({ command: "python3 -m srv" });
    expect(issuesOf(shell)[0]).toMatch(/upstream\.command: .*expected array/i);
    const empty = write({ command: ["srv", ""] });
    expect(issuesOf(empty)).toEqual([`${empty}: upstream.command.1: an argument of upstream.command is empty`]);
    const ftp = write({ url: "ftp://127.0.0.1/mcp" });
    expect(issuesOf(ftp)).toEqual([`${ftp}: upstream.url: upstream.url must be an http:// or https:// URL (Streamable HTTP)`]);
  });

  it("refuses a back-off whose first wait exceeds its largest", () => {
    const file = write({ command: ["srv"], restart: { initial_ms: 5000, max_ms: 1000 } });
    expect(issuesOf(file)).toEqual([`${file}: upstream.restart.initial_ms: initial_ms must not exceed max_ms`]);
  });

  const typos: Array<[Record<string, unknown>, string]> = [
    [{ command: ["srv"], comand: ["srv"] }, "upstream.comand: unknown key; did you mean command?"],
    [{ command: ["srv"], serve_upsteam: [] }, "upstream.serve_upsteam: unknown key; did you mean serve_upstream?"],
    [{ command: ["srv"], restart: { inital_ms: 100 } }, "upstream.restart.inital_ms: unknown key; did you mean initial_ms?"],
    [{ command: ["srv"], max_message_kbb: 100 }, "upstream.max_message_kbb: unknown key; did you mean max_message_kb?"],
    [{ url: "http://127.0.0.1:9/mcp", header: {} }, "upstream.header: unknown key; did you mean headers?"],
  ];
  it.each(typos)("names the nearest key for a typo: %j", (upstream, message) => {
    const file = write(upstream);
    expect(issuesOf(file)).toContain(`${file}: ${message}`);
  });

  it("suggests upstream for a misspelt top-level key", () => {
    counter += 1;
    const file = join(dir, `${counter}-pipgate.yaml`);
    writeFileSync(file, stringify({ environments: { default: { python: "p", allowlist: "a" } }, upstrem: { command: ["srv"] } }));
    expect(issuesOf(file)).toContain(`${file}: upstrem: unknown key; did you mean upstream?`);
  });
});
