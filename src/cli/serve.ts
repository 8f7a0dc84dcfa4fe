import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { allowlistIssues } from "../config/allowlist-files.js";
import { openPipgate } from "../app.js";
import { startScheduledRunner } from "../pipeline/approval-runner.js";
import { parseListenAddress, startHttpServer } from "../server/http.js";
import { cliLogger, CliError, EXIT, parseCli, requireConfig, type CommandHelp, type Subcommand } from "./common.js";

export const serveHelp: CommandHelp = {
  usage:
    "usage: pipgate serve [--config FILE] [--http HOST:PORT [--allow-remote]]\n" +
    "  the MCP server on stdio (stdout is the protocol's, logs go to stderr), or over Streamable HTTP with\n" +
    "  --http (bearer tokens from the grants in pipgate.yaml; --allow-remote to listen beyond loopback)\n",
};

function untilStopped(onClose?: (stop: () => void) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => resolve();
    onClose?.(stop);
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}

/** `pipgate serve`: the MCP server on stdio (stdout is the protocol's; logs go to stderr), or `--http HOST:PORT`. */
export const serve: Subcommand = async (argv, _io, context) => {
  const { values } = parseCli(argv, { http: { type: "string" }, "allow-remote": { type: "boolean", default: false } }, false);
  const listen = values.http === undefined ? undefined : parseListenAddress(values.http);
  if (listen !== undefined && !listen.ok) throw new CliError(listen.error);
  const config = requireConfig(values.config);
  const unusable = allowlistIssues(config);
  if (unusable.length > 0) throw new CliError(`invalid configuration:\n  ${unusable.join("\n  ")}`, EXIT.failure);
  const log = cliLogger(context, "info");
  const opened = await openPipgate(config, log);
  if (!opened.ok) throw new CliError(`invalid configuration:\n  ${opened.issues.join("\n  ")}`, EXIT.failure);
  const app = opened.value;
  const { broker, control } = app;
  // In a fleet, installs approved on another broker for one this broker queued run here.
  const runner = config.database !== undefined && control.approvals !== undefined ? startScheduledRunner(control.approvals, log) : undefined;
  const closeApp = async (): Promise<void> => {
    await runner?.stop();
    app.close();
  };

  if (listen !== undefined) {
    if (!control.access.hasTokens) {
      await closeApp();
      throw new CliError("--http needs at least one grant with a token_sha256 in pipgate.yaml (printf %s TOKEN | sha256sum)", EXIT.failure);
    }
    const started = await startHttpServer({
      listen: listen.value,
      allowRemote: values["allow-remote"],
      grantForToken: (token) => control.access.grantForToken(token),
      refuseGrant: (grant) => agentsOnly(control.access.roleFor(grant), grant),
      serverFor: (grant) => app.serverFor(grant),
      limits: config.http,
      log,
    });
    if (!started.ok) {
      await closeApp();
      throw new CliError(started.error, EXIT.failure);
    }
    log.info({ config: config.file, url: started.value.url, environments: broker.environments.names() }, "pipgate serving over Streamable HTTP");
    await untilStopped();
    await started.value.close();
    await closeApp();
    return 0;
  }

  const { server, close } = app.serverFor(config.identity);
  const transport = new StdioServerTransport();
  await server.connect(transport);
  log.info({ config: config.file, environments: broker.environments.names(), index: broker.index.url }, "pipgate serving on stdio");
  await untilStopped((stop) => {
    transport.onclose = stop;
    process.stdin.once("end", stop);
  });
  await close().catch(() => undefined);
  await closeApp();
  return 0;
};

/**
 * The MCP endpoint is for agents: an auditor's or approver's token opens the console, not the tools
 * (separation of duties: whoever approves installs does not also ask for them with the same grant).
 */
export function agentsOnly(role: string | undefined, grant: string): string | undefined {
  if (role === undefined || role === "agent") return undefined;
  return `grant ${grant} has role ${role}: the MCP endpoint serves grants with role agent; use pipgate console with this token, or give the agent its own grant`;
}
