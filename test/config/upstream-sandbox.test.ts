import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { containedSettings, forbiddenMount } from "../../src/config/contained-paths.js";
import { loadConfig } from "../../src/config/load.js";

const dir = mkdtempSync(join(tmpdir(), "pipgate-contained-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
/** A pipgate.yaml with one environment, the given `upstream:` and any further top-level keys. */
function write(upstream: unknown, extra: Record<string, unknown> = {}): string {
  counter += 1;
  const path = join(dir, `${counter}-pipgate.yaml`);
  writeFileSync(path, stringify({ environments: { default: { python: "./venv/bin/python", allowlist: "./allowlist.yaml" } }, upstream, ...extra }));
  return path;
}

function issuesOf(file: string): string[] {
  const loaded = loadConfig(file, {});
  expect(loaded.ok).toBe(false);
  return loaded.ok ? [] : loaded.issues.map((issue) => issue.slice(file.length + 2));
}

const stdio = { command: ["node", "server.js"], cwd: "/srv/upstream-work" };

describe("upstream.sandbox in pipgate.yaml", () => {
  it("is off by default, and true means every default with upstream.cwd as the working directory", () => {
    const off = loadConfig(write(stdio), {});
    expect(off.ok && off.config.upstream?.sandbox).toBe(false);
    expect(off.ok && containedSettings(off.config.upstream)).toBeUndefined();

    const on = loadConfig(write({ ...stdio, sandbox: true }), {});
    if (!on.ok) throw new Error(on.issues.join("\n"));
    expect(containedSettings(on.config.upstream)).toEqual({
      memory_mb: 1024,
      pids: 256,
      cpus: 1,
      tmp_mb: 256,
      workdir: "/srv/upstream-work",
      mounts: { read_only: [], read_write: [] },
    });
  });

  it("takes its own workdir, mounts, python, image, runtime and limits", () => {
    const loaded = loadConfig(
      write({
        command: ["/opt/venv/bin/python", "-m", "mcp_python_interpreter"],
        sandbox: {
          workdir: "/srv/work",
          image: "my-image:1",
          runtime: "runsc",
          memory_mb: 512,
          pids: 64,
          cpus: 0.5,
          tmp_mb: 64,
          python: "/opt/venv/bin/python",
          mounts: { read_only: ["/opt/tools"], read_write: ["/srv/scratch"] },
        },
      }),
      {},
    );
    if (!loaded.ok) throw new Error(loaded.issues.join("\n"));
    expect(containedSettings(loaded.config.upstream)).toMatchObject({
      workdir: "/srv/work",
      image: "my-image:1",
      runtime: "runsc",
      mounts: { read_only: ["/opt/tools"], read_write: ["/srv/scratch"] },
    });
  });

  it("needs a stdio command and a working directory", () => {
    expect(issuesOf(write({ url: "http://127.0.0.1:9/mcp", sandbox: true }))).toEqual([
      "upstream.sandbox: a url upstream runs elsewhere and cannot be contained: sandbox needs command (a stdio server pipgate starts)",
    ]);
    expect(issuesOf(write({ command: ["node", "server.js"], sandbox: { memory_mb: 512 } }))).toEqual([
      "upstream.sandbox: a contained upstream needs a working directory it may write: set upstream.sandbox.workdir or upstream.cwd",
    ]);
  });

  it("refuses an unknown key with the nearest known one", () => {
    expect(issuesOf(write({ ...stdio, sandbox: { memroy_mb: 512, mounts: { read_wrte: [] } } }))).toEqual([
      "upstream.sandbox.mounts.read_wrte: unknown key; did you mean read_write?",
      "upstream.sandbox.memroy_mb: unknown key; did you mean memory_mb?",
    ]);
  });

  it("refuses relative and unnormalised paths", () => {
    const issues = issuesOf(write({ ...stdio, sandbox: { workdir: "work", mounts: { read_only: ["/opt/../etc", "/opt/tools/"] } } }));
    expect(issues).toEqual([
      "upstream.sandbox.workdir: must be an absolute path (mounts appear at their host path inside the container)",
      "upstream.sandbox.mounts.read_only.0: must be normalised: no '.', '..', '//' or trailing '/'",
      "upstream.sandbox.mounts.read_only.1: must be normalised: no '.', '..', '//' or trailing '/'",
    ]);
  });

  it("never mounts the host's root, its kernel trees, the Docker socket or pipgate's state directory", () => {
    const stateDir = join(dir, "state");
    const file = write(
      {
        ...stdio,
        sandbox: {
          mounts: {
            read_only: ["/", "/proc", "/sys/fs/cgroup", "/dev/shm", "/var/run", "/run/docker.sock", "/srv/engine", dir],
            read_write: [join(stateDir, "work")],
          },
        },
      },
      { state_dir: stateDir, sandbox: { docker_socket: "/srv/engine/docker.sock" } },
    );
    expect(issuesOf(file)).toEqual([
      "upstream.sandbox.mounts.read_only.0: / is the host's root: mount the directories the upstream needs instead",
      "upstream.sandbox.mounts.read_only.1: /proc is under /proc, the host's kernel interface, which a contained upstream never sees",
      "upstream.sandbox.mounts.read_only.2: /sys/fs/cgroup is under /sys, the host's kernel interface, which a contained upstream never sees",
      "upstream.sandbox.mounts.read_only.3: /dev/shm is under /dev, the host's kernel interface, which a contained upstream never sees",
      "upstream.sandbox.mounts.read_only.4: /var/run holds the Docker engine's socket /var/run/docker.sock, which would let the upstream control the host",
      "upstream.sandbox.mounts.read_only.5: /run/docker.sock is the Docker engine's socket, which would let the upstream control the host",
      "upstream.sandbox.mounts.read_only.6: /srv/engine holds the Docker engine's socket /srv/engine/docker.sock, which would let the upstream control the host",
      `upstream.sandbox.mounts.read_only.7: ${dir} holds pipgate's state directory ${stateDir} (audit log, grants, approvals)`,
      `upstream.sandbox.mounts.read_write.0: ${join(stateDir, "work")} is inside pipgate's state directory ${stateDir} (audit log, grants, approvals)`,
    ]);
  });

  it("checks upstream.cwd too when it is the working directory, relative to the config file", () => {
    const file = write({ command: ["node", "server.js"], cwd: ".", sandbox: true });
    expect(issuesOf(file)).toEqual([
      `upstream.cwd (the contained upstream's working directory): ${dir} holds pipgate's state directory ${join(dir, ".pipgate")} (audit log, grants, approvals)`,
    ]);
  });

  it("tells a path's own directory from a sibling that shares its prefix", () => {
    const guard = { stateDir: "/srv/state", dockerSocket: "/var/run/docker.sock" };
    expect(forbiddenMount("/srv/state-backup", guard)).toBeUndefined();
    expect(forbiddenMount("/srv/stat", guard)).toBeUndefined();
    expect(forbiddenMount("/device", guard)).toBeUndefined();
    expect(forbiddenMount("/srv", guard)).toMatch(/holds pipgate's state directory/);
  });
});
