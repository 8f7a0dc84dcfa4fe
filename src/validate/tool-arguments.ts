import { z } from "zod";
import { ENVIRONMENT_NAME } from "../config/schema.js";
import { ACCEPTED_FORM, echo, parseRequirement, REFUSAL_KINDS, REQUIREMENT_LIMITS } from "../requirement/index.js";
import type { RefusalKind, Requirement } from "../requirement/index.js";

/** What argument validation needs from the configuration; passed in, never read from module state. */
export interface ArgumentContext {
  environments: readonly string[];
  timeoutMax: number;
}

/** `install_package` arguments after validation: the only form the pipeline ever sees. */
export interface InstallArguments {
  requirement: Requirement;
  environment: string;
  upgrade: boolean;
  timeout: number;
}

/** `check_package` arguments after validation. */
export interface CheckArguments {
  requirement: Requirement;
  environment: string;
  /** resolve the whole tree in the sandbox (a container run) instead of deciding the named project only */
  resolve: boolean;
}

/** Why a call was refused: the refusal kind, the argument at fault, and a message for the agent. */
export type Refusal = { kind: RefusalKind; field: string; message: string };

export type ValidationResult<T> = { ok: true; args: T } | { ok: false; refusal: Refusal };

export const DEFAULT_ENVIRONMENT = "default";

/**
 * Where a call that omits `environment` goes, and what the tools' schemas advertise as its default:
 * "default" when the caller may use it. Otherwise there is no default and `environment` is required
 * (advertised so): picking another environment for the caller is how an install lands in the wrong venv.
 */
export function defaultEnvironment(environments: readonly string[]): string | undefined {
  return environments.includes(DEFAULT_ENVIRONMENT) ? DEFAULT_ENVIRONMENT : undefined;
}

/** The refusal of a call that omits `environment` where there is no default. */
export function environmentRequiredMessage(environments: readonly string[]): string {
  return `environment is required here, as no environment you may use is named "default"; configured environments: ${quoteList(environments)}.`;
}
/** The requested environment from raw arguments, if it is a configured one (for audit columns only). */
export function rawEnvironment(raw: unknown, known: readonly string[]): string | undefined {
  if (typeof raw !== "object" || raw === null) return undefined;
  const value = (raw as Record<string, unknown>).environment ?? defaultEnvironment(known);
  return typeof value === "string" && known.includes(value) ? value : undefined;
}

export const DEFAULT_TIMEOUT_SECONDS = 300;

/** The default timeout, lowered to the configured maximum when that is smaller. */
export function defaultTimeout(ctx: ArgumentContext): number {
  return Math.min(DEFAULT_TIMEOUT_SECONDS, ctx.timeoutMax);
}

const RefusalKindSchema = z.enum(REFUSAL_KINDS);

/** Which refusal kind each argument's problems are reported as (package_name says its own). */
const FIELD_KIND = { package_name: "type", environment: "environment", upgrade: "upgrade", timeout: "timeout", resolve: "type" } as const;
type Field = keyof typeof FIELD_KIND;

const INSTALL_FIELDS: readonly Field[] = ["package_name", "environment", "upgrade", "timeout"];
const CHECK_FIELDS: readonly Field[] = ["package_name", "environment", "resolve"];

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return echo(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return typeof value === "object" ? "an object" : typeof value;
}

function quoteList(names: readonly string[]): string {
  return names.length === 0 ? "none" : names.map((name) => JSON.stringify(name)).join(", ");
}

/** package_name: a string that parses as a requirement; the parser's refusal kind travels in the issue. */
function requirementField() {
  return z
    .unknown()
    .optional()
    .transform((value, ctx): Requirement => {
      if (typeof value !== "string") {
        const what = value === undefined ? "is missing" : `must be a string holding one requirement, not ${describeValue(value)}`;
        ctx.addIssue({ code: "custom", message: `package_name ${what}. ${ACCEPTED_FORM}`, params: { kind: "type" } });
        return z.NEVER;
      }
      const parsed = parseRequirement(value);
      if (parsed.ok) return parsed.requirement;
      ctx.addIssue({ code: "custom", message: parsed.message, params: { kind: parsed.kind } });
      return z.NEVER;
    });
}

