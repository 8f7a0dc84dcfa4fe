import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { loadConfig } from "../../src/config/load.js";
import { openPipgate } from "../../src/app.js";
import { silentLogger } from "../../src/log.js";
import { createDockerRunner, type SandboxRunner } from "../../src/sandbox/docker.js";
import { createServer } from "../../src/server/create-server.js";

export type ToolResult = { content: Array<{ type: string; text?: string }>; structuredContent?: Record<string, unknown>; isError?: boolean };

export function resultText(result: unknown): string {
  return (result as ToolResult).content.map((part) => part.text ?? "").join("\n");
}

/** Wraps the real Docker runner and counts the containers it starts. */
export function countingRunner(inner: SandboxRunner): SandboxRunner & { launches: number } {
  const runner = {
    launches: 0,
    run: (...args: Parameters<SandboxRunner["run"]>) => {
      runner.launches += 1;
      return inner.run(...args);
    },
    imagePython: (image: string) => inner.imagePython(image),
    ping: () => inner.ping(),
    runtimes: () => inner.runtimes(),
    ...(inner.claim === undefined ? {} : { claim: inner.claim.bind(inner) }),
    ...(inner.close === undefined ? {} : { close: inner.close.bind(inner) }),
  };
  return runner;
}

/**
 * The server as `pipgate serve` wires it (policy, grants, limits, approvals), in this process over the
 * SDK's in-memory transport, with a real client: what tests use when they need to look inside (count
 * launches, read the audit log) while talking MCP. Several may be open on one configuration at once.
 */
export async function openInProcess(configPath: string, options: { identity?: string; now?: () => Date } = {}) {
  const loaded = loadConfig(configPath);
  if (!loaded.ok) throw new Error(loaded.issues.join("\n"));
  const log = silentLogger();
  const sandbox = countingRunner(createDockerRunner(loaded.config.sandbox.docker_socket, log));
  const clock = options.now === undefined ? {} : { now: options.now };
  const opened = await openPipgate(loaded.config, log, { sandbox, ...clock });
  if (!opened.ok) throw new Error(opened.issues.join("\n"));
  const app = opened.value;
  const { broker, control } = app;
  const { server } = createServer(app.serverDeps(options.identity ?? loaded.config.identity));
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
      // Store entries of cold wheels are made in the background after their commit: let them finish, so
      // removing the workspace does not race a build still writing into its state directory.
      await broker.storeBuilder?.idle();
      app.close();
    },
  };
}
