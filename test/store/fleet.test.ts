import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { hashToken } from "../../src/grants/tokens.js";
import type { PgStores } from "../../src/store/postgres/open.js";
import { buildWheel } from "../fixtures/dists.js";
import { createWorkspace, REPO_ROOT, type Workspace } from "../support/harness.js";
import { resultText, type ToolResult } from "../support/in-process.js";
import { openTestStores, postgresAvailable, startTestPostgres, type TestPostgres } from "../support/postgres.js";
import { startServeProcess, type ServeProcess } from "../support/serve-process.js";

// Fleet mode end to end (issue 17): real `pipgate serve --http` processes from the built CLI (run
// `npx tsc -p tsconfig.json` first), each with its own state directory, sharing one PostgreSQL database.

const BIN = join(REPO_ROOT, "dist", "src", "cli", "bin.js");
const SEED = `{"version": "1", "default": "deny", "tools": {"install_package": {"limits": [{"counter": "install_package_rate", "window": "minute", "max": 10, "scope": "grant"}]}}}`;
const PASSWORD_ENV = "PIPGATE_FLEET_TEST_DB_PASSWORD";
const AGENTS = 8;
const tokenOf = (name: string) => `tok-${name}-0123456789abcdef`;

const available = postgresAvailable();

const call = async (client: Client, name: string, args: Record<string, unknown>) =>
  (await client.callTool({ name, arguments: args }, undefined, { timeout: 120_000 })) as ToolResult;

