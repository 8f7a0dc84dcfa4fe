import { openPipgate } from "../app.js";
import { planWithDeps } from "../allowlist-edit/with-deps.js";
import type { PackageChange } from "../allowlist-edit/validate.js";
import { treeRefusalsToJson } from "../pipeline/tree.js";
import { cliLogger, CliError, EXIT, requireConfig, type CliContext, type CliIo } from "./common.js";

/** Seconds the resolution of a tree may take at most (bounded further by sandbox.timeout_max). */
const TREE_TIMEOUT_SECONDS = 300;

/** The file helpers of `pipgate allowlist`, passed in (they live with the other actions). */
export interface FileOps {
  readText(path: string, missingAsEmpty?: boolean): string;
  commit(path: string, before: string, after: string, io: CliIo): boolean;
}

/**
 * `pipgate allowlist add NAME SPEC --with-deps`: NAME and its whole resolved closure in one atomic
 * write, each added line commented with who requires it; nothing is written unless the whole set then
 * passes the environment's policy (so the install that follows succeeds in one call).
 */
export async function addWithDeps(
  request: { config: string; env: string; change: PackageChange; ranges: boolean; json: boolean },
  io: CliIo,
  context: CliContext | undefined,
  files: FileOps,
): Promise<number> {
  const config = requireConfig(request.config);
  if (!Object.hasOwn(config.environments, request.env)) {
    throw new CliError(`no environment named ${JSON.stringify(request.env)} in ${config.file}; configured: ${Object.keys(config.environments).join(", ")}`);
  }
  const opened = await openPipgate(config, cliLogger(context, "warn"));
  if (!opened.ok) throw new CliError(`invalid configuration:\n  ${opened.issues.join("\n  ")}`, EXIT.failure);
  const app = opened.value;
  try {
    const pipeline = app.broker.pipeline;
    const loaded = await pipeline.environments.get(request.env);
    if (!loaded.ok) throw new CliError(loaded.error, EXIT.failure);
    const env = loaded.env;
    const path = env.allowlistPath;
    const before = files.readText(path);
    if (!request.json) io.stderr(`resolving the tree of ${request.change.name} in the sandbox of ${env.name}…\n`);
    const plan = await planWithDeps(pipeline, env, before, request.change, {
      style: request.ranges ? "ranges" : "pins",
      rules: config.rules,
      timeout: Math.min(TREE_TIMEOUT_SECONDS, pipeline.sandboxConfig.timeout_max),
    });
    if (!plan.ok) {
      if (request.json) {
        const refused = plan.refused === undefined ? {} : { refused: treeRefusalsToJson(plan.refused) };
        io.stdout(`${JSON.stringify({ ok: false, environment: env.name, file: path, kind: plan.kind, error: plan.error, ...refused }, null, 2)}\n`);
      } else io.stderr(`pipgate allowlist add --with-deps: ${plan.error}\nnothing written\n`);
      return plan.kind === "denied" ? EXIT.denied : EXIT.failure;
    }
    if (plan.text !== before && !files.commit(path, before, plan.text, io)) return EXIT.failure;
    const { root } = plan;
    if (request.json) {
      const answer = {
        ok: true,
        environment: env.name,
        file: path,
        package: { name: root.name, specifier: request.change.specifier, version: plan.version, action: root.action, previous: root.previous ?? null },
        added: plan.added.map((entry) => ({
          name: entry.name,
          version: entry.version,
          specifier: entry.specifier,
          reason: entry.reason,
          action: entry.action,
          previous: entry.previous ?? null,
        })),
        resolved: plan.resolved,
      };
      io.stdout(`${JSON.stringify(answer, null, 2)}\n`);
      return EXIT.ok;
    }
    const lines = [
      root.action === "unchanged"
        ? `${root.name} is already allowed at ${JSON.stringify(root.previous)}`
        : `${root.action} ${root.name} ${JSON.stringify(request.change.specifier)}`,
      ...plan.added.map((entry) => `${entry.action} ${entry.name} ${JSON.stringify(entry.specifier)}  # ${entry.reason}`),
      `${root.name} ${plan.version} resolves to ${plan.resolved.length} distribution(s), all allowed by ${path}${plan.added.length === 0 ? " (nothing to add)" : ""}`,
    ];
    io.stdout(`${lines.join("\n")}\n`);
    return EXIT.ok;
  } finally {
    app.close();
  }
}
