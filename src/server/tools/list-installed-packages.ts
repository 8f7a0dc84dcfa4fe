import type { ToolRegistry } from "../tool-table.js";
import { z } from "zod";
import { listInstalled } from "../../commit/interpreter.js";
import { refuseAndAudit, structuredResult, type ServerDeps, type ToolExtra } from "../context.js";
import { admitted } from "../admitted.js";
import { environmentFor, environmentInputSchema } from "./environment-argument.js";

export const InstalledOutputSchema = z.object({
  environment: z.string(),
  packages: z.array(z.object({ name: z.string(), version: z.string() })),
});

/** list_installed_packages: what an environment holds now, as its own pip sees it. */
export function registerListInstalledPackages(server: ToolRegistry, deps: ServerDeps): void {
  server.registerTool(
    "list_installed_packages",
    {
      title: "List installed packages",
      description: "List the packages installed in an environment, with their versions.",
      inputSchema: environmentInputSchema(deps.pipeline.environments.names()),
      outputSchema: InstalledOutputSchema,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    admitted(deps, "list_installed_packages", async (raw: unknown, extra: ToolExtra) => {
      const identity = deps.identity(extra);
      const found = await environmentFor(deps, identity, "list_installed_packages", raw);
      if (!found.ok) return found.result;
      const { env } = found;
      const installed = await listInstalled(env.python);
      if (!installed.ok) {
        return refuseAndAudit(deps, { identity, tool: "list_installed_packages", environment: env.name, outcome: "failed", arguments: raw }, installed.error, {
          shape: (refusal) => ({ environment: env.name, refusal }),
        });
      }
      const packages = installed.value.map(({ name, version }) => ({ name, version })).sort((a, b) => a.name.localeCompare(b.name));
      await deps.pipeline.audit.append({ identity, tool: "list_installed_packages", environment: env.name, outcome: "listed", arguments: raw });
      const text = packages.map((dist) => `${dist.name}==${dist.version}`).join("\n");
      return structuredResult(text || `${env.name} has no packages installed`, { environment: env.name, packages });
    }),
  );
}
