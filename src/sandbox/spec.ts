import type { SandboxConfig } from "../config/schema.js";

/** Where things are inside the container. */
export const CONTAINER = {
  runtime: "/opt/pipgate",
  socketDir: "/run/pipgate",
  socket: "/run/pipgate/index.sock",
  out: "/out",
  port: 8765,
  user: "65534:65534",
} as const;

export interface ResolveJob {
  requirement: string; // a validated requirement, e.g. "requests[socks]>=2.31"
  onlyBinary: boolean;
  upgrade: boolean;
  installed: Array<{ name: string; version: string; requires?: string[] }>;
}

export interface ContainerSpec {
  image: string;
  cmd: string[];
  env: string[];
  user: string;
  hostConfig: {
    NetworkMode: "none";
    ReadonlyRootfs: true;
    CapDrop: ["ALL"];
    SecurityOpt: string[];
    PidsLimit: number;
    Memory: number;
    MemorySwap: number;
    NanoCpus: number;
    Tmpfs: Record<string, string>;
    Binds: string[];
    Ulimits: Array<{ Name: string; Soft: number; Hard: number }>;
  };
  labels: Record<string, string>;
}

export interface HostPaths {
  runtimeDir: string; // sandbox/runtime on the host (read-only in the container)
  socketDir: string; // holds the index proxy's socket
  outDir: string; // writable by the sandbox user; untrusted afterwards
}

/**
 * The whole container, as data: no network at all, a read-only root, no capabilities, no privilege
 * gain, an unprivileged user, pids/memory/CPU limits. Its only way out is the proxy's socket.
 */
export function resolveSpec(job: ResolveJob, image: string, limits: SandboxConfig, paths: HostPaths, requestId: string, stateDir: string): ContainerSpec {
  const driverConfig = JSON.stringify({
    requirement: job.requirement,
    index_url: `http://127.0.0.1:${CONTAINER.port}/simple/`,
    only_binary: job.onlyBinary,
    upgrade: job.upgrade,
    installed: job.installed,
  });
  return {
    image,
    cmd: [
      "python3",
      "-I",
      `${CONTAINER.runtime}/forwarder.py`,
      String(CONTAINER.port),
      CONTAINER.socket,
      "--",
      "python3",
      "-I",
      `${CONTAINER.runtime}/driver.py`,
      driverConfig,
    ],
    env: ["HOME=/tmp", "PIP_CONFIG_FILE=/dev/null", "PYTHONDONTWRITEBYTECODE=1", "LANG=C.UTF-8", "TMPDIR=/tmp"],
    user: CONTAINER.user,
    hostConfig: {
      NetworkMode: "none",
      ReadonlyRootfs: true,
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      PidsLimit: limits.pids,
      Memory: limits.memory_mb * 1024 * 1024,
      MemorySwap: limits.memory_mb * 1024 * 1024,
      NanoCpus: Math.round(limits.cpus * 1e9),
      Tmpfs: { "/tmp": "rw,exec,nosuid,nodev,size=1024m,mode=1777" },
      Binds: [`${paths.runtimeDir}:${CONTAINER.runtime}:ro`, `${paths.socketDir}:${CONTAINER.socketDir}:rw`, `${paths.outDir}:${CONTAINER.out}:rw`],
      Ulimits: [{ Name: "nofile", Soft: 1024, Hard: 1024 }],
    },
    // Which broker (by its state directory) started a container, and for which request: for operators and tests.
    labels: { "org.pipgate.request": requestId, "org.pipgate.role": "resolve", "org.pipgate.state-dir": stateDir },
  };
}

/** "3.11.7" → "3.11": what a sandbox image and its target environment must share. */
export function pythonMinor(pythonVersion: string): string {
  return pythonVersion.split(".").slice(0, 2).join(".");
}

/** The image for an interpreter: pipgate-sandbox:py3.X unless the configuration names one. */
export function imageFor(pythonVersion: string, configured: string | undefined): string {
  return configured ?? `pipgate-sandbox:py${pythonMinor(pythonVersion)}`;
}

/** A progress line from the driver: `@@pipgate {json}`. */
export function parseDriverEvent(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith("@@pipgate ")) return undefined;
  try {
    const value: unknown = JSON.parse(line.slice("@@pipgate ".length));
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
