import type { Result } from "../errors.js";
import type { Logger } from "../log.js";
import { loadAllowlist, type Allowlist } from "./allowlist.js";
import { fileFingerprint } from "./file-fingerprint.js";
import { pythonVersion } from "./python.js";
import type { EnvironmentConfig, LoadedConfig } from "./schema.js";

export interface EnvironmentRuntime {
  name: string;
  python: string;
  pythonVersion: string;
  description: string | undefined;
  allowlistPath: string;
  allowlist: Allowlist;
}

export type EnvironmentResult = { ok: true; env: EnvironmentRuntime } | { ok: false; error: string };

/** The last allowlist load of an environment, good or bad, for `doctor` and the logs. */
export interface AllowlistStatus {
  environment: string;
  path: string;
  loadedAt: Date | undefined;
  error: string | undefined;
}

export interface Environments {
  names(): string[];
  config(name: string): EnvironmentConfig | undefined;
  /** The environment with its current allowlist: reloaded when the file changed, last good kept on error. */
  get(name: string): Promise<EnvironmentResult>;
  status(): AllowlistStatus[];
}

interface Slot {
  fingerprint: string;
  allowlist: Allowlist | undefined;
  loadedAt: Date | undefined;
  error: string | undefined;
  pythonVersion: string | undefined;
  /** the interpreter's version being asked for: concurrent first uses share one probe */
  probing: Promise<Result<string>> | undefined;
}

/**
 * Allowlists are files under version control that maintainers edit while the server runs: each use
 * checks the file's inode, mtime and size, reloads on change, and keeps the last good version in force when an
 * edit does not parse (fail closed only when there never was a good one).
 */
export function createEnvironments(config: LoadedConfig, log: Logger): Environments {
  const slots = new Map<string, Slot>();

  function refresh(name: string, env: EnvironmentConfig): Slot {
    let slot = slots.get(name);
    if (slot === undefined) {
      slot = { fingerprint: "", allowlist: undefined, loadedAt: undefined, error: undefined, pythonVersion: undefined, probing: undefined };
      slots.set(name, slot);
    }
    const fingerprint = fileFingerprint(env.allowlist);
    if (fingerprint === "missing") {
      slot.error = `allowlist ${env.allowlist} cannot be read`;
      return slot;
    }
    if (fingerprint === slot.fingerprint) return slot;
    slot.fingerprint = fingerprint;
    const loaded = loadAllowlist(env.allowlist, config.rules, { indexes: Object.keys(config.indexes) });
    if (loaded.ok) {
      if (slot.allowlist !== undefined) log.info({ environment: name, path: env.allowlist }, "allowlist reloaded");
      slot.allowlist = loaded.allowlist;
      slot.loadedAt = new Date();
      slot.error = undefined;
    } else {
      slot.error = loaded.issues.join("; ");
      log.error(
        { environment: name, path: env.allowlist, issues: loaded.issues },
        slot.allowlist === undefined ? "allowlist invalid; environment refuses every install" : "allowlist edit invalid; the last good version stays in force",
      );
    }
    return slot;
  }

  return {
    names: () => Object.keys(config.environments),
    config: (name) => (Object.hasOwn(config.environments, name) ? config.environments[name] : undefined),
    async get(name) {
      const env = Object.hasOwn(config.environments, name) ? config.environments[name] : undefined;
      if (env === undefined) return { ok: false, error: `no environment named ${JSON.stringify(name)}` };
      const slot = refresh(name, env);
      if (slot.allowlist === undefined) return { ok: false, error: `environment ${name} has no usable allowlist: ${slot.error ?? "unknown error"}` };
      let version = slot.pythonVersion;
      if (version === undefined) {
        const current = slot;
        current.probing ??= pythonVersion(env.python).finally(() => {
          current.probing = undefined;
        });
        const probed = await current.probing;
        if (!probed.ok) return { ok: false, error: probed.error };
        current.pythonVersion = version = probed.value;
      }
      return {
        ok: true,
        env: {
          name,
          python: env.python,
          pythonVersion: version,
          description: env.description,
          allowlistPath: env.allowlist,
          allowlist: slot.allowlist,
        },
      };
    },
    status: () =>
      Object.entries(config.environments).map(([name, env]) => {
        const slot = refresh(name, env);
        return { environment: name, path: env.allowlist, loadedAt: slot.loadedAt, error: slot.error };
      }),
  };
}
