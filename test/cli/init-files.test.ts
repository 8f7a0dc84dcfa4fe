import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkInit, renderInit, type InitPlan } from "../../src/allowlist-edit/init-files.js";
import { planSync } from "../../src/allowlist-edit/sync.js";
import type { SourcePin } from "../../src/allowlist-edit/venv-pins.js";
import { main } from "../../src/cli/main.js";
import { loadAllowlist } from "../../src/config/allowlist.js";
import { loadConfig } from "../../src/config/load.js";
import { loadPolicy } from "../../src/config/policy-file.js";
import { ConfigSchema } from "../../src/config/schema.js";
import { capture, tempDir, type TempDir } from "../allowlist/helpers.js";

const PINS: SourcePin[] = [
  { name: "certifi", operator: "==", version: "2024.2.2", requested: false, origin: "/v/bin/python", requiredBy: ["requests"] },
  { name: "legacy", operator: "===", version: "1.0-odd", requested: true, origin: "/v/bin/python", requiredBy: [] },
  { name: "requests", operator: "==", version: "2.32.3", requested: true, origin: "/v/bin/python", requiredBy: [] },
  { name: "true", operator: "==", version: "1.0", requested: true, origin: "/v/bin/python", requiredBy: [] },
];

const plan = (extra: Partial<InitPlan> = {}): InitPlan => ({
  environment: "default",
  python: "/v/bin/python",
  venv: "/v/bin/python",
  pins: PINS,
  allowlist: "allowlists/default.yaml",
  policy: "policy.yaml",
  indexUrl: "http://127.0.0.1:9/simple/",
  upstream: undefined,
  ...extra,
});