/** environment: a configured name, never a path, or the caller's default when omitted; the refusal lists what is configured. */
function environmentField(ctx: ArgumentContext) {
  const configured = `configured environments: ${quoteList(ctx.environments)}.`;
  const fallback = defaultEnvironment(ctx.environments);
  return z
    .string({ error: (issue) => `environment must be a string naming a configured environment, not ${describeValue(issue.input)}; ${configured}` })
    .optional()
    .transform((given, refine): string => {
      const name = given ?? fallback;
      if (name === undefined) {
        refine.addIssue({ code: "custom", message: environmentRequiredMessage(ctx.environments) });
        return z.NEVER;
      }
      if (ctx.environments.includes(name) && ENVIRONMENT_NAME.test(name)) return name;
      const problem = /[/\\]|\.\./.test(name)
        ? `environment ${echo(name)} is a path; it must be the name of a configured environment`
        : `environment ${echo(name)} is not configured`;
      refine.addIssue({ code: "custom", message: `${problem}; ${configured}` });
      return z.NEVER;
    });
}

/** upgrade: a JSON boolean. "yes", 1 and "true" are refused: no coercion of what an agent meant. */
function upgradeField() {
  return z
    .boolean({ error: (issue) => `upgrade must be true or false (a JSON boolean), not ${describeValue(issue.input)}; it defaults to false.` })
    .default(false);
}

/** timeout: whole seconds within 1..timeoutMax, the bounds stated in every refusal. */
function timeoutField(ctx: ArgumentContext) {
  const bounds = (issue: { input: unknown }) =>
    `timeout must be a whole number of seconds from 1 to ${ctx.timeoutMax}, not ${describeValue(issue.input)}; it defaults to ${defaultTimeout(ctx)}.`;
  return z.number({ error: bounds }).int({ error: bounds }).min(1, { error: bounds }).max(ctx.timeoutMax, { error: bounds }).default(defaultTimeout(ctx));
}

/** The strict schema of `install_package` arguments: what the handler validates against. */
export function installArgumentsSchema(ctx: ArgumentContext) {
  return z.strictObject({
    package_name: requirementField(),
    environment: environmentField(ctx),
    upgrade: upgradeField(),
    timeout: timeoutField(ctx),
  });
}

/** The strict schema of `check_package` arguments: the install schema's first two fields, and resolve. */
export function checkArgumentsSchema(ctx: ArgumentContext) {
  return z.strictObject({ package_name: requirementField(), environment: environmentField(ctx), resolve: resolveField() });
}

/** resolve: a JSON boolean, false by default (the dry decision; true runs a container). */
function resolveField() {
  return z
    .boolean({ error: (issue) => `resolve must be true or false (a JSON boolean), not ${describeValue(issue.input)}; it defaults to false.` })
    .default(false);
}

/** Turns the first zod issue into a Refusal: the field's kind, or the kind the parser put in the issue. */
function toRefusal(issues: readonly z.core.$ZodIssue[], tool: string, fields: readonly Field[]): Refusal {
  const issue = issues[0];
  if (issue === undefined) return { kind: "type", field: "", message: `${tool}: the arguments were refused.` };
  if (issue.code === "unrecognized_keys") {
    const key = issue.keys[0] ?? "";
    return { kind: "type", field: key, message: `${tool} has no argument ${echo(key)}; it takes ${fields.join(", ")}.` };
  }
  const field = typeof issue.path[0] === "string" ? issue.path[0] : "";
  const fromParser = issue.code === "custom" ? RefusalKindSchema.safeParse(issue.params?.["kind"]) : undefined;
  const kind = fromParser?.success === true ? fromParser.data : Object.hasOwn(FIELD_KIND, field) ? FIELD_KIND[field as Field] : "type";
  return { kind, field, message: issue.message };
}

