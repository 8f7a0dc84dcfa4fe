import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { execa } from "execa";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { hashToken } from "../../src/grants/tokens.js";
import type { PgStores } from "../../src/store/postgres/open.js";
import { buildWheel } from "../fixtures/dists.js";
import { runPython } from "../fixtures/pip.js";
import { createWorkspace, REPO_ROOT, requireDocker, type Workspace } from "../support/harness.js";
import { resultText, type ToolResult } from "../support/in-process.js";
import { openTestStores, postgresAvailable, startTestPostgres, type TestPostgres } from "../support/postgres.js";
import { startServeProcess, type ServeProcess } from "../support/serve-process.js";

// Fleet approvals (issue 17): an install queued on broker A is approved with the CLI of broker B and runs
// on A, the broker that queued it (its state directory, so its environments). Real `pipgate serve --http`
// from the built CLI (`npx tsc -p tsconfig.json` first), a real PostgreSQL, the real sandbox.

const BIN = join(REPO_ROOT, "dist", "src", "cli", "bin.js");
const PASSWORD_ENV = "PIPGATE_FLEET_APPROVALS_TEST_DB_PASSWORD";
const TOKEN = "tok-agent-fleet-approvals-0123456789";

const available = postgresAvailable();

/** A state directory's broker id, as its own SQLite file keeps it. */
function brokerIdIn(stateDir: string): string {
  const db = new Database(join(stateDir, "state.sqlite"), { readonly: true });
  try {
    return (db.prepare("SELECT value FROM local_meta WHERE key = 'broker_id'").get() as { value: string }).value;
  } finally {
    db.close();
  }
}

describe.skipIf(!available.ok)("fleet approvals: queued on A, approved with B's CLI, installed by A", () => {
  let server: TestPostgres;
  let ws: Workspace;
  let shared: PgStores;
  let brokerA: ServeProcess | undefined;
  let agent: Client;
  const configOf: Record<"a" | "b", string> = { a: "", b: "" };
  const stateOf = (name: "a" | "b") => join(ws.dir, `state-${name}`);

  const cli = (args: string[], broker: "a" | "b") =>
    execa("node", [BIN, ...args, "--config", configOf[broker]], { reject: false, timeout: 240_000, env: { [PASSWORD_ENV]: server.password } });

  async function queue(requirement: string): Promise<string> {
    const queued = (await agent.callTool({ name: "install_package", arguments: { package_name: requirement } }, undefined, { timeout: 180_000 })) as ToolResult;
    expect(queued.structuredContent, resultText(queued)).toMatchObject({ status: "pending" });
    return String(queued.structuredContent?.approval_id);
  }

  beforeAll(async () => {
    await requireDocker();
    server = await startTestPostgres();
    const database = await server.createDatabase();
    process.env[PASSWORD_ENV] = server.password;
    const wheel = (name: string) => ({ name, releases: [{ version: "1.0.0", dists: [buildWheel({ name, version: "1.0.0" })] }] });
    ws = await createWorkspace({
      projects: [wheel("demo-lib"), wheel("outsider"), wheel("latecomer")],
      environments: { default: { allowlist: { packages: { "demo-lib": "*" } } } },
      config: {
        policy: "policy.yaml",
        grants: { agent: { environments: "*", token_sha256: hashToken(TOKEN) } },
        database: { url: server.url(database), password_env: PASSWORD_ENV },
      },
    });
    writeFileSync(join(ws.dir, "policy.yaml"), 'version: "1"\ndefault: allow\napproval:\n  unlisted: true\n  expires_after_hours: 24\n');
    const base = parse(readFileSync(ws.configPath, "utf8")) as Record<string, unknown>;
    for (const name of ["a", "b"] as const) {
      configOf[name] = join(ws.dir, `broker-${name}.yaml`);
      writeFileSync(configOf[name], stringify({ ...base, state_dir: stateOf(name) }));
    }
    brokerA = await startServeProcess(configOf.a);
    agent = await brokerA.connect(TOKEN);
    shared = await openTestStores(server, database);
  }, 240_000);

  afterAll(async () => {
    await brokerA?.stop();
    await shared?.close();
    delete process.env[PASSWORD_ENV];
    await ws?.close();
    await server?.close();
  });

  it("runs the install on A, which queued it, and B's CLI reports A's result", async () => {
    const id = await queue("outsider==1.0.0");
    const a = brokerIdIn(stateOf("a"));
    expect((await shared.approvals.get(id))?.owner).toBe(a);

    const approved = await cli(["approvals", "approve", id, "--reason", "reviewed on another machine", "--as", "maria"], "b");
    const b = brokerIdIn(stateOf("b"));
    expect(b).not.toBe(a);
    expect(approved.stderr).toContain(`approved ${id}; it runs on ${a}, the broker that queued it: waiting up to 600 s for its result`);
    expect(approved.exitCode, approved.stderr).toBe(0);
    expect(approved.stdout).toContain("installed: installed outsider 1.0.0");
    expect(approved.stdout).toContain(`ran on ${a}`);

    const done = await shared.approvals.get(id);
    expect(done).toMatchObject({ state: "installed", decidedBy: "maria", owner: a, result: { status: "installed", ran_on: a } });
    const imported = await runPython(ws.pythons.default!, "import outsider; print(outsider.__version__)");
    expect(imported.stdout.trim()).toBe("1.0.0");
    // The decision is B's record, naming where it runs; the install is A's, naming the approval.
    const decision = (await shared.audit.list({ tool: "approvals approve" })).find((record) => (record.approval as { id?: string } | undefined)?.id === id);
    expect(decision).toMatchObject({ identity: "maria", outcome: "approved", approval: { runs_on: a } });
    const install = await shared.audit.get(String(done?.result?.audit_id));
    expect(install).toMatchObject({ identity: "agent", outcome: "installed", approval: { id, decided_by: "maria", ran_on: a } });
    // The agent, still connected to A, reads the outcome.
    const status = (await agent.callTool({ name: "install_status", arguments: { approval_id: id } })) as ToolResult;
    expect(status.structuredContent).toMatchObject({ state: "installed" });
    // Both brokers' CLIs verify the one chain.
    for (const broker of ["a", "b"] as const) expect((await cli(["audit", "verify"], broker)).exitCode).toBe(0);
  });

  it("keeps an approval made while A is down scheduled, and A runs it when it is back", async () => {
    const id = await queue("latecomer==1.0.0");
    await brokerA?.stop();
    brokerA = undefined;
    const approved = await cli(["approvals", "approve", id, "--reason", "fine", "--as", "maria", "--wait", "1"], "b");
    expect(approved.exitCode).toBe(1);
    expect(approved.stdout).toContain(`approved ${id}; ${brokerIdIn(stateOf("a"))} has not taken it yet (is it running?)`);
    expect((await shared.approvals.get(id))?.state).toBe("scheduled");
    // B never runs what A queued, however often its CLI looks.
    expect((await cli(["approvals", "show", id], "b")).stdout).toContain("scheduled");

    brokerA = await startServeProcess(configOf.a);
    const deadline = Date.now() + 180_000;
    let state = (await shared.approvals.get(id))?.state;
    while ((state === "scheduled" || state === "approved") && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      state = (await shared.approvals.get(id))?.state;
    }
    expect(state).toBe("installed");
    const imported = await runPython(ws.pythons.default!, "import latecomer; print(latecomer.__version__)");
    expect(imported.stdout.trim()).toBe("1.0.0");
  });
});
