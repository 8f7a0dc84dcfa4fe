import { sep } from "node:path";
import { UpstreamSandboxSchema, type UpstreamConfig, type UpstreamSandboxConfig } from "./upstream-schema.js";

/** The Docker engine's usual sockets: never visible to a contained upstream, whatever sandbox.docker_socket says. */
export const DOCKER_SOCKETS = ["/var/run/docker.sock", "/run/docker.sock"] as const;

/** Host trees that are never mounted into a contained upstream: the host's kernel interfaces and devices. */
const KERNEL_TREES = ["/proc", "/sys", "/dev"] as const;

/** What a mount must never reach: the engine that could start a privileged container, and pipgate's own state. */
export interface MountGuard {
  stateDir: string;
  dockerSocket: string;
}

/** `upstream.sandbox` with its defaults applied and the working directory settled (the key or upstream.cwd). */
export type ContainedSettings = UpstreamSandboxConfig & { workdir: string };

/** Whether `inner` is `outer` or lies below it (both absolute and normalised). */
export function within(inner: string, outer: string): boolean {
  if (outer === "/") return true;
  return inner === outer || inner.startsWith(outer.endsWith(sep) ? outer : outer + sep);
}

/**
 * Why a host path may not be mounted into a contained upstream, or undefined when it may. `/` and the
 * kernel's trees would hand it the host; a directory holding the Docker socket would hand it the engine
 * (a container of its choosing, with the host's root mounted); the state directory holds the audit
 * chain, grants and approvals it must not read or forge. Parents and children of the state directory
 * count, since either mount exposes it or a part of it.
 */
export function forbiddenMount(path: string, guard: MountGuard): string | undefined {
  if (path === "/") return "is the host's root: mount the directories the upstream needs instead";
  const kernel = KERNEL_TREES.find((tree) => within(path, tree));
  if (kernel !== undefined) return `is under ${kernel}, the host's kernel interface, which a contained upstream never sees`;
  for (const socket of new Set([guard.dockerSocket, ...DOCKER_SOCKETS])) {
    if (within(socket, path))
      return path === socket
        ? "is the Docker engine's socket, which would let the upstream control the host"
        : `holds the Docker engine's socket ${socket}, which would let the upstream control the host`;
  }
  if (within(path, guard.stateDir)) return `is inside pipgate's state directory ${guard.stateDir} (audit log, grants, approvals)`;
  if (within(guard.stateDir, path)) return `holds pipgate's state directory ${guard.stateDir} (audit log, grants, approvals)`;
  return undefined;
}

/** The contained upstream's settings, or undefined for an uncontained (or HTTP) upstream. */
export function containedSettings(upstream: UpstreamConfig | undefined): ContainedSettings | undefined {
  if (upstream === undefined || upstream.command === undefined || upstream.sandbox === false) return undefined;
  const settings = upstream.sandbox === true ? UpstreamSandboxSchema.parse({}) : upstream.sandbox;
  const workdir = settings.workdir ?? upstream.cwd;
  // The schema refuses a contained upstream with neither: this is unreachable for a loaded configuration.
  if (workdir === undefined) return undefined;
  return { ...settings, workdir };
}

/**
 * One `path: message` line per configured path of `upstream.sandbox` that may not be mounted. Checked
 * when the configuration loads; the mounts computed from the interpreters, and the real paths behind
 * every link, are checked again when the container is planned.
 */
export function containedPathIssues(upstream: UpstreamConfig | undefined, guard: MountGuard, prefix = ""): string[] {
  const settings = containedSettings(upstream);
  if (settings === undefined) return [];
  const fromCwd = upstream?.sandbox === true || (typeof upstream?.sandbox === "object" && upstream.sandbox.workdir === undefined);
  const checks: Array<[string, string]> = [
    [fromCwd ? "upstream.cwd (the contained upstream's working directory)" : "upstream.sandbox.workdir", settings.workdir],
    ...settings.mounts.read_only.map((path, i): [string, string] => [`upstream.sandbox.mounts.read_only.${i}`, path]),
    ...settings.mounts.read_write.map((path, i): [string, string] => [`upstream.sandbox.mounts.read_write.${i}`, path]),
    ...(settings.python === undefined ? [] : [["upstream.sandbox.python", settings.python] as [string, string]]),
  ];
  const issues: string[] = [];
  for (const [where, path] of checks) {
    const why = forbiddenMount(path, guard);
    if (why !== undefined) issues.push(`${prefix}${where}: ${path} ${why}`);
  }
  return issues;
}
