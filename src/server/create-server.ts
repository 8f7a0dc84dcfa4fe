import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { ServerDeps } from "./context.js";
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

/** One MCP server over the given collaborators; the transport is the caller's choice. */
export function createServer(deps: ServerDeps): { server: McpServer; close: () => Promise<void> } {
  const server = new McpServer(SERVER_INFO, { capabilities: { tools: {}, logging: {} }, instructions: INSTRUCTIONS });
  // Every handler is behind admission (server/admitted.ts): wrapped on entry, or install_package's own call after validation.
  registerInstallPackage(server, deps);
  registerCheckPackage(server, deps);
  registerListEnvironments(server, deps);
  registerListInstalledPackages(server, deps);
  registerListAllowedPackages(server, deps);
  if (deps.approvals !== undefined) registerInstallStatus(server, deps, deps.approvals);
  return { server, close: () => server.close() };
}
