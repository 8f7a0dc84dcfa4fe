import { toJsonSchemaCompat } from "@modelcontextprotocol/sdk/server/zod-json-schema-compat.js";
import { getParseErrorMessage } from "@modelcontextprotocol/sdk/server/zod-compat.js";
import type { CallToolResult, Tool, ToolAnnotations } from "@modelcontextprotocol/sdk/types.js";
import type { z } from "zod";
import type { ToolExtra } from "./context.js";
import { advertisedOutputSchema, isRefusalContent, refusalOutputSchema } from "./refusal.js";

export type ToolHandler = (args: unknown, extra: ToolExtra) => CallToolResult | Promise<CallToolResult>;

/** How a tool describes itself, in the SDK's registerTool shape (zod schemas; JSON Schema is derived). */
export interface ToolConfig {
  title?: string;
  description?: string;
  inputSchema: z.ZodObject;
  /** a success's structured content; a refusal's is this with every field optional and `refusal` (server/refusal.ts) */
  outputSchema?: z.ZodObject;
  annotations?: ToolAnnotations;
}

/** Where a tool file registers its tool: the server's table, in tests any registry. */
export interface ToolRegistry {
  registerTool(name: string, config: ToolConfig, handler: ToolHandler): void;
}

/**
 * pipgate's own tools: their definitions as clients list them and their handlers, kept apart from any
 * transport so one server can list them beside an upstream's. The semantics are the SDK's McpServer's
 * (1.32): arguments parsed against the input schema, structured content checked against the output
 * schema, any failure answered as a tool error the model reads. Refusals carry structured content too
 * (the refusal's kind and field), checked against the refusal form of the schema, which clients list.
 */
export interface ToolTable extends ToolRegistry {
  definitions(): Tool[];
  has(name: string): boolean;
  call(name: string, args: unknown, extra: ToolExtra): Promise<CallToolResult>;
}

function toolError(message: string): CallToolResult {
  return { content: [{ type: "text", text: message }], isError: true };
}

export function createToolTable(): ToolTable {
  const tools = new Map<string, { config: ToolConfig; handler: ToolHandler; definition: Tool; refusal: z.ZodObject | undefined }>();

  async function run(name: string, args: unknown, extra: ToolExtra): Promise<CallToolResult> {
    const tool = tools.get(name);
    if (tool === undefined) return toolError(`Tool ${name} not found`);
    const parsed = await tool.config.inputSchema.safeParseAsync(args ?? {});
    if (!parsed.success) return toolError(`Input validation error: Invalid arguments for tool ${name}: ${getParseErrorMessage(parsed.error)}`);
    const result = await tool.handler(parsed.data, extra);
    const output = tool.config.outputSchema;
    if (output === undefined) return result;
    if (result.isError === true) {
      // an error may say nothing structured; what it says must still be what clients were told to expect
      if (result.structuredContent === undefined) return result;
      const schema = isRefusalContent(result.structuredContent) && tool.refusal !== undefined ? tool.refusal : output;
      const checked = await schema.safeParseAsync(result.structuredContent);
      return checked.success
        ? result
        : toolError(`Output validation error: Invalid structured content for tool ${name}'s error: ${getParseErrorMessage(checked.error)}`);
    }
    if (result.structuredContent === undefined)
      return toolError(`Output validation error: Tool ${name} has an output schema but no structured content was provided`);
    const checked = await output.safeParseAsync(result.structuredContent);
    if (!checked.success) return toolError(`Output validation error: Invalid structured content for tool ${name}: ${getParseErrorMessage(checked.error)}`);
    return result;
  }

  return {
    registerTool(name, config, handler) {
      if (tools.has(name)) throw new Error(`tool ${name} is registered twice`);
      const definition: Tool = {
        name,
        ...(config.title === undefined ? {} : { title: config.title }),
        ...(config.description === undefined ? {} : { description: config.description }),
        inputSchema: toJsonSchemaCompat(config.inputSchema, { strictUnions: true, pipeStrategy: "input" }) as Tool["inputSchema"],
        ...(config.outputSchema === undefined ? {} : { outputSchema: advertisedOutputSchema(config.outputSchema) }),
        ...(config.annotations === undefined ? {} : { annotations: config.annotations }),
      };
      tools.set(name, { config, handler, definition, refusal: config.outputSchema === undefined ? undefined : refusalOutputSchema(config.outputSchema) });
    },
    definitions: () => [...tools.values()].map((tool) => tool.definition),
    has: (name) => tools.has(name),
    async call(name, args, extra) {
      try {
        return await run(name, args, extra);
      } catch (error) {
        return toolError(error instanceof Error ? error.message : String(error));
      }
    },
  };
}
