import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { openBroker } from "../broker.js";
import { createLogger } from "../log.js";
import { createServer } from "../server/create-server.js";
import { CliError, parseCli, requireConfig, type Subcommand } from "./common.js";

/** `pipgate serve`: the MCP server on stdio (stdout is the protocol's; logs go to stderr). */
export const serve: Subcommand = async (argv) => {
  const { values } = parseCli(argv, { http: { type: "string" } }, false);
  if (values.http !== undefined) throw new CliError("--http is not available yet; use stdio");
  const config = requireConfig(values.config);
  const log = createLogger();
  const broker = await openBroker(config, log);
  const { server } = createServer({
    pipeline: broker.pipeline,
    identity: () => config.identity,
    environmentsFor: () => broker.environments.names(),
    timeoutMax: config.sandbox.timeout_max,
  });
  const transport = new StdioServerTransport();
  await server.connect(transport);
  log.info({ config: config.file, environments: broker.environments.names(), index: broker.index.url }, "pipgate serving on stdio");
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    transport.onclose = stop;
    process.stdin.once("end", stop);
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await server.close().catch(() => undefined);
  broker.close();
  return 0;
};
