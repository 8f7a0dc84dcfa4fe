import type { ToolRegistry } from "../tool-table.js";
import { z } from "zod";
import { structuredResult, type ServerDeps, type ToolExtra } from "../context.js";
import { admitted } from "../admitted.js";

export const EnvironmentsOutputSchema = z.object({
  environments: z.array(
    z.object({
      name: z.string(),
      python: z.string().optional().describe("the interpreter's version"),
      description: z.string().optional(),
      allowed_packages: z.number().optional().describe("how many projects the allowlist names"),
      problem: z.string().optional().describe("why the environment cannot be used right now"),
    }),
  ),
});

/** list_environments: where the caller may install, with each interpreter's version. */
export function registerListEnvironments(server: ToolRegistry, deps: ServerDeps): void {
  server.registerTool(
    "list_environments",
    {
      title: "List environments",
      description: "List the Python environments you may install into, with their Python version and allowlist size.",
      inputSchema: z.object({}),
      outputSchema: EnvironmentsOutputSchema,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    admitted(deps, "list_environments", async (_args: unknown, extra: ToolExtra) => {
      const identity = deps.identity(extra);
      const environments = [];
      for (const name of deps.environmentsFor(identity)) {
        const loaded = await deps.pipeline.environments.get(name);
        environments.push(
          loaded.ok
            ? {
                name,
                python: loaded.env.pythonVersion,
                ...(loaded.env.description === undefined ? {} : { description: loaded.env.description }),
                allowed_packages: loaded.env.allowlist.packages.size,
              }
            : { name, problem: loaded.error },
        );
      }
      await deps.pipeline.audit.append({ identity, tool: "list_environments", outcome: "listed", arguments: _args });
      const text = environments
        .map((env) =>
          "problem" in env
            ? `${env.name}: unavailable (${env.problem})`
            : `${env.name}: Python ${env.python}, ${env.allowed_packages} allowed package(s)${env.description === undefined ? "" : ` — ${env.description}`}`,
        )
        .join("\n");
      return structuredResult(text || "no environments", { environments });
    }),
  );
}
