import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { lstat, readFile, readdir, readlink, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INTENT, type AuditRecord } from "../../src/audit/types.js";
import { openApp } from "../support/app.js";
import { runAudit } from "../../src/cli/audit.js";
import { commitWheels } from "../../src/commit/index.js";
import { loadConfig } from "../../src/config/load.js";
import { silentLogger } from "../../src/log.js";
import { openStateDb, type Db } from "../../src/state/db.js";
import { buildWheel } from "../fixtures/dists.js";
import { startIndexServer, type IndexServer } from "../fixtures/index-server.js";
import { capture } from "../support/cli-io.js";
import { createVenvWithPip, requireDocker } from "../support/harness.js";
import { openInProcess } from "../support/in-process.js";
import { hashTree, removeAll, runPython, scratch, venvRoots, verifiedWheel } from "./helpers.js";
import type { KILL_POINTS } from "./install-child.js";

// The SIGKILL sweep: a real broker process (install-child.ts) installs sweep-lib 2.0 (250 modules, and
// a dependency) over sweep-lib 1.0 into a real venv, and is SIGKILLed at one point of the install;
// then the broker is opened again, as a restart would. Every point must leave the venv exactly as it
// was or completely installed, exactly one outcome for the request (saying what recovery found), and
// an intact chain. All points share one state directory, so the chain survives every crash in turn.
const VITE_NODE = join(import.meta.dirname, "..", "..", "node_modules", ".bin", "vite-node");
const CHILD = join(import.meta.dirname, "install-child.ts");
const IMAGE = "pipgate-sandbox:py3.11";

type Found = "rolled back" | "completed" | "nothing to do";
interface KillPoint {
  point: (typeof KILL_POINTS)[number];
  files?: number;
  installer: "direct" | "pip";
  /** Reuse the verified resolution (no sandbox run; the intent is written before the commit). */
  cached: boolean;
  expect: { outcome: "interrupted"; found: Found } | { outcome: "installed" };
}

const interrupted = (found: Found) => ({ outcome: "interrupted" as const, found });
const POINTS: KillPoint[] = [
  { point: "before-sandbox", installer: "direct", cached: false, expect: interrupted("nothing to do") },
  { point: "during-sandbox", installer: "direct", cached: false, expect: interrupted("nothing to do") },
  { point: "before-commit", installer: "direct", cached: false, expect: interrupted("nothing to do") },
  { point: "before-pip", installer: "direct", cached: false, expect: interrupted("rolled back") },
  ...[1, 5, 20, 60, 120, 200, 252].map((files): KillPoint => ({
    point: "during-direct",
    files,
    installer: "direct",
    cached: false,
    expect: interrupted("rolled back"),
  })),
  { point: "after-pip", installer: "direct", cached: false, expect: interrupted("rolled back") },
  { point: "after-commit", installer: "direct", cached: false, expect: interrupted("completed") },
  { point: "after-outcome", installer: "direct", cached: false, expect: { outcome: "installed" } },
  { point: "before-commit", installer: "direct", cached: true, expect: interrupted("nothing to do") },
  { point: "during-direct", files: 100, installer: "direct", cached: true, expect: interrupted("rolled back") },
  { point: "after-commit", installer: "direct", cached: true, expect: interrupted("completed") },
  { point: "before-pip", installer: "pip", cached: true, expect: interrupted("rolled back") },
  { point: "during-pip", installer: "pip", cached: true, expect: interrupted("rolled back") },
  { point: "after-pip", installer: "pip", cached: true, expect: interrupted("rolled back") },
  { point: "after-commit", installer: "pip", cached: true, expect: interrupted("completed") },
  { point: "after-outcome", installer: "pip", cached: true, expect: { outcome: "installed" } },
];

let dir: string;
let index: IndexServer;
let template: string;
let stateDir: string;
let allowlist: string;
let db: Db;
const complete: Record<"direct" | "pip", string> = { direct: "", pip: "" };
let counter = 0;

