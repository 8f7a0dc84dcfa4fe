import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { refusalResult } from "../../src/server/context.js";
import {
  checkInputSchema,
  installInputSchema,
  validateCheckArguments,
  validateInstallArguments,
  type ArgumentContext,
} from "../../src/validate/tool-arguments.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const corpusFile = path.resolve(repoRoot, "../shared/bad-inputs.jsonl");
const ctx: ArgumentContext = { environments: ["default", "data-science"], timeoutMax: 900 };

function corpusArguments(): Record<string, unknown>[] {
  if (!existsSync(corpusFile)) throw new Error(`bad-input corpus missing: ${corpusFile}`);
  return readFileSync(corpusFile, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => z.object({ arguments: z.record(z.string(), z.unknown()) }).parse(JSON.parse(line)).arguments);
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** A real McpServer and Client over the SDK's in-memory transport pair, with the tool registered as the server will. */
async function connect(register: (server: McpServer) => void): Promise<Client> {
  const server = new McpServer({ name: "pipgate-test", version: "0.0.0" });
  register(server);
  const client = new Client({ name: "test-client", version: "0.0.0" });
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await Promise.all([server.connect(serverTransport), client.connect(clientTransport)]);
  closers.push(async () => {
    await client.close();
    await server.close();
  });
  return client;
}

function textOf(result: unknown): string {
  const content = (result as CallToolResult).content[0];
  return content?.type === "text" ? content.text : "";
}

describe("install_package registered with installInputSchema", () => {
  function registerInstall(server: McpServer, seen: unknown[]): void {
    server.registerTool("install_package", { description: "Install a Python package", inputSchema: installInputSchema(ctx) }, (args) => {
      seen.push(args);
      const validated = validateInstallArguments(args, ctx);
      if (!validated.ok) return refusalResult(validated.refusal);
      return { content: [{ type: "text", text: `would install ${validated.args.requirement.normalized}` }] };
    });
  }

  it("answers every corpus line with our own refusal as an isError tool result, never a protocol error", async () => {
    const seen: unknown[] = [];
    const client = await connect((server) => registerInstall(server, seen));
    const corpus = corpusArguments();
    for (const args of corpus) {
      const result = await client.callTool({ name: "install_package", arguments: args });
      const expected = validateInstallArguments(args, ctx);
      expect(expected.ok).toBe(false);
      if (expected.ok) continue;
      expect(result.isError).toBe(true);
      expect(textOf(result)).toBe(expected.refusal.message);
    }
    // The handler (where the audit record will be written) saw every request.
    expect(seen).toHaveLength(corpus.length);
  });

  it("passes good calls through to the handler", async () => {
    const client = await connect((server) => registerInstall(server, []));
    const result = await client.callTool({ name: "install_package", arguments: { package_name: "Django>=4.2,<5" } });
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toBe("would install django");
  });

  it("refuses unknown arguments instead of silently dropping them", async () => {
    const client = await connect((server) => registerInstall(server, []));
    const result = await client.callTool({
      name: "install_package",
      arguments: { package_name: "numpy", index_url: "http://127.0.0.1:9/simple" },
    });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe('install_package has no argument "index_url"; it takes package_name, environment, upgrade, timeout.');
  });

  it("advertises the real limits in its JSON Schema", async () => {
    const client = await connect((server) => registerInstall(server, []));
    const { tools } = await client.listTools();
    const schema = tools.find((tool) => tool.name === "install_package")?.inputSchema;
    expect(schema).toMatchObject({
      type: "object",
      required: ["package_name"],
      additionalProperties: false,
      properties: {
        package_name: { type: "string", minLength: 1, maxLength: 200 },
        environment: { type: "string", enum: ["default", "data-science"], default: "default" },
        upgrade: { type: "boolean", default: false },
        timeout: { type: "integer", minimum: 1, maximum: 900, default: 300 },
      },
    });
    const props = (schema?.properties ?? {}) as Record<string, { description?: string }>;
    for (const field of ["package_name", "environment", "upgrade", "timeout"]) {
      expect(props[field]?.description?.length ?? 0).toBeGreaterThan(10);
    }
  });

  it("advertises a schema that every accepted call satisfies and that already rejects the corpus's wrong types", async () => {
    const client = await connect((server) => registerInstall(server, []));
    const { tools } = await client.listTools();
    const schema = tools.find((tool) => tool.name === "install_package")?.inputSchema;
    const validate = new AjvJsonSchemaValidator().getValidator(schema as never);
    const good = [
      { package_name: "numpy" },
      { package_name: "requests[socks]==2.32.3", environment: "data-science", upgrade: true, timeout: 900 },
      { package_name: "name (>=1)", timeout: 1 },
      { package_name: "  zope.interface==6.*  " },
    ];
    for (const args of good) {
      expect(validateInstallArguments(args, ctx).ok).toBe(true);
      expect(validate(args).valid).toBe(true);
    }
    const typeErrors = corpusArguments().filter(
      (args) => typeof args["package_name"] !== "string" || "timeout" in args || "upgrade" in args || "environment" in args,
    );
    expect(typeErrors.length).toBeGreaterThan(5);
    for (const args of typeErrors) expect(validate(args).valid).toBe(false);
  });

  it("is needed: the SDK's own schema validation would answer with generic text the handler never sees", async () => {
    const seen: unknown[] = [];
    const client = await connect((server) => {
      server.registerTool("strict_install", { inputSchema: { package_name: z.string(), upgrade: z.boolean().default(false) } }, (args) => {
        seen.push(args);
        return { content: [{ type: "text", text: "ok" }] };
      });
    });
    const result = await client.callTool({ name: "strict_install", arguments: { package_name: "numpy", upgrade: "yes" } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^MCP error -32602: Input validation error/);
    expect(seen).toHaveLength(0);
  });
});

describe("check_package registered with checkInputSchema", () => {
  it("refuses install-only arguments and accepts package_name with environment", async () => {
    const client = await connect((server) => {
      server.registerTool("check_package", { inputSchema: checkInputSchema(ctx) }, (args) => {
        const validated = validateCheckArguments(args, ctx);
        if (!validated.ok) return refusalResult(validated.refusal);
        return { content: [{ type: "text", text: `${validated.args.environment}:${validated.args.requirement.normalized}` }] };
      });
    });
    const good = await client.callTool({ name: "check_package", arguments: { package_name: "PyYAML!=6.0.0", environment: "data-science" } });
    expect(textOf(good)).toBe("data-science:pyyaml");
    const refused = await client.callTool({ name: "check_package", arguments: { package_name: "numpy", timeout: 5 } });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toBe('check_package has no argument "timeout"; it takes package_name, environment, resolve.');
    const { tools } = await client.listTools();
    expect(Object.keys(tools[0]?.inputSchema.properties ?? {})).toEqual(["package_name", "environment", "resolve"]);
  });
});
