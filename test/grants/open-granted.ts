import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { openBroker } from "../../src/broker.js";
import { loadConfig } from "../../src/config/load.js";
import { openAccessControl, serverDepsFor, type AccessControl } from "../../src/grants/wiring.js";
import { silentLogger } from "../../src/log.js";
import { createDockerRunner } from "../../src/sandbox/docker.js";
import { createServer } from "../../src/server/create-server.js";
import { countingRunner } from "../support/in-process.js";

/** A clock a test moves by hand, shared by the broker, the limiter and the approval queue. */
export function manualClock(start: Date = new Date()) {
  let now = start.getTime();
  return { now: () => new Date(now), advance: (ms: number) => (now += ms) };
}

/**
 * The server as `pipgate serve` wires it (policy, grants, limits, approvals), in this process over the
 * SDK's in-memory transport, for one identity. Several may be open on the same configuration at once.
 */
export async function openGranted(configPath: string, options: { identity: string; now?: () => Date }) {
  const loaded = loadConfig(configPath);
  if (!loaded.ok) throw new Error(loaded.issues.join("\n"));
  const log = silentLogger();
  const sandbox = countingRunner(createDockerRunner(loaded.config.sandbox.docker_socket, log));
  const broker = await openBroker(loaded.config, log, { sandbox, ...(options.now === undefined ? {} : { now: options.now }) });
  const opened = openAccessControl(broker, options.now === undefined ? {} : { now: options.now });
  if (!opened.ok) throw new Error(opened.issues.join("\n"));
  const control: AccessControl = opened.control;
  const { server } = createServer(serverDepsFor(broker, control, options.identity));
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: "pipgate-test", version: "1.0.0" });
  await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
  return {
    client,
    broker,
    control,
    sandbox,
    async close() {
      await client.close();
      await server.close();
      broker.close();
    },
  };
}