describe.skipIf(!available.ok)("fleet: three brokers sharing one PostgreSQL", () => {
  let server: TestPostgres;
  let ws: Workspace;
  let database: string;
  const configs: string[] = [];
  const brokers: ServeProcess[] = [];
  let shared: PgStores;

  beforeAll(async () => {
    server = await startTestPostgres();
    database = await server.createDatabase();
    // Each serve process reads the password from its environment (inherited from this one).
    process.env[PASSWORD_ENV] = server.password;
    const grants = Object.fromEntries(
      ["alice", ...Array.from({ length: AGENTS * 3 }, (_, i) => `agent${String(i)}`)].map((name) => [
        name,
        { environments: "*", token_sha256: hashToken(tokenOf(name)) },
      ]),
    );
    ws = await createWorkspace({
      projects: [
        { name: "demo-lib", releases: [{ version: "1.0.0", dists: [buildWheel({ name: "demo-lib", version: "1.0.0" })] }] },
        { name: "outsider", releases: [{ version: "1.0.0", dists: [buildWheel({ name: "outsider", version: "1.0.0" })] }] },
      ],
      environments: { default: { allowlist: { packages: { "demo-lib": "*" } } } },
      config: { policy: "policy.json", grants, database: { url: server.url(database), password_env: PASSWORD_ENV } },
    });
    writeFileSync(join(ws.dir, "policy.json"), SEED);
    // Brokers A, B and C: the same configuration but each its own state directory (its own machine).
    const base = parse(readFileSync(ws.configPath, "utf8")) as Record<string, unknown>;
    for (const name of ["a", "b", "c"]) {
      const path = join(ws.dir, `broker-${name}.yaml`);
      writeFileSync(path, stringify({ ...base, state_dir: join(ws.dir, `state-${name}`) }));
      configs.push(path);
    }
    for (const path of configs) brokers.push(await startServeProcess(path));
    shared = await openTestStores(server, database);
  }, 180_000);

  afterAll(async () => {
    await Promise.all(brokers.map((broker) => broker.stop()));
    await shared?.close();
    delete process.env[PASSWORD_ENV];
    await ws?.close();
    await server?.close();
  });

  it("admits exactly 10 of 30 install calls from one grant within a minute, whichever broker they reach", async () => {
    const clients = await Promise.all(brokers.map((broker) => broker.connect(tokenOf("alice"))));
    // Thirty cheap calls at once, ten to each broker: an admitted one is refused by the allowlist (no container).
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => call(clients[i % 3]!, "install_package", { package_name: "outsider" })));
    const texts = results.map(resultText);
    expect(texts.filter((text) => /not on the allowlist/.test(text))).toHaveLength(10);
    expect(texts.filter((text) => /rate limited: install_package_rate allows 10 call\(s\) per minute for grant "alice"/.test(text))).toHaveLength(20);
    expect(await shared.audit.count({ identity: "alice", tool: "install_package" })).toBe(30);
    expect(await shared.audit.count({ identity: "alice", outcome: "rate-limited" })).toBe(20);
    expect(await shared.rates.events("install_package_rate|grant=alice", Date.now())).toHaveLength(10);
  });

  it("gives 8 agents on each of 3 brokers exactly one record per call, in one chain that any broker's CLI verifies", async () => {
    const before = await shared.audit.count();
    const agents = await Promise.all(Array.from({ length: AGENTS * 3 }, (_, i) => brokers[i % 3]!.connect(tokenOf(`agent${String(i)}`))));
    const script = [
      { name: "install_package", arguments: { package_name: "outsider" } }, // admitted, refused by the allowlist
      { name: "check_package", arguments: { package_name: "demo-lib" } }, // refused by the seed policy's default deny
      { name: "install_package", arguments: { package_name: "demo-lib; rm -rf /" } }, // invalid
    ];
    await Promise.all(
      agents.map(async (client) => {
        for (const step of script) await call(client, step.name, step.arguments);
      }),
    );
    const calls = agents.length * script.length;
    expect(await shared.audit.count()).toBe(before + calls);
    for (let i = 0; i < agents.length; i += 1) expect(await shared.audit.count({ identity: `agent${String(i)}` })).toBe(script.length);
    for (const config of configs) {
      const verified = await execa("node", [BIN, "audit", "verify", "--config", config], { reject: false, env: { [PASSWORD_ENV]: server.password } });
      expect(verified.exitCode, verified.stderr).toBe(0);
      expect(verified.stdout).toMatch(new RegExp(`\\b${String(before + calls)}\\b`));
    }
  });

  it("has doctor check the shared chain, not the broker's local file, and fail its line while the database is down", async () => {
    const doctor = (config: string) =>
      execa("node", [BIN, "doctor", "--config", config], { reject: false, timeout: 120_000, env: { [PASSWORD_ENV]: server.password } });
    const count = await shared.audit.count();
    const up = await doctor(configs[2]!);
    expect(up.stdout).toMatch(/ok {4}state database: shared \(fleet mode\), schema current; this broker is brk_[a-z2-9]{10}@/);
    expect(up.stdout).toContain(`ok    audit chain: intact (shared), ${String(count)} record(s)`);
    await server.stop();
    try {
      const down = await doctor(configs[2]!);
      expect(down.exitCode).toBe(1);
      expect(down.stdout).toContain(`FAIL  state database: cannot open the state database ${server.dir}`);
      expect(down.stdout).toContain("FAIL  audit chain: cannot be checked: the shared database did not open");
      expect(down.stdout).not.toContain(server.password);
    } finally {
      await server.start();
    }
  });

  it("fails a call closed while the database is away, with an actionable message, and serves again when it is back", async () => {
    const client = await brokers[1]!.connect(tokenOf("agent0"));
    const before = await shared.audit.count({ intents: true });
    await server.stop();
    try {
      const refused = await call(client, "install_package", { package_name: "demo-lib" });
      expect(refused.isError).toBe(true);
      expect(resultText(refused)).toMatch(/the state database .* is unreachable .*retry when it is back/);
      expect(resultText(refused)).not.toContain(server.password);
    } finally {
      await server.start();
    }
    // Nothing was written for the refused call (no intent, no install): the database could take nothing.
    expect(await shared.audit.count({ intents: true })).toBe(before);
    const again = await call(client, "install_package", { package_name: "outsider" });
    expect(resultText(again)).toMatch(/not on the allowlist|rate limited/);
    expect(await shared.audit.count({ intents: true })).toBe(before + 1);
  });

  it("refuses to start a broker, naming the database and no credential, while the database is down", async () => {
    await server.stop();
    try {
      const started = await execa("node", [BIN, "serve", "--config", configs[0]!, "--http", "127.0.0.1:0"], {
        reject: false,
        timeout: 60_000,
        env: { [PASSWORD_ENV]: server.password },
      });
      expect(started.exitCode).not.toBe(0);
      expect(started.stderr).toContain(`cannot open the state database ${server.dir}`);
      expect(started.stderr).not.toContain(server.password);
      const installed = await execa("node", [BIN, "install", "default", "demo-lib", "--config", configs[0]!], {
        reject: false,
        timeout: 60_000,
        env: { [PASSWORD_ENV]: server.password },
      });
      expect(installed.exitCode).not.toBe(0);
      expect(installed.stderr).toContain(`cannot open the state database ${server.dir}`);
    } finally {
      await server.start();
    }
  });
});
