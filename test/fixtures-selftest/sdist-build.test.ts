// Sdists are built only inside the sandbox image (Debian's setuptools wheel does not build on the host's
// python), exactly as pipgate builds them: a network-less container that reaches the fixture index through
// a bind-mounted unix socket and the image's forwarder.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildSdist } from "../fixtures/dists.js";
import { forkBombSdist, HOSTILE_MARKER, hostWriteSdist, networkSdist, sleepForeverSdist } from "../fixtures/hostile.js";
import { startIndexServer, type IndexServer } from "../fixtures/index-server.js";

const IMAGE = "pipgate-sandbox:py3.11";
const SOCKET_IN_CONTAINER = "/run/pipgate-index.sock";

interface ContainerRun {
  exitCode: number;
  output: string;
  /** Whether the run was stopped because `until` appeared in its output. */
  stopped: boolean;
}

describe("sdists from the fixture index build in the sandbox image", () => {
  let index: IndexServer;
  let dir: string;
  const names: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pipgate-sdist-"));
    const release = (name: string, dist: ReturnType<typeof buildSdist>) => ({ name, releases: [{ version: "1.0", dists: [dist] }] });
    index = await startIndexServer({
      socketPath: join(dir, "index.sock"),
      projects: [
        release("demo-sd", buildSdist({ name: "demo-sd", version: "1.0", entryPoints: { "demo-sd": "demo_sd:main" } })),
        release("net-probe", networkSdist("net-probe")),
        release("host-writer", hostWriteSdist("host-writer", "pipgate-selftest-marker")),
        release("sleeper", sleepForeverSdist("sleeper")),
        release("fork-bomb", forkBombSdist("fork-bomb")),
      ],
    });
  });
  afterAll(async () => {
    await Promise.all(names.map((name) => execa("docker", ["rm", "-f", name], { reject: false })));
    await index.close();
    await rm(dir, { recursive: true, force: true });
  });

  // Runs a shell script in a locked-down container; with `until`, stops the container once that text appears.
  async function inSandbox(script: string, until?: string): Promise<ContainerRun> {
    const name = `pipgate-fixture-selftest-${process.pid}-${names.length}`;
    names.push(name);
    const port = new URL(index.origin).port;
    const child = execa(
      "docker",
      [
        "run",
        "--rm",
        "--name",
        name,
        "--network",
        "none",
        "--read-only",
        "--tmpfs",
        "/tmp:rw,size=256m",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--user",
        "65534:65534",
        "--pids-limit",
        "64",
        "--memory",
        "512m",
        "-v",
        `${index.socketPath}:${SOCKET_IN_CONTAINER}`,
        "-e",
        "HOME=/tmp",
        "-e",
        "PIP_CONFIG_FILE=/dev/null",
        "-e",
        `INDEX=http://127.0.0.1:${port}/simple/`,
        IMAGE,
        // The forwarder listens on the index's own port number, so the index's absolute file URLs work inside.
        "python3",
        "/opt/pipgate/forwarder.py",
        port,
        SOCKET_IN_CONTAINER,
        "--",
        "sh",
        "-c",
        script,
      ],
      { reject: false, all: true, stdin: "ignore", buffer: true },
    );
    let stopped = false;
    if (until !== undefined) {
      let seen = "";
      child.all?.on("data", (chunk: Buffer) => {
        seen += chunk.toString();
        if (!stopped && seen.includes(until)) {
          stopped = true;
          void execa("docker", ["rm", "-f", name], { reject: false });
        }
      });
    }
    const result = await child;
    return { exitCode: result.exitCode ?? -1, output: result.all ?? "", stopped };
  }

  const PIP = 'python3 -m pip install -v --isolated --disable-pip-version-check --no-cache-dir --index-url "$INDEX" --target /tmp/t';

  // One pip run builds the plain sdist and the two hostile ones that finish: containers are the slow part.
  let builds: Promise<ContainerRun> | undefined;
  const buildAll = () =>
    (builds ??= inSandbox(`${PIP} demo-sd net-probe host-writer && PYTHONPATH=/tmp/t python3 -c 'import demo_sd; print("version", demo_sd.__version__)'`));

  it("builds and installs a plain sdist, fetching setuptools and wheel from the index for the isolated build", async () => {
    const run = await buildAll();
    expect(run.output).toContain("Successfully built demo-sd");
    expect(run.output).toContain("version 1.0");
    expect(run.exitCode).toBe(0);
    const paths = index.requests.map((request) => request.path);
    for (const path of ["/simple/demo-sd/", "/simple/setuptools/", "/simple/wheel/", "/files/demo_sd-1.0.tar.gz"]) {
      expect(paths).toContain(path);
    }
    expect(paths.some((path) => /^\/files\/setuptools-.*\.whl$/.test(path))).toBe(true);
  });

  it("hostile builds start, attempt what they were made for, and fail to reach anything", async () => {
    const { output } = await buildAll();
    expect(output).toMatch(new RegExp(`${HOSTILE_MARKER} network connect 127\\.0\\.0\\.1:80 failed`));
    expect(output).toMatch(new RegExp(`${HOSTILE_MARKER} network connect 10\\.255\\.255\\.1:80 failed`));
    expect(output).toContain(`${HOSTILE_MARKER} network urlopen failed`);
    // Nothing stops the builds themselves: they go on to a normal setup().
    expect(output).toMatch(/Successfully built .*net-probe/);
    expect(output).toMatch(/Successfully built .*host-writer/);

    expect(output).toContain(`${HOSTILE_MARKER} host write /root/pipgate-selftest-marker failed`);
    expect(output).toContain(`${HOSTILE_MARKER} host write /work/pipgate-selftest-marker failed`);
    // /tmp is the container's own tmpfs: the write lands there, and vanishes with the container.
    expect(output).toContain(`${HOSTILE_MARKER} host write /tmp/pipgate-selftest-marker ok`);
    expect(output).toMatch(/host write \/usr\/[^ ]*-packages\/pipgate-selftest-marker failed/);
  });

  it("sleep-forever and fork-bomb builds start and only stop when the container is removed", async () => {
    const [sleeper, bomb] = await Promise.all([
      inSandbox(`${PIP} sleeper`, `${HOSTILE_MARKER} sleeping forever`),
      inSandbox(`${PIP} fork-bomb`, `${HOSTILE_MARKER} fork bomb starting`),
    ]);
    expect(sleeper.stopped).toBe(true);
    expect(sleeper.output).not.toContain("Successfully built");
    expect(bomb.stopped).toBe(true);
    expect(bomb.output).not.toContain("Successfully built");
    // The host is still answering.
    expect((await fetch(index.url)).status).toBe(200);
  });
});