const lib2Files = Object.fromEntries(Array.from({ length: 250 }, (_, i) => [`sweep_lib/m${i}.py`, `X = ${i}\n`.repeat(20)]));

/**
 * What an installed venv holds, independent of where it lives and when it was written: relative paths,
 * types, modes and contents (the venv's own path replaced), without byte-compiled files, whose headers
 * carry source mtimes. Equal digests: the same set installed completely.
 */
async function contentDigest(venv: string): Promise<string> {
  const hash = createHash("sha256");
  for (const root of await venvRoots(venv)) {
    const walk = async (path: string): Promise<void> => {
      for (const name of (await readdir(path)).sort()) {
        if (name === "__pycache__") continue;
        const full = join(path, name);
        const st = await lstat(full);
        const rel = relative(venv, full);
        if (st.isSymbolicLink()) hash.update(`L ${rel} ${await readlink(full)}\n`);
        else if (st.isDirectory()) {
          hash.update(`D ${rel}\n`);
          await walk(full);
        } else {
          const text = (await readFile(full)).toString("latin1").replaceAll(venv, "<venv>");
          hash.update(`F ${rel} ${(st.mode & 0o777).toString(8)} ${createHash("sha256").update(text, "latin1").digest("hex")}\n`);
        }
      }
    };
    await walk(root);
  }
  return hash.digest("hex");
}

async function writeConfig(venv: string, installer: "direct" | "pip", state: string): Promise<string> {
  counter += 1;
  const path = join(dir, `pipgate-${counter}.yaml`);
  await writeFile(
    path,
    stringify({
      state_dir: state,
      index: { url: index.url },
      commit: { installer },
      environments: { main: { python: join(venv, "bin", "python"), allowlist } },
    }),
  );
  return path;
}

async function newVenv(): Promise<string> {
  counter += 1;
  const venv = join(dir, `venv-${counter}`);
  await execa("cp", ["-a", template, venv]);
  return venv;
}

function loaded(configPath: string) {
  const result = loadConfig(configPath);
  if (!result.ok) throw new Error(result.issues.join("\n"));
  return result.config;
}

async function waitForMarker(path: string, child: { exitCode: number | null }): Promise<Record<string, unknown>> {
  for (;;) {
    if (existsSync(path)) {
      const text = await readFile(path, "utf8");
      if (text.length > 0) return JSON.parse(text) as Record<string, unknown>;
    }
    if (child.exitCode !== null) throw new Error(`the broker child exited (${child.exitCode}) before its kill point`);
    await sleep(20);
  }
}

async function sandboxContainers(all: boolean): Promise<string[]> {
  const { stdout } = await execa("docker", ["ps", ...(all ? ["-a"] : []), "-q", "--filter", `label=org.pipgate.state-dir=${stateDir}`]);
  return stdout.split("\n").filter((line) => line.trim() !== "");
}

const requestIdOf = (record: AuditRecord): string | undefined => (record.request as { requestId?: string } | undefined)?.requestId;

