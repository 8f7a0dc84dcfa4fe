import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, lstatSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { execa } from "execa";
import { stringify } from "yaml";
import { startIndexServer, type IndexServer, type ProjectSpec } from "../fixtures/index-server.js";

export const REPO_ROOT = new URL("../../", import.meta.url).pathname;

let template: Promise<string> | undefined;

/**
 * A real venv with its own pip (pipgate commits with the target's own pip). ensurepip takes seconds,
 * so each test process makes one venv and copies it: pipgate only ever runs `python -m pip`, which
 * does not care that the copy's bin/ scripts name the template's path.
 */
export async function createVenvWithPip(dir: string): Promise<string> {
  template ??= (async () => {
    const base = join(mkdtempSync(join(tmpdir(), "pipgate-venv-template-")), "venv");
    await execa("python3", ["-m", "venv", base], { env: { ...process.env, PIP_CONFIG_FILE: "/dev/null" } });
    return base;
  })();
  mkdirSync(dirname(dir), { recursive: true });
  await execa("cp", ["-a", await template, dir]);
  return join(dir, "bin", "python");
}

export interface Workspace {
  dir: string;
  configPath: string;
  stateDir: string;
  index: IndexServer;
  pythons: Record<string, string>;
  allowlists: Record<string, string>;
  close(): Promise<void>;
}

export interface WorkspaceOptions {
  projects: ProjectSpec[];
  environments: Record<string, { allowlist: Record<string, unknown> }>;
  config?: Record<string, unknown>;
  /** The index serves PEP 658/714 metadata files beside its wheels (test/fixtures/index-server.ts). */
  indexMetadata?: boolean;
}

/** A temporary pipgate set-up: a local index, real venvs, allowlists and a pipgate.yaml. */
export async function createWorkspace(options: WorkspaceOptions): Promise<Workspace> {
  const dir = mkdtempSync(join(tmpdir(), "pipgate-test-"));
  const index = await startIndexServer({ projects: options.projects, metadata: options.indexMetadata ?? false });
  const pythons: Record<string, string> = {};
  const allowlists: Record<string, string> = {};
  const environments: Record<string, unknown> = {};
  for (const [name, env] of Object.entries(options.environments)) {
    pythons[name] = await createVenvWithPip(join(dir, "venvs", name));
    allowlists[name] = join(dir, `allowlist-${name}.yaml`);
    writeFileSync(allowlists[name], stringify(env.allowlist));
    environments[name] = { python: pythons[name], allowlist: allowlists[name] };
  }
  const stateDir = join(dir, "state");
  const configPath = join(dir, "pipgate.yaml");
  // Tests never reach a public index: the local one's URL wins over whatever `config.index` adds.
  const { index: indexExtra, ...rest } = (options.config ?? {}) as { index?: Record<string, unknown>; sandbox?: Record<string, unknown> };
  // PIPGATE_TEST_POOL=N runs every workspace's broker with a warm pool of N containers (sandbox.pool).
  const pool = process.env.PIPGATE_TEST_POOL;
  if (pool !== undefined && rest.sandbox?.pool === undefined) rest.sandbox = { ...rest.sandbox, pool: { size: Number(pool) } };
  writeFileSync(configPath, stringify({ state_dir: stateDir, environments, ...rest, index: { ...indexExtra, url: index.url } }));
  return {
    dir,
    configPath,
    stateDir,
    index,
    pythons,
    allowlists,
    async close() {
      await index.close();
      // A broker's background work (a store entry, a pool refill's scratch) may still be ending: retried.
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    },
  };
}

/** A digest of everything a venv holds (site-packages, scripts, metadata): equal digests, equal venvs. */
export function venvDigest(python: string): string {
  const root = join(python, "..", "..");
  const hash = createHash("sha256");
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const stat = lstatSync(path);
      const rel = relative(root, path);
      if (stat.isSymbolicLink()) hash.update(`L ${rel} ${readlinkSync(path)}\n`);
      else if (stat.isDirectory()) {
        hash.update(`D ${rel}\n`);
        walk(path);
      } else hash.update(`F ${rel} ${createHash("sha256").update(readFileSync(path)).digest("hex")}\n`);
    }
  };
  walk(root);
  return hash.digest("hex");
}

/**
 * Containers the broker with this state directory created since `since` (docker's own event log):
 * proves "no container was started" even while other tests run containers beside it.
 */
export async function sandboxContainersSince(since: Date, stateDir: string): Promise<number> {
  const { stdout } = await execa("docker", [
    "events",
    "--since",
    String(Math.floor(since.getTime() / 1000)),
    "--until",
    String(Math.ceil(Date.now() / 1000) + 1),
    "--filter",
    "type=container",
    "--filter",
    "event=create",
    "--filter",
    "label=org.pipgate.role=resolve",
    "--filter",
    `label=org.pipgate.state-dir=${stateDir}`,
    "--format",
    "{{.TimeNano}}",
  ]);
  // --since takes whole seconds: an event of the same second but before `since` is not counted.
  const sinceNs = BigInt(since.getTime()) * 1_000_000n;
  return stdout.split("\n").filter((line) => /^\d+$/.test(line.trim()) && BigInt(line.trim()) >= sinceNs).length;
}

/** In CI a missing Docker engine is a failure, never a quiet skip. */
export async function requireDocker(): Promise<void> {
  const result = await execa("docker", ["info"], { reject: false });
  if (result.exitCode !== 0) throw new Error("these tests need a running Docker engine (run scripts/setup-host.sh)");
}
