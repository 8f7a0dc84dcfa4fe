import { LABELS } from "./reaper.js";
import { isolatedHostConfig, type IsolatedHostConfig } from "./spec.js";

/** A host path at the same path inside the container. */
export interface SpecMount {
  source: string;
  target: string;
  readOnly: boolean;
}

export interface UpstreamContainerInput {
  image: string;
  runtime: "runc" | "runsc";
  argv: readonly string[];
  env: Readonly<Record<string, string>>;
  /** "uid:gid" the upstream runs as. */
  user: string;
  workdir: string;
  mounts: readonly SpecMount[];
  limits: { memory_mb: number; pids: number; cpus: number; tmp_mb: number };
  /** The broker that owns the container (what the reaper checks): its state directory, process tag and host. */
  owner: { stateDir: string; broker: string; host: string };
}

/** What the Docker adapter creates for a contained upstream: the container, as data. */
export interface UpstreamContainerSpec {
  image: string;
  cmd: string[];
  env: string[];
  user: string;
  workingDir: string;
  labels: Record<string, string>;
  hostConfig: IsolatedHostConfig & {
    Tmpfs: Record<string, string>;
    Mounts: Array<{ Type: "bind"; Source: string; Target: string; ReadOnly: boolean; BindOptions: { Propagation: "rprivate"; NonRecursive: true } }>;
  };
}

/** The role label of an upstream's container (a build's is "resolve"). */
export const UPSTREAM_ROLE = "upstream";

/**
 * A contained upstream's container: the build sandbox's confinement (no network at all, read-only root,
 * no capabilities, no privilege gain, pids/memory/CPU limits, no engine log) with the host paths it may
 * see bind-mounted at their own paths. Mounts are non-recursive: whatever is mounted below a host path
 * on the host stays out (Docker's read-only flag would not reach it). It carries the broker's labels
 * but no deadline: it lives as long as its client session, and the reaper removes it once that broker
 * is gone.
 */
export function upstreamContainerSpec(input: UpstreamContainerInput): UpstreamContainerSpec {
  return {
    image: input.image,
    cmd: [...input.argv],
    env: Object.entries(input.env).map(([key, value]) => `${key}=${value}`),
    user: input.user,
    workingDir: input.workdir,
    labels: {
      [LABELS.role]: UPSTREAM_ROLE,
      [LABELS.request]: "",
      [LABELS.stateDir]: input.owner.stateDir,
      [LABELS.broker]: input.owner.broker,
      [LABELS.host]: input.owner.host,
    },
    hostConfig: {
      ...isolatedHostConfig({ ...input.limits, runtime: input.runtime }),
      Tmpfs: { "/tmp": `rw,nosuid,nodev,size=${input.limits.tmp_mb}m,mode=1777` },
      Mounts: input.mounts.map((mount) => ({
        Type: "bind",
        Source: mount.source,
        Target: mount.target,
        ReadOnly: mount.readOnly,
        BindOptions: { Propagation: "rprivate", NonRecursive: true },
      })),
    },
  };
}