beforeAll(async () => {
  await requireDocker();
  const image = await execa("docker", ["image", "inspect", IMAGE], { reject: false });
  if (image.exitCode !== 0) throw new Error(`the kill sweep needs the sandbox image ${IMAGE} (make image)`);
  dir = await scratch("kill-sweep");
  index = await startIndexServer({
    projects: [
      {
        name: "sweep-lib",
        releases: [
          { version: "1.0", dists: [buildWheel({ name: "sweep-lib", version: "1.0" })] },
          { version: "2.0", dists: [buildWheel({ name: "sweep-lib", version: "2.0", dependencies: ["sweep-dep>=1"], files: lib2Files })] },
        ],
      },
      { name: "sweep-dep", releases: [{ version: "1.0", dists: [buildWheel({ name: "sweep-dep", version: "1.0" })] }] },
    ],
  });
  allowlist = join(dir, "allowlist.yaml");
  await writeFile(allowlist, stringify({ packages: { "sweep-lib": "*", "sweep-dep": "*" } }));
  // The starting point of every install: a real venv with sweep-lib 1.0, committed as pipgate does.
  template = join(dir, "template");
  const python = await createVenvWithPip(template);
  const v1 = await verifiedWheel(join(dir, "wheels-1"), { name: "sweep-lib", version: "1.0" });
  const setupDb = openStateDb(join(dir, "setup-state"));
  const first = await commitWheels(setupDb, {
    installer: "direct",
    environment: "main",
    python,
    wheels: [v1],
    auditId: "setup",
    stateDir: join(dir, "setup-state"),
  });
  setupDb.close();
  expect(first.ok).toBe(true);

  // What "completely installed" looks like, per installer: one uninterrupted install each.
  for (const installer of ["direct", "pip"] as const) {
    const venv = await newVenv();
    const server = await openInProcess(await writeConfig(venv, installer, join(dir, "reference-state")));
    try {
      const result = await server.client.callTool({ name: "install_package", arguments: { package_name: "sweep-lib==2.0", environment: "main" } }, undefined, {
        timeout: 300_000,
      });
      expect(result.isError).toBeFalsy();
    } finally {
      await server.close();
    }
    expect(await runPython(join(venv, "bin", "python"), "import sweep_lib, sweep_dep; print(sweep_lib.__version__)")).toBe("2.0");
    complete[installer] = await contentDigest(venv);
  }
  stateDir = join(dir, "state");
  db = openStateDb(stateDir);
}, 600_000);

afterAll(async () => {
  db?.close();
  if (stateDir !== undefined) {
    const left = await sandboxContainers(true).catch(() => []);
    if (left.length > 0) await execa("docker", ["rm", "-f", ...left], { reject: false });
  }
  await index?.close();
  if (dir !== undefined) await removeAll(dir);
});