/** The keys of a YAML text's lines that carry a value or open a block, and whether each has a comment. */
function uncommented(text: string): string[] {
  return text
    .split("\n")
    .filter((line) => /^\s*[A-Za-z_"-][^:]*:/.test(line) && !line.trimStart().startsWith("#") && !line.trimStart().startsWith("- "))
    .filter((line) => !line.includes("  # "))
    .map((line) => line.trim());
}

describe("init's files", () => {
  it("round-trip through the strict schemas, in every variant", () => {
    for (const variant of [
      plan(),
      plan({ venv: undefined, pins: [], python: "venvs/default/bin/python", indexUrl: undefined }),
      plan({ upstream: { command: ["mcp-python-interpreter", "--python-path", "/v/bin/python"] } }),
      plan({ upstream: { url: "http://127.0.0.1:8900/mcp" }, environment: "data-science" }),
    ]) {
      const texts = renderInit(variant);
      expect(checkInit(texts, variant.upstream !== undefined)).toEqual([]);
      const config = ConfigSchema.parse(parse(texts.config));
      expect(Object.keys(config.environments)).toEqual([variant.environment]);
      expect(config.index.url).toBe(variant.indexUrl);
    }
  });

  it("explains every key it writes in a comment", () => {
    const texts = renderInit(plan({ upstream: { command: ["server"] } }));
    expect(uncommented(texts.config)).toEqual([]);
    expect(uncommented(texts.policy)).toEqual([]);
    expect(uncommented(texts.allowlist)).toEqual([]);
  });

  it("pins every distribution, with where it came from and a requested mark on what nothing requires", () => {
    const { allowlist } = renderInit(plan());
    expect(parse(allowlist).packages).toEqual({ certifi: "==2024.2.2", legacy: "===1.0-odd", requests: "==2.32.3", true: "==1.0" });
    expect(allowlist).toContain('  certifi: "==2024.2.2"');
    expect(allowlist).toMatch(/ {2}certifi: "==2024\.2\.2" +# from \/v\/bin\/python; required by requests\n/);
    expect(allowlist).toMatch(/ {2}requests: "==2\.32\.3" +# requested; from \/v\/bin\/python\n/);
    // a name YAML would read as a boolean is quoted
    expect(allowlist).toContain('  "true": "==1.0"');
  });

  it("writes the seed policy: default deny, ten installs a minute per grant, pipgate's read-only tools", () => {
    const policy = parse(renderInit(plan()).policy) as Record<string, unknown>;
    expect(policy).toEqual({
      version: "1",
      default: "deny",
      tools: {
        install_package: { limits: [{ counter: "install_package_rate", window: "minute", max: 10, scope: "grant" }] },
        check_package: {},
        list_environments: {},
        list_installed_packages: {},
        list_allowed_packages: {},
        install_status: {},
      },
    });
  });

  it("leaves an allowlist that sync and the editor can work on", () => {
    const { allowlist } = renderInit(plan());
    const synced = planSync(allowlist, [{ ...PINS[2], version: "2.32.4" } as SourcePin, { ...PINS[0], name: "idna", version: "3.7" } as SourcePin]);
    if (!synced.ok) throw new Error(synced.errors.join("\n"));
    expect(parse(synced.text).packages).toMatchObject({ requests: "==2.32.4", idna: "==3.7" });
    const empty = renderInit(plan({ venv: undefined, pins: [] })).allowlist;
    const first = planSync(empty, [PINS[0] as SourcePin]);
    expect(first.ok && parse(first.text).packages).toEqual({ certifi: "==2024.2.2" });
  });
});

describe("pipgate init (no venv)", () => {
  let tmp: TempDir;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.remove());

  it("writes pipgate.yaml, policy.yaml and the allowlist that the loaders accept, and refuses to overwrite them", async () => {
    const dir = join(tmp.dir, "site");
    const io = capture();
    expect(await main(["init", "--dir", dir, "--index-url", "http://127.0.0.1:9/simple/"], io)).toBe(0);
    expect(io.err()).toBe("");
    expect(io.out()).toContain(`wrote ${join(dir, "pipgate.yaml")}`);
    expect(io.out()).toContain(`next: pipgate doctor --config ${join(dir, "pipgate.yaml")}`);
    const loaded = loadConfig(join(dir, "pipgate.yaml"));
    if (!loaded.ok) throw new Error(loaded.issues.join("\n"));
    expect(loaded.config.environments.default).toEqual({
      python: join(dir, "venvs", "default", "bin", "python"),
      allowlist: join(dir, "allowlists", "default.yaml"),
      description: "the agent's environment",
    });
    expect(loaded.config.policy).toBe(join(dir, "policy.yaml"));
    expect(loadPolicy(loaded.config.policy).ok).toBe(true);
    const allowlist = loadAllowlist(join(dir, "allowlists", "default.yaml"));
    expect(allowlist.ok && allowlist.allowlist.packages.size).toBe(0);

    // a second run writes nothing, and says which files are in the way
    writeFileSync(join(dir, "policy.yaml"), "# mine\n");
    const again = capture();
    expect(await main(["init", "--dir", dir], again)).toBe(1);
    expect(again.err()).toMatch(/policy\.yaml, .*allowlists\/default\.yaml, .*pipgate\.yaml exist; nothing written \(--force replaces them\)/);
    expect(readFileSync(join(dir, "policy.yaml"), "utf8")).toBe("# mine\n");

    const forced = capture();
    expect(await main(["init", "--dir", dir, "--force", "--env", "lab"], forced)).toBe(0);
    expect(readFileSync(join(dir, "policy.yaml"), "utf8")).toContain("seed policy");
    expect(existsSync(join(dir, "allowlists", "lab.yaml"))).toBe(true);
  });

  it("writes the config where --config says, with paths relative to it", async () => {
    const config = join(tmp.dir, "etc", "pipgate.yaml");
    expect(await main(["init", "--config", config], capture())).toBe(0);
    const text = readFileSync(config, "utf8");
    expect(text).toContain('allowlist: "allowlists/default.yaml"');
    expect(loadConfig(config).ok).toBe(true);
  });

  it("takes everything after --upstream as the upstream's argv", async () => {
    const dir = join(tmp.dir, "gw");
    expect(await main(["init", "--dir", dir, "--upstream", "--", "mcp-python-interpreter", "--python-path", "/v/bin/python"], capture())).toBe(0);
    const loaded = loadConfig(join(dir, "pipgate.yaml"));
    expect(loaded.ok && loaded.config.upstream?.command).toEqual(["mcp-python-interpreter", "--python-path", "/v/bin/python"]);
    expect(readFileSync(join(dir, "policy.yaml"), "utf8")).toContain("# run_python_code:");
  });

  it("refuses bad arguments before writing anything", async () => {
    for (const argv of [
      ["init", "--dir", join(tmp.dir, "a"), "--env", "../etc"],
      ["init", "--dir", join(tmp.dir, "b"), "--upstream"],
      ["init", "--dir", join(tmp.dir, "c"), "--upstream-url", "http://127.0.0.1:1/mcp", "--upstream", "x"],
      ["init", "--dir", join(tmp.dir, "d"), "--index-url", "not a url"],
      ["init", "--dir", join(tmp.dir, "e"), "--upstream-url", "ftp://127.0.0.1/mcp"],
      ["init", "--dir", join(tmp.dir, "f"), "stray"],
    ]) {
      const io = capture();
      expect(await main(argv, io)).toBe(2);
      expect(io.err()).not.toBe("");
      expect(existsSync(argv[2] ?? "")).toBe(false);
    }
    const io = capture();
    expect(await main(["init", "--dir", join(tmp.dir, "g"), "--from-venv", join(tmp.dir, "no-such-venv")], io)).toBe(1);
    expect(io.err()).toMatch(/--from-venv: cannot inspect/);
  });
});
