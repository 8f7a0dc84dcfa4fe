import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { EnvironmentRuntime } from "../../config/environments.js";
import { defaultEnvironment, environmentRequiredMessage } from "../../validate/tool-arguments.js";
import { refuseAndAudit, type ServerDeps } from "../context.js";
import { refusalOnly } from "../refusal.js";

/** The advertised input of the read-only per-environment tools: the same default (or none) as install_package's. */
export function environmentInputSchema(known: readonly string[]) {
  const fallback = defaultEnvironment(known);
  const schema = z.object({
    environment: z
      .unknown()
      .optional()
      .meta({ type: "string", enum: [...known], ...(fallback === undefined ? {} : { default: fallback }), description: "a configured environment's name" }),
  });
  return fallback === undefined ? schema.meta({ required: ["environment"] }) : schema;
}

/**
 * Resolves the `environment` argument of a read-only tool to a loaded environment the caller may use,
 * or an audited refusal that lists the names it could have used.
 */
export async function environmentFor(
  deps: ServerDeps,
  identity: string,
  tool: string,
  raw: unknown,
): Promise<{ ok: true; env: EnvironmentRuntime } | { ok: false; result: CallToolResult }> {
  const allowed = deps.environmentsFor(identity);
  const value = (typeof raw === "object" && raw !== null ? (raw as Record<string, unknown>).environment : undefined) ?? defaultEnvironment(allowed);
  if (value === undefined) {
    return {
      ok: false,
      result: await refuseAndAudit(deps, { identity, tool, outcome: "invalid", arguments: raw }, environmentRequiredMessage(allowed), {
        kind: "environment",
        field: "environment",
        shape: refusalOnly,
      }),
    };
  }
  if (typeof value !== "string" || !allowed.includes(value)) {
    const message = `environment must name a configured environment you may use: ${allowed.map((name) => JSON.stringify(name)).join(", ") || "none"}.`;
    return {
      ok: false,
      result: await refuseAndAudit(deps, { identity, tool, outcome: "invalid", arguments: raw }, message, {
        kind: "environment",
        field: "environment",
        shape: refusalOnly,
      }),
    };
  }
  const loaded = await deps.pipeline.environments.get(value);
  if (!loaded.ok) {
    return {
      ok: false,
      result: await refuseAndAudit(deps, { identity, tool, environment: value, outcome: "failed", arguments: raw }, loaded.error, {
        shape: (refusal) => ({ environment: value, refusal }),
      }),
    };
  }
  return { ok: true, env: loaded.env };
}