describe.sequential("a broker SIGKILLed anywhere in an install, then restarted", () => {
  it.each(
    POINTS.map(
      (p, i) =>
        [
          `${String(i + 1).padStart(2, "0")} ${p.point}${p.files === undefined ? "" : ` at ${p.files} files`} (${p.installer}${p.cached ? ", reused resolution" : ""})`,
          p,
        ] as const,
    ),
  )(
    "%s",
    async (_name, p) => {
      const venv = await newVenv();
      const configPath = await writeConfig(venv, p.installer, stateDir);
      const before = await hashTree(await venvRoots(venv));
      const seqBefore = db.prepare<[], { seq: number | null }>("SELECT max(seq) AS seq FROM audit").get()?.seq ?? 0;
      if (!p.cached) db.exec("DELETE FROM resolution_cache");
      else expect(db.prepare("SELECT count(*) AS n FROM resolution_cache").get()).toEqual({ n: 1 });

      counter += 1;
      const marker = join(dir, `marker-${counter}`);
      const child = execa(
        VITE_NODE,
        [CHILD, JSON.stringify({ config: configPath, environment: "main", requirement: "sweep-lib==2.0", point: p.point, files: p.files, marker })],
        { reject: false },
      );
      const seen = await waitForMarker(marker, child);
      expect(seen.finished, `the install ended (${String(seen.message)}) before its kill point`).toBeUndefined();

      // Every point but none is past the intent, committed where any other process can read it.
      const intents = db
        .prepare<[number, string], { id: string; body: string }>("SELECT id, body FROM audit WHERE seq > ? AND outcome = ?")
        .all(seqBefore, INTENT);
      expect(intents).toHaveLength(1);
      const intentBody = JSON.parse(intents[0]!.body) as { reason: string; broker: { pid: number }; request: { requestId: string } };
      expect(intentBody.broker.pid).toBe(seen.pid);
      expect(intentBody.reason).toBe(p.cached ? "started: a commit" : "started: a sandbox run");
      const requestId = intentBody.request.requestId;

      if (p.point === "during-sandbox") expect(await sandboxContainers(false)).toHaveLength(1);
      if (p.point === "before-sandbox") {
        // Its broker still runs (as another `pipgate serve` would): a start-up beside it leaves the intent open.
        const beside = (await openApp(loaded(configPath), silentLogger())).broker;
        try {
          expect(await beside.audit.outcomeOf(requestId)).toBeUndefined();
          expect((await beside.audit.openIntents()).map((r) => r.id)).toEqual([intents[0]!.id]);
        } finally {
          beside.close();
        }
      }

      child.kill("SIGKILL");
      await child;
      const restarted = (await openApp(loaded(configPath), silentLogger())).broker;
      try {
        const outcomes = (await restarted.audit.list()).filter((record) => requestIdOf(record) === requestId);
        expect(outcomes).toHaveLength(1);
        const outcome = outcomes[0]!;
        expect(outcome).toMatchObject({
          outcome: p.expect.outcome,
          identity: "sweep-agent",
          tool: "install_package",
          environment: "main",
          package: "sweep-lib",
        });
        if (p.expect.outcome === "interrupted") expect(outcome.recovery).toMatchObject({ found: p.expect.found });
        expect(await restarted.audit.openIntents()).toEqual([]);
        expect((await restarted.audit.verify()).ok).toBe(true);
      } finally {
        restarted.close();
      }

      const python = join(venv, "bin", "python");
      if (p.expect.outcome === "installed" || p.expect.found === "completed") {
        expect(await contentDigest(venv)).toBe(complete[p.installer]);
        expect(await runPython(python, "import sweep_lib, sweep_dep; print(sweep_lib.__version__)")).toBe("2.0");
      } else {
        expect(await hashTree(await venvRoots(venv))).toBe(before);
        expect(await runPython(python, "import sweep_lib; print(sweep_lib.__version__)")).toBe("1.0");
      }
      if (p.point === "during-sandbox") {
        const left = await sandboxContainers(true);
        if (left.length > 0) await execa("docker", ["rm", "-f", ...left]);
      }
    },
    300_000,
  );

  it("leaves exactly one outcome per request across every crash, and `audit verify` passes", async () => {
    const records = db.prepare<[], { outcome: string; body: string }>("SELECT outcome, body FROM audit ORDER BY seq").all();
    const perRequest = new Map<string, { intents: number; outcomes: number }>();
    // A container a killed broker left running is killed at the next start and recorded as recovery's
    // own request ("reaped", naming the install it belonged to), beside that install's one outcome.
    const reaped: string[] = [];
    for (const row of records) {
      const request = (JSON.parse(row.body) as { request?: { requestId?: string; recovers?: string } }).request;
      if (row.outcome === "reaped") {
        reaped.push(request?.recovers ?? "");
        continue;
      }
      const id = request?.requestId;
      if (id === undefined) continue;
      const entry = perRequest.get(id) ?? { intents: 0, outcomes: 0 };
      if (row.outcome === INTENT) entry.intents += 1;
      else entry.outcomes += 1;
      perRequest.set(id, entry);
    }
    // On a mismatch the message lists every record's outcome, request and reason, to tell which is extra.
    const listing = records.map((row) => {
      const body = JSON.parse(row.body) as { request?: unknown; reason?: string };
      return `${row.outcome} ${JSON.stringify(body.request)} ${body.reason ?? ""}`;
    });
    expect(perRequest.size, listing.join("\n")).toBe(POINTS.length);
    for (const [id, counts] of perRequest) expect(counts, id).toEqual({ intents: 1, outcomes: 1 });
    expect(reaped.length).toBeGreaterThan(0); // the kill during the sandbox run left its container
    for (const request of reaped) expect(perRequest.has(request), request).toBe(true);
    const io = capture();
    expect(await runAudit(["verify"], io, { db })).toBe(0);
    expect(io.out()).toContain(`chain intact: ${POINTS.length * 2 + reaped.length} records`);
    expect(io.out()).not.toContain("no outcome yet");
  });
});
