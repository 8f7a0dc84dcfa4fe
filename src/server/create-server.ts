import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult, type ServerCapabilities, type Tool } from "@modelcontextprotocol/sdk/types.js";
import type { ServerDeps, ToolExtra } from "./context.js";
import { createToolTable, type ToolTable } from "./tool-table.js";
import { registerCheckPackage } from "./tools/check-package.js";
import { registerInstallPackage } from "./tools/install-package.js";
import { registerInstallStatus } from "./tools/install-status.js";
import { registerListAllowedPackages } from "./tools/list-allowed-packages.js";
import { registerListEnvironments } from "./tools/list-environments.js";
import { registerListInstalledPackages } from "./tools/list-installed-packages.js";

export const SERVER_INFO = { name: "pipgate", version: "0.1.0" } as const;

const INSTRUCTIONS =
  "pipgate installs Python packages into configured environments after checking them against an allowlist " +
  "and the package index's metadata, and building them in a network-less sandbox. Call list_environments and " +
  "list_allowed_packages to see what you may install, check_package to see a decision without installing, then " +
  "install_package. A refusal tells you what is allowed instead; do not retry the same request unchanged.";

/**
 * What a server serves beside pipgate's own tools: in gateway mode, the upstream's (server/ knows it only
 * by this shape; gateway/ builds it). Everything it answers has passed admission there.
 */
export interface ServerExtension {
  /** further capabilities (resources, prompts) the extension answers, with its handlers on `server` */
  capabilities: ServerCapabilities;
  instructions: string | undefined;
  /** pipgate's own tools the extension serves instead (never install_package) */
  replaces: readonly string[];
  listTools(extra: ToolExtra): Promise<Tool[]>;
  /** the call's result, or undefined when `name` is not the extension's */
  callTool(name: string, args: unknown, extra: ToolExtra): Promise<CallToolResult | undefined>;
  /** registers its further handlers (resources, prompts) and notification forwarding on the server */
  attach(server: Server): void;
  close(): Promise<void>;
}

/** pipgate's own tools, every handler behind admission (server/admitted.ts), install_package on the request path. */
export function ownTools(deps: ServerDeps): ToolTable {
  const tools = createToolTable();
  registerInstallPackage(tools, deps);
  registerCheckPackage(tools, deps);
  registerListEnvironments(tools, deps);
  registerListInstalledPackages(tools, deps);
  registerListAllowedPackages(tools, deps);
  if (deps.approvals !== undefined) registerInstallStatus(tools, deps, deps.approvals);
  return tools;
}

/** One MCP server over the given collaborators, with an extension's tools beside its own; the transport is the caller's choice. */
export function createServer(deps: ServerDeps, extension?: ServerExtension): { server: Server; close: () => Promise<void> } {
  const instructions =
    extension?.instructions === undefined
      ? INSTRUCTIONS
      : `${INSTRUCTIONS}\n\nThe other tools are the upstream server's, as pipgate's policy allows them:\n${extension.instructions}`;
  const server = new Server(SERVER_INFO, {
    capabilities: { tools: { listChanged: true }, logging: {}, ...extension?.capabilities },
    instructions,
  });
  // this session's client, for an in-client confirmation of a queued set (approval policy's elicitation)
  const own = ownTools({
    ...deps,
    inClient: {
      canElicit: () => server.getClientCapabilities()?.elicitation?.form !== undefined,
      elicit: (params, signal) => server.elicitInput(params, signal === undefined ? {} : { signal }),
    },
  });
  const replaced = new Set(extension?.replaces ?? []);
  const ownServes = (name: string) => own.has(name) && !replaced.has(name);
  server.setRequestHandler(ListToolsRequestSchema, async (_request, extra) => {
    // a tool the policy refuses every call of (under "default": "deny", one it does not name) is not listed either
    const identity = deps.identity(extra);
    const listable = (name: string) => deps.admitter?.listable(identity, name) ?? true;
    const mine = own.definitions().filter((tool) => ownServes(tool.name) && listable(tool.name));
    const theirs = extension === undefined ? [] : (await extension.listTools(extra)).filter((tool) => !ownServes(tool.name));
    return { tools: [...mine, ...theirs] };
  });
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const { name, arguments: args } = request.params;
    if (ownServes(name) || extension === undefined) return own.call(name, args, extra);
    return (await extension.callTool(name, args, extra)) ?? { content: [{ type: "text", text: `Tool ${name} not found` }], isError: true };
  });
  extension?.attach(server);
  return {
    server,
    close: async () => {
      await server.close();
      await extension?.close();
    },
  };
}
