import { openPipgate, type Pipgate } from "../app.js";
import type { ConsoleDeps } from "../console/deps.js";
import { startConsole } from "../console/server.js";
import type { Logger } from "../log.js";
import { parseListenAddress } from "../server/http.js";
import { cliLogger, CliError, EXIT, parseCli, requireConfig, type CommandHelp, type Subcommand } from "./common.js";

export const consoleHelp: CommandHelp = {
  usage:
    "usage: pipgate console --http HOST:PORT [--allow-remote] [--config FILE]\n" +
    "  a web console for auditors and approvers: the audit log with filters and a live tail, each record's\n" +
    "  rules, resolved set and place in the chain, the chain's head, the approval queue (approvers decide\n" +
    "  there) and what pipgate installed per environment. Sign in with the token of a grant whose role is\n" +
    "  auditor or approver; loopback only unless --allow-remote (then put TLS in front)\n",
};

/** What the console reads and decides through, from an opened pipgate: its audit log, approval queue and grants. */
export function consoleDeps(app: Pick<Pipgate, "broker" | "control">, log: Logger, now: () => Date = () => new Date()): ConsoleDeps {
  const { broker, control } = app;
  return {
    audit: broker.audit,
    approvals: control.approvals,
    environments: broker.environments.names(),
    grantForToken: (token) => control.access.grantForToken(token),
    roleFor: (grant) => control.access.roleFor(grant),
    now,
    log,
  };
}

/** `pipgate console --http HOST:PORT`: the console, until SIGINT or SIGTERM; approved installs started there finish first. */
export const webConsole: Subcommand = async (argv, io, context) => {
  const { values } = parseCli(argv, { http: { type: "string" }, "allow-remote": { type: "boolean", default: false } }, false);
  if (values.http === undefined) throw new CliError("usage: pipgate console --http HOST:PORT (e.g. --http 127.0.0.1:8766)");
  const listen = parseListenAddress(values.http);
  if (!listen.ok) throw new CliError(listen.error);
  const config = requireConfig(values.config);
  const log = cliLogger(context, "info");
  const people = Object.entries(config.grants).filter(([, grant]) => grant.role !== "agent" && grant.token_sha256 !== undefined);
  if (people.length === 0) {
    throw new CliError(
      "the console needs a grant with role auditor or approver and a token_sha256 in pipgate.yaml (pipgate grants new-token NAME)",
      EXIT.failure,
    );
  }
  const opened = await openPipgate(config, log);
  if (!opened.ok) throw new CliError(`invalid configuration:\n  ${opened.issues.join("\n  ")}`, EXIT.failure);
  const app = opened.value;
  const started = await startConsole(consoleDeps(app, log), { listen: listen.value, allowRemote: values["allow-remote"] });
  if (!started.ok) {
    app.close();
    throw new CliError(started.error, EXIT.failure);
  }
  io.stderr(`pipgate console on ${started.value.url}\n`);
  log.info({ config: config.file, url: started.value.url }, "pipgate console serving");
  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  await started.value.close();
  app.close();
  return EXIT.ok;
};
