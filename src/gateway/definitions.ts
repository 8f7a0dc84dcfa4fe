import type { Prompt, Resource, ResourceTemplate, Tool } from "@modelcontextprotocol/sdk/types.js";
import { UPSTREAM_NAME } from "../config/upstream-schema.js";

/** Bounds on what one upstream list may hand pipgate; the SDK's schemas check shapes, these check sizes. */
export const DEFINITION_LIMITS = {
  /** Items accepted from one list, all pages together; more are dropped with a warning. */
  maxItems: 1000,
  /** Pages followed through nextCursor. */
  maxPages: 100,
  maxDescriptionBytes: 16 * 1024,
  maxSchemaBytes: 64 * 1024,
  maxUriLength: 4096,
  /** Display names of resources (free text, unlike tool names). */
  maxResourceNameLength: 256,
  maxPromptArguments: 64,
} as const;

/** Why a definition is dropped, or undefined when it is well-formed. */
export type Check<T> = (item: T) => string | undefined;

const bytes = (text: string) => Buffer.byteLength(text, "utf8");
// eslint-disable-next-line no-control-regex -- control characters are what a display name may not hold
const CONTROL = /[\u0000-\u001f\u007f]/;

function description(text: string | undefined): string | undefined {
  if (text !== undefined && bytes(text) > DEFINITION_LIMITS.maxDescriptionBytes) {
    return `its description is ${bytes(text)} bytes (at most ${DEFINITION_LIMITS.maxDescriptionBytes})`;
  }
  return undefined;
}

function schema(label: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const size = bytes(JSON.stringify(value) ?? "");
  return size > DEFINITION_LIMITS.maxSchemaBytes ? `its ${label} is ${size} bytes of JSON (at most ${DEFINITION_LIMITS.maxSchemaBytes})` : undefined;
}

function identifier(name: string): string | undefined {
  return UPSTREAM_NAME.test(name) ? undefined : "its name is not 1-128 letters, digits, '_', '.' and '-'";
}

export const checkTool: Check<Tool> = (tool) =>
  identifier(tool.name) ??
  description(tool.description) ??
  (tool.title !== undefined && (tool.title.length > DEFINITION_LIMITS.maxResourceNameLength || CONTROL.test(tool.title))
    ? "its title is too long or holds control characters"
    : undefined) ??
  schema("inputSchema", tool.inputSchema) ??
  schema("outputSchema", tool.outputSchema) ??
  schema("annotations", tool.annotations);

function displayName(name: string): string | undefined {
  if (name.length === 0 || name.length > DEFINITION_LIMITS.maxResourceNameLength)
    return `its name is empty or longer than ${DEFINITION_LIMITS.maxResourceNameLength} characters`;
  return CONTROL.test(name) ? "its name holds control characters" : undefined;
}

function uri(value: string): string | undefined {
  if (value.length > DEFINITION_LIMITS.maxUriLength) return `its URI is longer than ${DEFINITION_LIMITS.maxUriLength} characters`;
  return CONTROL.test(value) ? "its URI holds control characters" : undefined;
}

export const checkResource: Check<Resource> = (resource) => displayName(resource.name) ?? uri(resource.uri) ?? description(resource.description);

export const checkResourceTemplate: Check<ResourceTemplate> = (template) =>
  displayName(template.name) ?? uri(template.uriTemplate) ?? description(template.description);

export const checkPrompt: Check<Prompt> = (prompt) => {
  const problem = identifier(prompt.name) ?? description(prompt.description);
  if (problem !== undefined) return problem;
  const args = prompt.arguments ?? [];
  if (args.length > DEFINITION_LIMITS.maxPromptArguments) return `it has ${args.length} arguments (at most ${DEFINITION_LIMITS.maxPromptArguments})`;
  for (const arg of args) {
    if (!UPSTREAM_NAME.test(arg.name)) return "an argument's name is not 1-128 letters, digits, '_', '.' and '-'";
    const argProblem = description(arg.description);
    if (argProblem !== undefined) return `an argument: ${argProblem}`;
  }
  return undefined;
};

/** A name safe to put in a log line: JSON-quoted and cut short. */
export function logName(name: unknown): string {
  const text = JSON.stringify(typeof name === "string" ? name : String(name)) ?? "";
  return text.length > 140 ? `${text.slice(0, 140)}…` : text;
}
