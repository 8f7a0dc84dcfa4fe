import type { ToolRegistry } from "../tool-table.js";
import { z } from "zod";
import { structuredResult, type ServerDeps, type ToolExtra } from "../context.js";
import { admitted } from "../admitted.js";
import { environmentFor, environmentInputSchema } from "./environment-argument.js";

export const AllowedOutputSchema = z.object({
  environment: z.string(),
  packages: z.array(z.object({ name: z.string(), specifier: z.string().describe('PEP 440 specifier set; "*" for any version') })),
  denied: z.array(z.string()),
  rules: z.record(z.string(), z.unknown()).describe("the metadata rules in force"),
});

/** list_allowed_packages: what an agent may ask for, so it can choose before it is refused. */
export function registerListAllowedPackages(server: ToolRegistry, deps: ServerDeps): void {
  server.registerTool(
    "list_allowed_packages",
    {
      title: "List allowed packages",
      description: "List the projects an environment's allowlist permits, with their allowed version ranges, and the rules in force.",
      inputSchema: environmentInputSchema(deps.pipeline.environments.names()),
      outputSchema: AllowedOutputSchema,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    admitted(deps, "list_allowed_packages", async (raw: unknown, extra: ToolExtra) => {
      const identity = deps.identity(extra);
      const found = await environmentFor(deps, identity, "list_allowed_packages", raw);
      if (!found.ok) return found.result;
      const { allowlist, name } = found.env;
      const packages = [...allowlist.packages.values()]
        .map((entry) => ({ name: entry.name, specifier: entry.specifier === "" ? "*" : entry.specifier }))
        .sort((a, b) => a.name.localeCompare(b.name));
      const denied = [...allowlist.deny].sort();
      await deps.pipeline.audit.append({ identity, tool: "list_allowed_packages", environment: name, outcome: "listed", arguments: raw });
      const text = [...packages.map((entry) => `${entry.name} ${entry.specifier}`), ...(denied.length > 0 ? [`denied: ${denied.join(", ")}`] : [])].join("\n");
      return structuredResult(text || `${name} allows nothing`, { environment: name, packages, denied, rules: { ...allowlist.rules } });
    }),
  );
}
