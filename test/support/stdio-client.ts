import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { REPO_ROOT } from "./harness.js";

/**
 * A real MCP client talking to `pipgate serve` in its own process over stdio. The server runs from the
 * TypeScript sources (through vite-node, which ships with vitest), so tests need no build step.
 */
export async function connectStdio(
  configPath: string,
  env: Record<string, string> = {},
): Promise<{ client: Client; stderr: () => string; close: () => Promise<void> }> {
  const transport = new StdioClientTransport({
    command: join(REPO_ROOT, "node_modules", ".bin", "vite-node"),
    args: [join(REPO_ROOT, "src", "cli", "bin.ts"), "serve", "--config", configPath],
    cwd: REPO_ROOT,
    env: { ...(process.env as Record<string, string>), PIPGATE_LOG_LEVEL: "warn", ...env },
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const client = new Client({ name: "pipgate-test", version: "1.0.0" });
  await client.connect(transport);
  return { client, stderr: () => stderr, close: () => client.close() };
}
