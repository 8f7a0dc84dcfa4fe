import { openPipgate } from "../app.js";
import { runInstall } from "../pipeline/install.js";
import { cliLogger, CliError, EXIT, parseCli, requireConfig, type CommandHelp, type Subcommand } from "./common.js";

const USAGE =
  "usage: pipgate install ENV REQUIREMENT [--upgrade] [--timeout SECONDS] [--json] [--identity NAME] [--config FILE]\n" +
  "  a local operator's install: grants, rate limits and approvals do not apply (the audit record says so)\n" +
  "  --json prints install_package's structured result\n";

export const installHelp: CommandHelp = { usage: USAGE };

/**
 * `pipgate install ENV REQUIREMENT`: the same request path as the MCP tool, with a progress display. A
 * local operator is not a grant: its installs bypass grants, rate limits and approvals (it can edit all
 * three), and the audit record says so.
 */
export const install: Subcommand = async (argv, io, context) => {
  const { values, positionals } = parseCli(argv, {
    upgrade: { type: "boolean", default: false },
    timeout: { type: "string" },
    json: { type: "boolean", default: false },
    identity: { type: "string" },
  });
  if (positionals.length !== 2) throw new CliError(USAGE.trimEnd());
  const [environment, requirement] = positionals as [string, string];
  const config = requireConfig(values.config);
  const timeout = values.timeout === undefined ? undefined : Number(values.timeout);
  const raw = { package_name: requirement, environment, upgrade: values.upgrade, ...(timeout === undefined ? {} : { timeout }) };
  const identity = values.identity ?? `cli:${process.env.USER ?? "unknown"}`;
  const log = cliLogger(context, "warn");
  // local: an operator's install runs the pipeline only, without the MCP SDK or the gateway.
  const opened = await openPipgate(config, log, { readyEnvironments: [environment] }, "local");
  if (!opened.ok) throw new CliError(`invalid configuration:\n  ${opened.issues.join("\n  ")}`, EXIT.failure);
  const app = opened.value;
  try {
    const started = Date.now();
    const interactive = process.stderr.isTTY === true && !values.json;
    let first = true;
    // The same request path as install_package; a local operator is not admitted (see OPERATOR_BYPASS).
    const result = await runInstall(
      app.broker.pipeline,
      { identity, tool: "cli install", rawArguments: raw, gates: { operator: true } },
      {
        progress: (progress) => {
          if (first) {
            first = false;
            // performance.now() counts from the process's start: the bench reads this line for the start-up
            // figure; the CPU time beside it is what a loaded machine does not inflate.
            const cpu = process.cpuUsage();
            log.debug(
              { stage: progress.stage, sinceProcessStartMs: Math.round(performance.now()), cpuMs: Math.round((cpu.user + cpu.system) / 1000) },
              "first stage",
            );
          }
          const elapsed = ((Date.now() - started) / 1000).toFixed(1).padStart(5);
          const line = `[${elapsed}s] ${progress.stage.padEnd(10)} ${progress.message}`;
          io.stderr(interactive ? `\r\x1b[2K${line}` : `${line}\n`);
        },
      },
    );
    if (interactive) io.stderr("\r\x1b[2K");
    if (result.status === "invalid") {
      io.stderr(`refused: ${result.message}\n(audit ${result.auditId})\n`);
      return EXIT.usage;
    }
    if (values.json) {
      // Loaded once the install is over: only --json needs the tool's result shape (and its schemas).
      const { structuredInstall } = await import("../server/tools/install-package.js");
      io.stdout(`${JSON.stringify(structuredInstall(result), null, 2)}\n`);
    } else {
      io.stdout(`${result.status}: ${result.message}\n`);
      if (result.hint !== undefined) io.stdout(`hint: ${result.hint}\n`);
      for (const dist of result.resolved) io.stdout(`  ${dist.name}==${dist.version}  sha256:${dist.sha256.slice(0, 16)}…\n`);
      io.stdout(`audit ${result.auditId} (${(result.durationMs / 1000).toFixed(2)} s)\n`);
    }
    switch (result.status) {
      case "installed":
      case "already-satisfied":
        return EXIT.ok;
      case "denied":
        return EXIT.denied;
      case "failed":
      case "timed-out":
      case "rate-limited":
      case "pending":
      case "rejected":
        return EXIT.failure;
    }
  } finally {
    app.close();
  }
};
