import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UpstreamSandboxSchema } from "../../src/config/upstream-schema.js";
import { planContainedMounts, upstreamInterpreter, type PlanInput } from "../../src/gateway/contained-mounts.js";
import { createVenvWithPip } from "../support/harness.js";

// What a contained upstream sees of the host, computed from real interpreters (a venv made with
// python3 -m venv): each one asked where it lives, every path checked at its real path.
let dir: string;
let python: string;
let basePrefix: string;
const guard = () => ({ stateDir: join(dir, "state"), dockerSocket: "/var/run/docker.sock" });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pipgate-mounts-"));
  mkdirSync(join(dir, "work"));
  mkdirSync(join(dir, "state"));
  python = await createVenvWithPip(join(dir, "venv"));
  basePrefix = (await execa(python, ["-I", "-c", "import sys; print(sys.base_prefix)"])).stdout.trim();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function input(sandbox: Record<string, unknown>, extra: Partial<PlanInput> = {}): PlanInput {
  const settings = { ...UpstreamSandboxSchema.parse(sandbox), workdir: (sandbox.workdir as string | undefined) ?? join(dir, "work") };
  return { settings, command: ["/usr/bin/node", "server.js"], environments: { default: python }, guard: guard(), ...extra };
}

describe("a contained upstream's mounts", () => {
  it("are the environment's prefix and base prefix read-only and the working directory read-write, nothing nested twice", async () => {
    const plan = await planContainedMounts(input({}));
    if (!plan.ok) throw new Error(plan.error);
    expect(plan.value.pythonVersion).toMatch(/^3\.\d+\.\d+$/);
    // the venv's bin/python link and the real executable lie inside those prefixes: no mounts of their own
    expect(plan.value.mounts.map(({ target, mode, why }) => ({ target, mode, why })).sort((a, b) => a.target.localeCompare(b.target))).toEqual(
      [
        { target: basePrefix, mode: "ro", why: "environment default (sys.base_prefix)" },
        { target: join(dir, "venv"), mode: "ro", why: "environment default (sys.prefix)" },
        { target: join(dir, "work"), mode: "rw", why: "the working directory" },
      ].sort((a, b) => a.target.localeCompare(b.target)),
    );
  });

  it("drop a read-only mount inside another, keep one inside a writable one, and make a path wanted both ways read-only", async () => {
    mkdirSync(join(dir, "data", "sub"), { recursive: true });
    mkdirSync(join(dir, "work", "fixed"), { recursive: true });
    const plan = await planContainedMounts(
      input({
        mounts: { read_only: [join(dir, "data", "sub"), join(dir, "data"), join(dir, "work", "fixed"), join(dir, "both")], read_write: [join(dir, "both")] },
      }),
    );
    mkdirSync(join(dir, "both"), { recursive: true });
    const again = await planContainedMounts(
      input({
        mounts: { read_only: [join(dir, "data", "sub"), join(dir, "data"), join(dir, "work", "fixed"), join(dir, "both")], read_write: [join(dir, "both")] },
      }),
    );
    expect(plan.ok ? "" : plan.error).toMatch(/both cannot be mounted: ENOENT/);
    if (!again.ok) throw new Error(again.error);
    const byTarget = new Map(again.value.mounts.map((mount) => [mount.target, mount.mode]));
    expect(byTarget.has(join(dir, "data", "sub"))).toBe(false);
    expect(byTarget.get(join(dir, "data"))).toBe("ro");
    expect(byTarget.get(join(dir, "work"))).toBe("rw");
    expect(byTarget.get(join(dir, "work", "fixed"))).toBe("ro");
    expect(byTarget.get(join(dir, "both"))).toBe("ro");
    // parents before children: the order Docker must mount them in
    const targets = again.value.mounts.map((mount) => mount.target);
    expect(targets.indexOf(join(dir, "work"))).toBeLessThan(targets.indexOf(join(dir, "work", "fixed")));
  });

  it("refuse a writable mount inside an environment or holding one", async () => {
    const inside = await planContainedMounts(input({ workdir: join(dir, "venv") }));
    expect(inside.ok ? "" : inside.error).toMatch(
      /^the working directory: .*venv is writable in the container and overlaps .*venv, environment default \(sys\.prefix\), which must stay read-only/,
    );
    const second = await createVenvWithPip(join(dir, "envs", "second"));
    const holding = await planContainedMounts(input({ mounts: { read_write: [join(dir, "envs")] } }, { environments: { default: python, second } }));
    expect(holding.ok ? "" : holding.error).toMatch(/^upstream\.sandbox\.mounts\.read_write: .* overlaps .*must stay read-only/);
  });

  it("check the real path behind a link: a link to /run is the Docker socket's directory, a link into the state directory is the state", async () => {
    symlinkSync("/run", join(dir, "innocent"));
    symlinkSync(join(dir, "state"), join(dir, "records"));
    const run = await planContainedMounts(input({ mounts: { read_only: [join(dir, "innocent")] } }));
    expect(run.ok ? "" : run.error).toBe(
      `upstream.sandbox.mounts.read_only: /run (the real path of ${join(dir, "innocent")}) holds the Docker engine's socket /run/docker.sock, which would let the upstream control the host`,
    );
    const state = await planContainedMounts(input({ mounts: { read_only: [join(dir, "records")] } }));
    expect(state.ok ? "" : state.error).toMatch(/is inside pipgate's state directory|holds pipgate's state directory/);
  });

  it("fail naming the environment whose interpreter cannot be asked", async () => {
    const plan = await planContainedMounts(input({}, { environments: { ghost: join(dir, "nowhere", "bin", "python") } }));
    expect(plan.ok ? "" : plan.error).toMatch(/^environment ghost: cannot ask .*nowhere\/bin\/python where it lives/);
  });
});

describe("the upstream's own interpreter", () => {
  it("is argv[0] when that names a python: absolute, or found on PATH; never a relative path or another program", () => {
    const bin = join(dir, "bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "python3.11"), "#!/bin/sh\n");
    chmodSync(join(bin, "python3.11"), 0o755);
    expect(upstreamInterpreter(["/opt/venv/bin/python", "-m", "server"])).toBe("/opt/venv/bin/python");
    expect(upstreamInterpreter(["python3.11", "-m", "server"], `/nonexistent:${bin}`)).toBe(join(bin, "python3.11"));
    expect(upstreamInterpreter(["python3", "-m", "server"], bin)).toBeUndefined();
    expect(upstreamInterpreter(["./venv/bin/python", "-m", "server"], bin)).toBeUndefined();
    expect(upstreamInterpreter(["/usr/bin/node", "server.js"], bin)).toBeUndefined();
  });
});