function argumentsObject(raw: unknown, tool: string): Refusal | undefined {
  if (typeof raw === "object" && raw !== null && !Array.isArray(raw)) return undefined;
  return { kind: "type", field: "", message: `${tool} takes an object of named arguments, not ${describeValue(raw)}.` };
}

/**
 * The well-formed call, checked without building and running the schema (which is most of a
 * check_package call's CPU): every key one of `fields`, package_name a requirement that parses,
 * environment a configured name (or the default when absent). Undefined is "not sure", never a
 * refusal: the caller then runs the schema, so every refusal keeps the schema's wording and kind, and
 * whatever this accepts the schema accepts alike (test/validate/fast-path.test.ts holds the two side by side).
 */
function plainCall(
  raw: object,
  fields: readonly Field[],
  ctx: ArgumentContext,
): { requirement: Requirement; environment: string; given: Record<string, unknown> } | undefined {
  const given = raw as Record<string, unknown>;
  for (const key of Object.keys(given)) if (!(fields as readonly string[]).includes(key)) return undefined;
  const name = given["package_name"];
  if (typeof name !== "string") return undefined;
  const env = given["environment"];
  const environment = env === undefined ? defaultEnvironment(ctx.environments) : env;
  if (typeof environment !== "string" || !ctx.environments.includes(environment) || !ENVIRONMENT_NAME.test(environment)) return undefined;
  const parsed = parseRequirement(name);
  return parsed.ok ? { requirement: parsed.requirement, environment, given } : undefined;
}

/** A JSON boolean, false when absent; undefined for anything else (the schema then words the refusal). */
function plainFlag(value: unknown): boolean | undefined {
  return value === undefined ? false : typeof value === "boolean" ? value : undefined;
}

function plainInstall(raw: object, ctx: ArgumentContext): InstallArguments | undefined {
  const call = plainCall(raw, INSTALL_FIELDS, ctx);
  if (call === undefined) return undefined;
  const upgrade = plainFlag(call.given["upgrade"]);
  const given = call.given["timeout"];
  const timeout =
    given === undefined
      ? defaultTimeout(ctx)
      : typeof given === "number" && Number.isInteger(given) && given >= 1 && given <= ctx.timeoutMax
        ? given
        : undefined;
  if (upgrade === undefined || timeout === undefined) return undefined;
  return { requirement: call.requirement, environment: call.environment, upgrade, timeout };
}

function plainCheck(raw: object, ctx: ArgumentContext): CheckArguments | undefined {
  const call = plainCall(raw, CHECK_FIELDS, ctx);
  const resolve = call === undefined ? undefined : plainFlag(call.given["resolve"]);
  return call === undefined || resolve === undefined ? undefined : { requirement: call.requirement, environment: call.environment, resolve };
}

/** Validates `install_package` arguments; every refusal is a value for an `isError` tool result. */
export function validateInstallArguments(raw: unknown, ctx: ArgumentContext): ValidationResult<InstallArguments> {
  const notObject = argumentsObject(raw, "install_package");
  if (notObject !== undefined) return { ok: false, refusal: notObject };
  const plain = plainInstall(raw as object, ctx);
  if (plain !== undefined) return { ok: true, args: plain };
  const parsed = installArgumentsSchema(ctx).safeParse(raw);
  if (!parsed.success) return { ok: false, refusal: toRefusal(parsed.error.issues, "install_package", INSTALL_FIELDS) };
  const { package_name: requirement, environment, upgrade, timeout } = parsed.data;
  return { ok: true, args: { requirement, environment, upgrade, timeout } };
}

