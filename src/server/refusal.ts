import { toJsonSchemaCompat } from "@modelcontextprotocol/sdk/server/zod-json-schema-compat.js";
import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";

/**
 * What every refusal of one of pipgate's tools carries in structuredContent, beside its text: an agent
 * (or a program driving one) branches on `kind` and `field` instead of parsing a sentence.
 */
export const RefusalSchema = z.object({
  kind: z
    .string()
    .describe(
      "why: an argument refusal (type, environment, url, option, invalid-name, … as the audit log records it), " +
        "unknown-approval, failed (the environment could not be used), or admission's outcome (denied, rate-limited, pending)",
    ),
  field: z.string().optional().describe("the argument at fault, for an argument refusal"),
  message: z.string().describe("the refusal as the text content says it"),
  audit_id: z.string().describe("the audit record of the refusal"),
  retry_after_seconds: z.number().optional().describe("rate-limited: how long to wait before calling again"),
  approval_id: z.string().optional().describe("pending: the approval a person must give; the same call passes once approved"),
  expires_at: z.string().optional().describe("pending: when that approval request expires undecided"),
});

export type RefusalJson = z.infer<typeof RefusalSchema>;

/** How a tool answers a refusal in structuredContent: its own fields, if it has any to give, around the refusal. */
export type RefusalShape = (refusal: RefusalJson) => Record<string, unknown>;

/** The shape of a tool with nothing of its own to say on a refusal. */
export const refusalOnly: RefusalShape = (refusal) => ({ refusal });

/**
 * A tool's structured content on a refusal: `refusal` present, the tool's own fields optional (a refusal
 * has no decision or package list to give). The tool table checks error results that carry `refusal`
 * against this, and any other structured content against the tool's own schema.
 */
export function refusalOutputSchema(success: z.ZodObject): z.ZodObject {
  return success.partial().extend({ refusal: RefusalSchema });
}

/** Whether structured content says it is a refusal. */
export function isRefusalContent(structured: Record<string, unknown>): boolean {
  return Object.hasOwn(structured, "refusal");
}

/**
 * The output schema a client lists: the tool's fields, plus `refusal`, and either every required field of
 * a success or a refusal — so the SDK client, which validates structuredContent on errors too, accepts
 * refusals while a success stays as strict as its own schema.
 */
export function advertisedOutputSchema(success: z.ZodObject): NonNullable<Tool["outputSchema"]> {
  const json = toJsonSchemaCompat(success, { strictUnions: true, pipeStrategy: "output" }) as NonNullable<Tool["outputSchema"]> & {
    required?: string[];
    anyOf?: unknown[];
  };
  const refusal = toJsonSchemaCompat(RefusalSchema, { strictUnions: true, pipeStrategy: "output" }) as Record<string, unknown>;
  delete refusal.$schema;
  const { required = [], ...rest } = json;
  return { ...rest, properties: { ...(rest.properties ?? {}), refusal }, anyOf: [{ required }, { required: ["refusal"] }] } as NonNullable<
    Tool["outputSchema"]
  >;
}
