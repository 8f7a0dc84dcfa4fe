import type { SandboxConfig } from "../config/schema.js";
import { LABELS } from "./reaper.js";

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

/** What every pipgate container shares, a build's or a contained upstream's: the isolation itself. */
export interface IsolatedHostConfig {
  NetworkMode: "none";
  ReadonlyRootfs: true;
  CapDrop: ["ALL"];
  SecurityOpt: string[];
  PidsLimit: number;
  Memory: number;
  MemorySwap: number;
  NanoCpus: number;
  Ulimits: Array<{ Name: string; Soft: number; Hard: number }>;
  LogConfig: { Type: "none"; Config: Record<string, never> };
  Runtime: "runc" | "runsc";
}

/**
 * No network, a read-only root, no capabilities, no new privileges, the limits, and the engine's log
 * off (it would otherwise copy everything the container prints into a file on the host's disk).
 */
export function isolatedHostConfig(limits: { pids: number; memory_mb: number; cpus: number; runtime: "runc" | "runsc" }): IsolatedHostConfig {
  const memory = limits.memory_mb * 1024 * 1024;
  return {
    NetworkMode: "none",
    ReadonlyRootfs: true,
    CapDrop: ["ALL"],
    SecurityOpt: ["no-new-privileges"],
    PidsLimit: limits.pids,
    Memory: memory,
    MemorySwap: memory,
    NanoCpus: Math.round(limits.cpus * 1e9),
    Ulimits: [{ Name: "nofile", Soft: 1024, Hard: 1024 }],
    LogConfig: { Type: "none", Config: {} },
    Runtime: limits.runtime,
  };
}

export interface ContainerSpec {
  image: string;
  cmd: string[];
  env: string[];
  user: string;
  hostConfig: IsolatedHostConfig & { Tmpfs: Record<string, string>; Binds: string[] };
  labels: Record<string, string>;
}

export interface HostPaths {
  runtimeDir: string; // sandbox/runtime on the host (read-only in the container)
  socketDir: string; // holds the index proxy's socket (read-only in the container: connect needs no write)
}

/** Who started a container and until when it may run: what the reaper reads after a crash. */
export interface RunLabels {
  requestId: string;
  stateDir: string;
  /** The broker process, as processTag writes it. */
  broker: string;
  host: string;
  /** Milliseconds since the epoch after which the container is killed whoever started it. */
  deadline: number;
}

/** Time past the request's own timeout before the reaper steps in for a broker that did not. */
export const REAP_GRACE_MS = 60_000;

/** What every build container is started with, pooled or not: the environment its processes see. */
export const BUILD_ENV = ["HOME=/tmp", "PIP_CONFIG_FILE=/dev/null", "PYTHONDONTWRITEBYTECODE=1", "LANG=C.UTF-8", "TMPDIR=/tmp"] as const;

/**
 * A build container's host configuration: the isolation, its two tmpfs and its two read-only binds.
 * The only per-request part is `paths.socketDir`, a private directory holding that request's proxy
 * socket; everything else comes from the configuration, so a pooled container made from the same
 * inputs is the same container a request would have been given (src/sandbox/pool.ts checks it).
 */
export function buildHostConfig(limits: SandboxConfig, paths: HostPaths): ContainerSpec["hostConfig"] {
  return {
    ...isolatedHostConfig(limits),
    Tmpfs: {
      "/tmp": "rw,exec,nosuid,nodev,size=1024m,mode=1777",
      [CONTAINER.out]: `rw,noexec,nosuid,nodev,size=${limits.out_max_mb}m,mode=1777`,
    },
    Binds: [`${paths.runtimeDir}:${CONTAINER.runtime}:ro`, `${paths.socketDir}:${CONTAINER.socketDir}:ro`],
  };
}

/**
 * The whole container, as data: no network at all, a read-only root, no capabilities, no privilege
 * gain, an unprivileged user, pids/memory/CPU limits, no log kept by the engine. Nothing of the host is
 * writable in it: /out and /tmp are size-limited tmpfs, and what the build hands back goes out through
 * the proxy's socket, the only way out, to pipgate's bounded output sink.
 */
export function resolveSpec(job: ResolveJob, image: string, limits: SandboxConfig, paths: HostPaths, run: RunLabels, timeoutSeconds: number): ContainerSpec {
  const driverConfig = JSON.stringify({
    requirement: job.requirement,
    index_url: `http://127.0.0.1:${CONTAINER.port}/simple/`,
    upload_url: `http://127.0.0.1:${CONTAINER.port}/_pipgate/out/`,
    max_wheel_bytes: limits.max_wheel_mb * 1024 * 1024,
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
      // The container ends itself at its timeout too, should the broker that would kill it be gone.
      `--deadline=${timeoutSeconds + 5}`,
      "--",
      "python3",
      "-I",
      `${CONTAINER.runtime}/driver.py`,
      driverConfig,
    ],
    env: [...BUILD_ENV],
    user: CONTAINER.user,
    hostConfig: buildHostConfig(limits, paths),
    // Which broker started a container, for which request, and until when: the reaper's whole input.
    labels: {
      [LABELS.request]: run.requestId,
      [LABELS.role]: "resolve",
      [LABELS.stateDir]: run.stateDir,
      [LABELS.broker]: run.broker,
      [LABELS.host]: run.host,
      [LABELS.deadline]: String(run.deadline),
    },
  };
}

/** Who made a pooled container and until when it may exist at all, idle or handed out. */
export type PoolLabels = Omit<RunLabels, "requestId">;

/**
 * A pooled build container: the same image, environment, user and host configuration as resolveSpec's
 * (socketDir is the pool entry's own private directory), but its command waits, started, for one
 * request on its stdin (sandbox/runtime/pooled.py) and ends itself after `idleSeconds` without one.
 * Labelled role "pool" with its broker and a deadline, so the reaper removes a dead broker's pool.
 */
export function poolSpec(image: string, limits: SandboxConfig, paths: HostPaths, labels: PoolLabels, idleSeconds: number): ContainerSpec {
  return {
    image,
    cmd: ["python3", "-I", `${CONTAINER.runtime}/pooled.py`, `--idle=${idleSeconds}`],
    env: [...BUILD_ENV],
    user: CONTAINER.user,
    hostConfig: buildHostConfig(limits, paths),
    labels: {
      [LABELS.request]: "",
      [LABELS.role]: "pool",
      [LABELS.stateDir]: labels.stateDir,
      [LABELS.broker]: labels.broker,
      [LABELS.host]: labels.host,
      [LABELS.deadline]: String(labels.deadline),
    },
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
