import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { packageRoot } from "../src/paths.js";

/** A running `pipgate serve` from the build (dist/), with one MCP client on its stdio. */
export interface ServeProcess {
  client: Client;
  /** the serve process itself (node), whose memory P5 reads */
  pid: number;
  stderr(): string;
  close(): Promise<void>;
}

/**
 * Starts the built CLI exactly as an MCP client configuration would — the package's bin, the bundle
 * (`node dist/bundle/pipgate.js serve --config F`) — so the figures include the real stdio framing and
 * process boundary, and the memory of what users run.
 */
export async function startServe(configPath: string, clientName: string): Promise<ServeProcess> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [join(packageRoot(), "dist", "bundle", "pipgate.js"), "serve", "--config", configPath],
    env: { ...(process.env as Record<string, string>), PIPGATE_LOG_LEVEL: "warn" },
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const client = new Client({ name: clientName, version: "1.0.0" });
  await client.connect(transport);
  const pid = transport.pid;
  if (pid === null) {
    await client.close();
    throw new Error("pipgate serve started but reports no pid");
  }
  return { client, pid, stderr: () => stderr, close: () => client.close() };
}

/** The parts of a tool result the bench looks at. */
export interface ToolOutcome {
  isError: boolean;
  text: string;
  structured: Record<string, unknown> | undefined;
}

/** One tool call; a protocol error (not a refusal) comes back as an error outcome with its message. */
export async function callTool(client: Client, name: string, args: Record<string, unknown>): Promise<ToolOutcome> {
  try {
    const result = (await client.callTool({ name, arguments: args }, undefined, { timeout: 600_000 })) as {
      content?: Array<{ text?: string }>;
      isError?: boolean;
      structuredContent?: Record<string, unknown>;
    };
    return {
      isError: result.isError === true,
      text: (result.content ?? []).map((part) => part.text ?? "").join("\n"),
      structured: result.structuredContent,
    };
  } catch (error) {
    return { isError: true, text: `protocol error: ${error instanceof Error ? error.message : String(error)}`, structured: undefined };
  }
}
