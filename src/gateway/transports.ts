import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { containedSettings } from "../config/contained-paths.js";
import type { LoadedConfig } from "../config/schema.js";
import type { UpstreamConfig } from "../config/upstream-schema.js";
import type { Logger } from "../log.js";
import { boundedFetch } from "./bounded-fetch.js";
import { containedTransportFactory } from "./contained-transport.js";
import { ProcessTransport, type UpstreamTransport } from "./process-transport.js";

/**
 * Makes a fresh transport to the upstream: one per connection, so each client session gets its own
 * process, container or HTTP session, and a restart gets a new one.
 */
export type UpstreamTransportFactory = () => UpstreamTransport;

/**
 * The environment of a stdio upstream: PATH, HOME and LANG from pipgate's own, then the configured
 * `env`. Nothing else of pipgate's environment (tokens, index passwords, PIP_* settings) is passed on.
 */
export function upstreamEnv(
  configured: Record<string, string> | undefined,
  ambient: Readonly<Record<string, string | undefined>> = process.env,
): Record<string, string> {
  const env: Record<string, string> = { LANG: "C.UTF-8" };
  for (const key of ["PATH", "HOME", "LANG"]) {
    const value = ambient[key];
    if (value !== undefined && !value.startsWith("()")) env[key] = value;
  }
  return { ...env, ...configured };
}

/** What a contained upstream needs of the rest of the loaded configuration. */
export type UpstreamHost = Pick<LoadedConfig, "sandbox" | "environments" | "state_dir">;

/**
 * The factory for a configured upstream (`upstream.command` or `upstream.url`, already resolved by
 * loadConfig). A contained one (`upstream.sandbox`) runs in a container and needs `host`, the loaded
 * configuration it mounts the environments of; without it, that is a programming error, thrown.
 */
export function transportFor(config: UpstreamConfig, log: Logger, host?: UpstreamHost): UpstreamTransportFactory {
  const maxMessageBytes = config.max_message_kb * 1024;
  const { command, url } = config;
  const contained = containedSettings(config);
  if (command !== undefined && contained !== undefined) {
    if (host === undefined) throw new Error("a contained upstream (upstream.sandbox) needs the loaded configuration: pass it to transportFor");
    // Inside the container pipgate's HOME means nothing; /tmp is the one writable place besides the working directory.
    const env = { ...upstreamEnv(undefined), HOME: "/tmp", ...config.env };
    return containedTransportFactory(
      {
        settings: contained,
        command,
        env,
        environments: Object.fromEntries(Object.entries(host.environments).map(([name, environment]) => [name, environment.python])),
        sandbox: host.sandbox,
        stateDir: host.state_dir,
        maxMessageBytes,
      },
      log,
    );
  }
  if (command !== undefined) {
    const [program, ...args] = command;
    if (program === undefined) throw new Error("upstream.command is empty (the schema refuses that)");
    const env = upstreamEnv(config.env);
    return () => new ProcessTransport({ command: program, args, env, cwd: config.cwd, maxMessageBytes });
  }
  if (url === undefined) throw new Error("upstream has neither command nor url (the schema refuses that)");
  const endpoint = new URL(url);
  const headers = config.headers ?? {};
  return () => {
    let ended: string | undefined;
    const transport: StreamableHTTPClientTransport & { describeEnd?: () => string | undefined } = new StreamableHTTPClientTransport(endpoint, {
      requestInit: { headers },
      fetch: boundedFetch(maxMessageBytes, (reason) => {
        ended ??= reason;
        log.warn({ upstream: endpoint.origin }, `the upstream server ${reason}`);
        void transport.close();
      }),
    });
    transport.describeEnd = () => ended;
    return transport;
  };
}
