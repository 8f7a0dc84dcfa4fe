import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { UpstreamConfig } from "../config/upstream-schema.js";
import type { Logger } from "../log.js";
import { boundedFetch } from "./bounded-fetch.js";
import { ProcessTransport, type UpstreamTransport } from "./process-transport.js";

/**
 * Makes a fresh transport to the upstream: one per connection, so each client session gets its own
 * process or HTTP session, and a restart gets a new one. A contained (container) transport is another
 * factory with the same shape.
 */
export type UpstreamTransportFactory = () => UpstreamTransport;

/**
 * The environment of a stdio upstream: PATH, HOME and LANG from pipgate's own, then the configured
 * `env`. Nothing else of pipgate's environment (tokens, index passwords, PIP_* settings) is passed on.
 */
export function upstreamEnv(configured: Record<string, string> | undefined, ambient: Readonly<Record<string, string | undefined>> = process.env): Record<string, string> {
  const env: Record<string, string> = { LANG: "C.UTF-8" };
  for (const key of ["PATH", "HOME", "LANG"]) {
    const value = ambient[key];
    if (value !== undefined && !value.startsWith("()")) env[key] = value;
  }
  return { ...env, ...configured };
}

/** The factory for a configured upstream (`upstream.command` or `upstream.url`, already resolved by loadConfig). */
export function transportFor(config: UpstreamConfig, log: Logger): UpstreamTransportFactory {
  const maxMessageBytes = config.max_message_kb * 1024;
  const { command, url } = config;
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
