import { openBroker } from "../broker.js";
import { createLogger } from "../log.js";
import { runInstall } from "../pipeline/install.js";
import { validateInstallArguments } from "../validate/tool-arguments.js";
import { CliError, EXIT, parseCli, requireConfig, type Subcommand } from "./common.js";

/** `pipgate install ENV REQUIREMENT`: the same pipeline as the MCP tool, with a progress display. */
export const install: Subcommand = async (argv, io) => {
  const { values, positionals } = parseCli(argv, {
    upgrade: { type: "boolean", default: false },
    timeout: { type: "string" },
    json: { type: "boolean", default: false },
    identity: { type: "string" },
  });
  if (positionals.length !== 2) throw new CliError("usage: pipgate install ENV REQUIREMENT [--upgrade] [--timeout SECONDS] [--json]");
  const [environment, requirement] = positionals as [string, string];
  const config = requireConfig(values.config);
  const timeout = values.timeout === undefined ? undefined : Number(values.timeout);
  const raw = { package_name: requirement, environment, upgrade: values.upgrade, ...(timeout === undefined ? {} : { timeout }) };
  const identity = values.identity ?? `cli:${process.env.USER ?? "unknown"}`;
  const log = createLogger(process.env.PIPGATE_LOG_LEVEL ?? "warn");
  const broker = await openBroker(config, log);
  try {
    const validated = validateInstallArguments(raw, { environments: broker.environments.names(), timeoutMax: config.sandbox.timeout_max });
    if (!validated.ok) {
      const record = broker.audit.append({ identity, tool: "cli install", outcome: "invalid", arguments: raw, reason: validated.refusal.message });
      io.stderr(`refused: ${validated.refusal.message}\n(audit ${record.id})\n`);
      return EXIT.usage;
    }
    const started = Date.now();
    const interactive = process.stderr.isTTY === true && !values.json;
    const result = await runInstall(
      broker.pipeline,
      { identity, tool: "cli install", rawArguments: raw, args: validated.args },
      {
        progress: (progress) => {
          const elapsed = ((Date.now() - started) / 1000).toFixed(1).padStart(5);
          const line = `[${elapsed}s] ${progress.stage.padEnd(10)} ${progress.message}`;
          io.stderr(interactive ? `\r\x1b[2K${line}` : `${line}\n`);
        },
      },
    );
    if (interactive) io.stderr("\r\x1b[2K");
    if (values.json) io.stdout(`${JSON.stringify(result, null, 2)}\n`);
    else {
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
        return EXIT.failure;
    }
  } finally {
    broker.close();
  }
};
