import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { rawEnvironment, refuseAndAudit, type ServerDeps, type ToolExtra } from "./context.js";

type Handler = (args: unknown, extra: ToolExtra) => unknown;

/**
 * The server as tool files see it, with every handler put behind the admitter (policy action and argument
 * conditions, limits, concurrency, held calls' approvals) — one wrapper instead of a copy in each tool. Tools listed in `selfAdmitting` admit
 * themselves later (install_package does, after validation, so malformed calls cost no quota).
 */
export function guardTools(server: McpServer, deps: ServerDeps, selfAdmitting: readonly string[]): McpServer {
  const admitter = deps.admitter;
  if (admitter === undefined) return server;
  const known = deps.pipeline.environments.names();
  const registerTool = (name: string, config: unknown, handler: Handler) => {
    const guarded: Handler = selfAdmitting.includes(name)
      ? handler
      : async (args, extra) => {
          const identity = deps.identity(extra);
          const environment = rawEnvironment(args, known);
          const admission = admitter.admit(identity, name, environment, args);
          if (!admission.ok) {
            const approval = admission.outcome === "pending" ? { approval: { id: admission.approval.id, expires_at: admission.approval.expiresAt, rule: admission.rule } } : {};
            return refuseAndAudit(deps, { identity, tool: name, environment, outcome: admission.outcome, arguments: args, ...approval }, admission.message);
          }
          try {
            return await handler(args, extra);
          } finally {
            admission.release();
          }
        };
    return (server.registerTool as (name: string, config: unknown, handler: Handler) => unknown)(name, config, guarded);
  };
  return new Proxy(server, {
    get(target, property) {
      if (property === "registerTool") return registerTool;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
