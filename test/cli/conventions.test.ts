import { describe, expect, it } from "vitest";
import { commandActions, COMMAND_NAMES, main } from "../../src/cli/main.js";
import { parseGlobalOptions } from "../../src/cli/common.js";
import { capture } from "../support/cli-io.js";

/** Every command and every action, as a user would type them before --help. */
const INVOCATIONS: string[][] = (
  await Promise.all(COMMAND_NAMES.map(async (name) => [[name], ...(await commandActions(name)).map((action) => [name, action])]))
).flat();

describe("CLI conventions", () => {
  it("knows the commands and actions the issue names", async () => {
    expect(COMMAND_NAMES).toEqual(
      expect.arrayContaining(["serve", "check", "install", "allowlist", "audit", "approvals", "sandbox", "grants", "upstream", "doctor", "init"]),
    );
    expect(await commandActions("audit")).toEqual(expect.arrayContaining(["list", "show", "export", "verify", "tail", "report"]));
    expect(await commandActions("approvals")).toEqual(["list", "show", "approve", "deny"]);
    expect(await commandActions("allowlist")).toEqual(expect.arrayContaining(["add", "remove", "show", "lint", "import", "sync"]));
    expect(INVOCATIONS.length).toBeGreaterThan(25);
  });

  it.each(
    INVOCATIONS.flatMap((words) => [
      [...words, "--help"],
      [...words, "-h"],
    ]),
  )("%s exits 0 with its usage", async (...argv: string[]) => {
    const io = capture();
    // the config named does not exist: help must not read it
    expect(await main([...argv, "--config", "/nonexistent/pipgate.yaml"], io)).toBe(0);
    const words = argv.filter((word) => !word.startsWith("-"));
    expect(io.out()).toMatch(new RegExp(`^usage: pipgate ${words.join(" ")}\\b`, "m"));
    expect(io.out()).toContain("--log-level LEVEL");
    expect(io.err()).toBe("");
  });

  it("pipgate --help and help exit 0; no command is a usage error", async () => {
    for (const argv of [["--help"], ["-h"], ["help"]]) {
      const io = capture();
      expect(await main(argv, io)).toBe(0);
      expect(io.out()).toMatch(/^usage: pipgate COMMAND/);
      expect(io.out()).toContain("PIPGATE_LOG_LEVEL");
    }
    expect(await main([], capture())).toBe(2);
  });

  it("a bad --log-level, in either form and on either side of the command, is a usage error naming the levels", async () => {
    for (const argv of [
      ["doctor", "--log-level", "loud"],
      ["check", "--log-level=LOUDER", "default", "x"],
      ["--log-level", "nope", "serve"],
      ["audit", "list", "--log-level"],
    ]) {
      const io = capture();
      expect(await main(argv, io)).toBe(2);
      expect(io.err()).toMatch(/--log-level/);
      expect(io.err()).toMatch(/trace, debug, info, warn, error, fatal, silent/);
      expect(io.out()).toBe("");
    }
  });

  it("PIPGATE_LOG_LEVEL is the fallback, and a bad value is a usage error that says where it came from", () => {
    expect(parseGlobalOptions(["serve"], { PIPGATE_LOG_LEVEL: "debug" }).logLevel).toBe("debug");
    expect(parseGlobalOptions(["serve", "--log-level", "error"], { PIPGATE_LOG_LEVEL: "debug" }).logLevel).toBe("error");
    expect(parseGlobalOptions(["serve"], {}).logLevel).toBeUndefined();
    expect(() => parseGlobalOptions(["serve"], { PIPGATE_LOG_LEVEL: "verbose" })).toThrow(/PIPGATE_LOG_LEVEL: "verbose" is not a log level/);
  });

  it("takes its own options out and leaves the rest, up to --, to the command", () => {
    expect(parseGlobalOptions(["audit", "list", "--log-level=WARN", "--json", "--", "--help"], {})).toEqual({
      argv: ["audit", "list", "--json", "--", "--help"],
      help: false,
      logLevel: "warn",
    });
  });

  it("a bad PIPGATE_LOG_LEVEL through main is exit 2, not a crash", async () => {
    const saved = process.env.PIPGATE_LOG_LEVEL;
    process.env.PIPGATE_LOG_LEVEL = "chatty";
    try {
      const io = capture();
      expect(await main(["doctor", "--config", "/nonexistent/pipgate.yaml"], io)).toBe(2);
      expect(io.err()).toMatch(/PIPGATE_LOG_LEVEL/);
    } finally {
      if (saved === undefined) delete process.env.PIPGATE_LOG_LEVEL;
      else process.env.PIPGATE_LOG_LEVEL = saved;
    }
  });

  it("grants accepts --config like every command", async () => {
    const io = capture();
    expect(await main(["grants", "new-token", "ci-bot", "--config", "/nonexistent/pipgate.yaml", "--environments", "default"], io)).toBe(0);
    expect(io.out()).toMatch(/^pg_/);
    expect(io.err()).toContain("token_sha256");
  });
});