/** Validates `check_package` arguments (package_name, environment and resolve). */
export function validateCheckArguments(raw: unknown, ctx: ArgumentContext): ValidationResult<CheckArguments> {
  const notObject = argumentsObject(raw, "check_package");
  if (notObject !== undefined) return { ok: false, refusal: notObject };
  const plain = plainCheck(raw as object, ctx);
  if (plain !== undefined) return { ok: true, args: plain };
  const parsed = checkArgumentsSchema(ctx).safeParse(raw);
  if (!parsed.success) return { ok: false, refusal: toRefusal(parsed.error.issues, "check_package", CHECK_FIELDS) };
  return { ok: true, args: { requirement: parsed.data.package_name, environment: parsed.data.environment, resolve: parsed.data.resolve } };
}

/*
 * What clients see. The SDK (1.32, McpServer.validateToolInput) parses arguments against the
 * registered inputSchema BEFORE our handler runs, and on failure answers with its own generic
 * "Input validation error" text: the agent would get zod's wording instead of an actionable
 * message, and the handler (which audits every request) would never run. So the schema given to
 * registerTool accepts any value for each argument (`z.unknown()`), and each field's `.meta()`
 * carries the JSON Schema keywords that DESCRIBE the real limits; zod merges them into the
 * advertised JSON Schema. The strict checks are the ones above, run in the handler.
 * `additionalProperties: false` is advertised and enforced there too (unknown keys are refused).
 */
/** Every accepted package_name matches this (a necessary condition, advertised to clients). */
export const PACKAGE_NAME_PATTERN = "^ *[A-Za-z0-9][A-Za-z0-9._\\-\\[\\], ()<>=!~*+]*$";

function packageNameMeta() {
  return {
    type: "string",
    minLength: 1,
    maxLength: REQUIREMENT_LIMITS.total,
    pattern: PACKAGE_NAME_PATTERN,
    description:
      "One requirement: a project name with optional extras and PEP 440 version specifier, e.g. " +
      '"numpy==1.26.4", "requests[socks]>=2.31", "Django>=4.2,<5" or "name (>=1.0)". URLs, paths, ' +
      "pip options and environment markers are refused.",
    examples: ["numpy==1.26.4", "requests[socks]>=2.31"],
  };
}

function environmentMeta(ctx: ArgumentContext) {
  const fallback = defaultEnvironment(ctx.environments);
  return {
    type: "string",
    enum: [...ctx.environments],
    ...(fallback === undefined ? {} : { default: fallback }),
    description:
      `The configured environment to install into (a name, never a path): ${quoteList(ctx.environments)}.` +
      (fallback === undefined ? ' Required: none of them is named "default".' : ""),
  };
}

/** package_name always; environment too when the caller has no default environment. */
function requiredArguments(ctx: ArgumentContext): string[] {
  return defaultEnvironment(ctx.environments) === undefined ? ["package_name", "environment"] : ["package_name"];
}

function looseField(meta: Record<string, unknown>) {
  return z.unknown().optional().meta(meta);
}

/** The inputSchema to pass to registerTool("install_package", …). */
export function installInputSchema(ctx: ArgumentContext) {
  return z
    .looseObject({
      package_name: looseField(packageNameMeta()),
      environment: looseField(environmentMeta(ctx)),
      upgrade: looseField({ type: "boolean", default: false, description: "Upgrade the project if it is already installed." }),
      timeout: looseField({
        type: "integer",
        minimum: 1,
        maximum: ctx.timeoutMax,
        default: defaultTimeout(ctx),
        description: `Seconds the whole install may take, from 1 to ${ctx.timeoutMax}.`,
      }),
    })
    .meta({ required: requiredArguments(ctx), additionalProperties: false });
}

/** The inputSchema to pass to registerTool("check_package", …). */
export function checkInputSchema(ctx: ArgumentContext) {
  return z
    .looseObject({
      package_name: looseField(packageNameMeta()),
      environment: looseField(environmentMeta(ctx)),
      resolve: looseField({
        type: "boolean",
        default: false,
        description:
          "Also resolve the whole dependency tree in the sandbox (seconds: a container run) and report every distribution policy refuses, " +
          "with who requires it. Default false: the decision on the named project only, in milliseconds.",
      }),
    })
    .meta({ required: requiredArguments(ctx), additionalProperties: false });
}
