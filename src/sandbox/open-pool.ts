import { tmpdir } from "node:os";
import type { Environments } from "../config/environments.js";
import type { LoadedConfig } from "../config/schema.js";
import type { Logger } from "../log.js";
import { runtimeDir } from "../paths.js";
import { currentProcess, processTag } from "../state/process.js";
import type { SandboxRunner } from "./docker.js";
import { withPool, type PooledRunner } from "./pool.js";
import { imageFor, poolSpec, REAP_GRACE_MS } from "./spec.js";

/**
 * The broker's warm pool (sandbox.pool): `runner` with single-use containers made ahead, from the same
 * configuration every request's container is made from, and filled at once for the images the
 * environments need (their Python is probed in the background: opening the broker does not wait).
 */
export async function openPool(
  runner: SandboxRunner,
  config: LoadedConfig,
  environments: Environments,
  log: Logger,
  /** the prefix of the entries' socket directories in the temporary directory: start-up sweeps a dead broker's */
  socketPrefix: string,
): Promise<PooledRunner> {
  const broker = await currentProcess();
  const { pool: settings } = config.sandbox;
  const pooled = withPool(
    runner,
    config.sandbox.docker_socket,
    {
      size: settings.size,
      idleSeconds: settings.idle_seconds,
      lifetimeMs: config.sandbox.timeout_max * 1000 + REAP_GRACE_MS,
      socketRoot: tmpdir(),
      socketPrefix,
      template: (image, socketDir, deadline) =>
        poolSpec(
          image,
          config.sandbox,
          { runtimeDir: runtimeDir(), socketDir },
          { stateDir: config.state_dir, broker: processTag(broker), host: broker.host, deadline },
          settings.idle_seconds,
        ),
    },
    log,
  );
  const warming = (async () => {
    const images = new Set<string>();
    for (const name of environments.names()) {
      const env = await environments.get(name);
      if (env.ok) images.add(imageFor(env.env.pythonVersion, config.sandbox.image));
    }
    pooled.warm([...images]);
  })().catch(() => undefined);
  return {
    ...pooled,
    ready: async () => {
      await warming;
      await pooled.ready();
    },
  };
}
