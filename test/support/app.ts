import { openPipgate, type Pipgate } from "../../src/app.js";
import type { BrokerOverrides } from "../../src/broker.js";
import type { LoadedConfig } from "../../src/config/schema.js";
import type { Logger } from "../../src/log.js";

/** pipgate opened from its composition root as serve would, or the reasons it refused, thrown. */
export async function openApp(config: LoadedConfig, log: Logger, overrides: BrokerOverrides = {}): Promise<Pipgate> {
  const opened = await openPipgate(config, log, overrides);
  if (!opened.ok) throw new Error(opened.issues.join("\n"));
  return opened.value;
}
