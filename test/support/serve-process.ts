import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { execa, type ResultPromise } from "execa";
import { REPO_ROOT } from "./harness.js";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** A real `pipgate serve --http` process from the built CLI, ready when it says it is serving. */
export interface ServeProcess {
  url: string;
  pid: number;
  process: ResultPromise;
  /** Peak resident memory so far (VmHWM), in bytes. */
  peakRss(): number;
  connect(token: string): Promise<Client>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function startServeProcess(configPath: string): Promise<ServeProcess> {
  const port = await freePort();
  const child = execa("node", [join(REPO_ROOT, "dist", "src", "cli", "bin.js"), "serve", "--config", configPath, "--http", `127.0.0.1:${port}`], {
    cwd: REPO_ROOT,
    reject: false,
    env: { PIPGATE_LOG_LEVEL: "info" },
  });
  await new Promise<void>((resolve, reject) => {
    let seen = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      seen += chunk.toString("utf8");
      if (seen.includes("pipgate serving over Streamable HTTP")) resolve();
    });
    void child.then((ended) => reject(new Error(`serve exited early: ${String(ended.stderr)}`)));
  });
  const clients: Client[] = [];
  const pid = child.pid!;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    pid,
    process: child,
    peakRss() {
      const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      return Number(match?.[1] ?? 0) * 1024;
    },
    async connect(token) {
      const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${token}` } },
      });
      const client = new Client({ name: "pipgate-serve-test", version: "1.0.0" });
      await client.connect(transport);
      clients.push(client);
      return client;
    },
    async stop(signal = "SIGTERM") {
      if (signal !== "SIGKILL") await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
      child.kill(signal);
      await child;
    },
  };
}
