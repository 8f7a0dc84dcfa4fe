import type { ToolRegistry } from "../tool-table.js";
import { z } from "zod";
import { decide, decisionToJson, DecisionSchema, formatDecision } from "../../policy/index.js";
import { argumentContext, rawEnvironment, refuseAndAudit, structuredResult, type ServerDeps, type ToolExtra } from "../context.js";
import { admitted } from "../admitted.js";
import { refusalOnly } from "../refusal.js";
import { checkInputSchema, defaultTimeout, validateCheckArguments } from "../../validate/tool-arguments.js";
import { checkTree } from "../../pipeline/check-tree.js";
import { TreeCheckSchema, unlistedHint } from "../../pipeline/tree.js";

export const CheckOutputSchema = z.object({
  environment: z.string(),
  decision: DecisionSchema,
  tree: TreeCheckSchema.optional().describe("resolve: true: the whole resolved set and every distribution of it that policy refuses"),
  audit_id: z.string(),
});

/** check_package: install_package's decision, every rule explained, nothing installed or started. */
export function registerCheckPackage(server: ToolRegistry, deps: ServerDeps): void {
  const known = deps.pipeline.environments.names();
  server.registerTool(
    "check_package",
    {
      title: "Check a package against policy",
      description:
        "Explain whether install_package would allow a requirement in an environment, which version it would choose, " +
        "and every rule's result (allowlist, typosquat, yanked, release age, requires-python, vulnerabilities, licence, wheels-only). " +
        "Installs nothing. By default it decides the named project only (milliseconds); resolve: true also resolves the whole dependency tree in the sandbox " +
        "and lists every distribution that would be refused, with who requires it.",
      inputSchema: checkInputSchema({ environments: known, timeoutMax: deps.timeoutMax }),
      outputSchema: CheckOutputSchema,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    },
    admitted(deps, "check_package", async (raw: unknown, extra: ToolExtra) => {
      const identity = deps.identity(extra);
      const validated = validateCheckArguments(raw, argumentContext(deps, identity));
      if (!validated.ok) {
        return refuseAndAudit(
          deps,
          {
            identity,
            tool: "check_package",
            environment: rawEnvironment(raw, known),
            outcome: "invalid",
            arguments: raw,
            request: { refusal: validated.refusal.kind },
          },
          validated.refusal.message,
          { kind: validated.refusal.kind, field: validated.refusal.field, shape: refusalOnly },
        );
      }
      const { requirement, environment, resolve } = validated.args;
      const loaded = await deps.pipeline.environments.get(environment);
      if (!loaded.ok) {
        return refuseAndAudit(
          deps,
          { identity, tool: "check_package", environment, package: requirement.normalized, outcome: "failed", arguments: raw },
          loaded.error,
          {
            shape: (refusal) => ({ environment, refusal }),
          },
        );
      }
      const decision = await decide(requirement, loaded.env, deps.pipeline.policyDeps);
      const json = decisionToJson(decision);
      // The dry decision is the default (milliseconds); resolve: true adds the tree (a container run).
      const tree =
        resolve && decision.allowed
          ? await checkTree(deps.pipeline, loaded.env, decision, requirement, defaultTimeout(argumentContext(deps, identity)))
          : undefined;
      const allowed = decision.allowed && (tree === undefined || tree.json.allowed);
      const reason = decision.allowed ? tree?.json.message : decision.reason;
      const record = await deps.pipeline.audit.append({
        identity,
        tool: "check_package",
        environment,
        package: requirement.normalized,
        outcome: allowed ? "allowed" : "denied",
        arguments: raw,
        decision: json,
        ...(allowed || reason === undefined ? {} : { reason }),
      });
      const extraHint = unlistedHint(decision, requirement, environment);
      const dryNote =
        decision.allowed && !resolve ? `only ${decision.name} itself was decided; resolve: true also checks everything it needs (a sandbox run)` : undefined;
      const text = [formatDecision(decision).trimEnd(), extraHint === undefined ? undefined : `hint: ${extraHint}`, dryNote, tree?.text, `audit ${record.id}`]
        .filter((line) => line !== undefined)
        .join("\n");
      // A refusal is an answer here, not an error: the tool did its job.
      return structuredResult(text, { environment, decision: json, ...(tree === undefined ? {} : { tree: tree.json }), audit_id: record.id });
    }),
  );
}
