import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { parseDatabaseUrl } from "../../src/config/database.js";
import { loadConfig } from "../../src/config/load.js";

const dir = mkdtempSync(join(tmpdir(), "pipgate-database-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
function load(database: unknown) {
  counter += 1;
  const path = join(dir, `${counter}.yaml`);
  writeFileSync(path, stringify({ environments: { default: { python: "./venv/bin/python", allowlist: "./a.yaml" } }, database }));
  return loadConfig(path);
}

describe("database.url", () => {
  it("reads a TCP host, a port and a database; the display names no credentials", () => {
    const parsed = parseDatabaseUrl("postgresql://broker@db.example:6543/pipgate");
    expect(parsed).toEqual({
      ok: true,
      value: { host: "db.example", port: 6543, database: "pipgate", user: "broker", ssl: "verify-full", display: "db.example:6543/pipgate" },
    });
  });

  it("reads a unix-socket directory from ?host=, with or without a user", () => {
    expect(parseDatabaseUrl("postgres:///fleet?host=/run/postgresql")).toMatchObject({
      ok: true,
      value: { host: "/run/postgresql", port: 5432, database: "fleet", user: undefined, ssl: "disable" },
    });
    expect(parseDatabaseUrl("postgres://pipgate@/fleet?host=%2Ftmp%2Fpg&port=5433")).toMatchObject({
      ok: true,
      value: { host: "/tmp/pg", port: 5433, user: "pipgate" },
    });
  });

  it("refuses a password in the URL and says to use password_env", () => {
    const parsed = parseDatabaseUrl("postgres://broker:hunter2@db.example/pipgate");
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.error).toContain("password_env");
    expect(parsed.error).not.toContain("hunter2");
    const socket = parseDatabaseUrl("postgres://broker:hunter2@/pipgate?host=/run/postgresql");
    expect(socket.ok).toBe(false);
  });

  it("refuses other schemes, unknown parameters, a missing database and a relative socket directory", () => {
    for (const url of [
      "mysql://u@h/db",
      "postgres://u@h/db?application_name=x",
      "postgres://u@h/",
      "postgres:///db?host=run/pg",
      "postgres://u@h/db?sslmode=allow",
      "nonsense",
    ]) {
      expect(parseDatabaseUrl(url).ok, url).toBe(false);
    }
  });

  it("is checked by loadConfig, whose message carries neither the password nor the URL's other secrets", () => {
    const result = load({ url: "postgres://broker:s3cret@db.example/pipgate" });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const text = result.issues.join("\n");
    expect(text).toContain("database.url");
    expect(text).toContain("password_env");
    expect(text).not.toContain("s3cret");
  });

  it("is strict: a misspelt key is an error with the nearest key", () => {
    const result = load({ url: "postgres://broker@db.example/pipgate", pasword_env: "PIPGATE_DB_PASSWORD" });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.join("\n")).toContain("password_env");
  });

  it("loads a good section, and no section means the embedded store", () => {
    const good = load({ url: "postgres://broker@db.example/pipgate", password_env: "PIPGATE_DB_PASSWORD" });
    expect(good.ok && good.config.database).toEqual({ url: "postgres://broker@db.example/pipgate", password_env: "PIPGATE_DB_PASSWORD", pool_max: 10 });
    const none = load(undefined);
    expect(none.ok && none.config.database).toBeUndefined();
  });
});
