import type { LoadedConfig } from "../config/schema.js";
import { PipgateError } from "../errors.js";
import type { Logger } from "../log.js";
import type { StateStore } from "./index.js";

/**
 * Fleet mode's shared stores, when pipgate.yaml has `database:`; undefined without it (each broker then
 * keeps everything in its embedded SQLite file). A database that cannot be opened throws a message
 * naming the server and no credential: serve, install and the CLI print it and exit non-zero. The
 * commit journal and the gateway's tool pins stay in the local SQLite file either way: they describe
 * this machine's environments and upstream processes.
 */
export async function openSharedState(config: LoadedConfig, log: Logger, now?: () => Date): Promise<StateStore | undefined> {
  if (config.database === undefined) return undefined;
  // The driver loads only here: a broker on the embedded store never holds it in memory.
  const { openPgStores } = await import("./postgres/open.js");
  const opened = await openPgStores(config.database, { log, ...(now === undefined ? {} : { now }) });
  if (!opened.ok) throw new PipgateError("database-unavailable", opened.error);
  const stores = opened.value;
  log.debug({ database: stores.pool.display }, "state in the shared database");
  const { audit, rates, slots, approvals, callApprovals, httpCache, resolutions, publishers } = stores;
  return { audit, rates, slots, approvals, callApprovals, httpCache, resolutions, publishers, close: () => stores.close() };
}
