import { posix } from "node:path";
import { z } from "zod";
import { compilePolicyRegex } from "./safe-regex.js";

/**
 * Argument conditions of the policy file, in the spirit of PolicyLayer's Intercept. The model: every
 * condition is a REQUIREMENT on one argument ("file_path must be under /srv/work"). When the requirement
 * is not met, the condition's `action` happens: "deny" (the default) refuses the call, "approval" holds
 * it for a person. A missing argument does not meet a requirement unless the condition says
 * `optional: true` (fail closed). Conditions never allow anything the tool's own `action` refuses.
 */

/** What may name a rule in a refusal and in the audit log. */
const RULE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** A top-level argument name, or a dotted path into nested objects: at most 8 keys deep. */
const ARGUMENT_PATH = /^[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64}){0,7}$/;

export const ScalarSchema = z.union([z.string().max(4096), z.number(), z.boolean(), z.null()]);
export type Scalar = z.infer<typeof ScalarSchema>;

const absolutePath = (what: string) =>
  z
    .string()
    .min(1)
    .max(4096)
    .refine((value) => value.startsWith("/"), `${what} must be an absolute path`)
    .refine((value) => !value.includes("\0"), `${what} may not contain NUL`)
    // stored normalised (no "..", ".", doubled or trailing slashes), so comparison is by whole segments
    .transform((value) => stripTrailingSlash(posix.normalize(value)));

function stripTrailingSlash(path: string): string {
  return path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
}

const TESTS = ["equals", "in", "regex", "max_length", "prefix"] as const;

/** One condition as written in the file; `regex` is compiled at load time (see safe-regex.ts). */
export const ConditionSchema = z
  .strictObject({
    name: z
      .string()
      .regex(RULE_NAME, "a rule name is 1-64 letters, digits, '_', '.' or '-'")
      .optional()
      .describe("what a refusal calls this rule; absent: tools.<tool>.conditions[<i>]"),
    argument: z
      .string()
      .regex(ARGUMENT_PATH, "an argument is a name, or a dotted path of names into nested objects (at most 8 deep)")
      .describe("the argument the requirement is about: a top-level name, or a.b.c for nested objects (own keys only, no array indexes)"),
    equals: ScalarSchema.optional().describe("the argument must be exactly this JSON scalar (same type, same value)"),
    in: z.array(ScalarSchema).min(1).max(1024).optional().describe("the argument must be one of these JSON scalars"),
    regex: z
      .string()
      .optional()
      .describe(
        "the argument must be a string that matches this pattern as a WHOLE (it is anchored); at most 4096 characters are matched — a longer value fails. " +
          "Backreferences, lookarounds, nested quantifiers and quantified alternations are refused at load time, and at most two unbounded quantifiers",
      ),
    max_length: z
      .number()
      .int()
      .min(0)
      .max(100_000_000)
      .optional()
      .describe("the argument must be a string of at most this many characters, or an array of at most this many items"),
    prefix: absolutePath("prefix")
      .optional()
      .describe(
        "the argument must be a path at or under this absolute directory, compared by whole segments AFTER normalisation ('.', '..', doubled slashes): " +
          "/work/a/../../etc is not under /work, nor is /work2. Relative values are resolved against base_dir, or refused without it; values with NUL or a leading '~' are refused. " +
          "The check is lexical: it does not follow symbolic links",
      ),
    base_dir: absolutePath("base_dir")
      .optional()
      .describe("prefix only: the directory relative argument values are resolved against (the upstream's working directory); absent: relative values fail"),
    optional: z.boolean().default(false).describe("a missing argument meets the requirement; by default it does not (fail closed)"),
    action: z
      .enum(["deny", "approval"])
      .default("deny")
      .describe("what happens when the requirement is NOT met: deny refuses the call, approval holds it for a person"),
  })
  .superRefine((condition, context) => {
    const tests = TESTS.filter((test) => condition[test] !== undefined);
    if (tests.length !== 1) {
      context.addIssue({
        code: "custom",
        message:
          tests.length === 0
            ? `a condition needs one test: ${TESTS.join(", ")}`
            : `a condition has exactly one test; this one has ${tests.join(", ")} (write one condition per test)`,
      });
    }
    if (condition.base_dir !== undefined && condition.prefix === undefined) {
      context.addIssue({ code: "custom", path: ["base_dir"], message: "base_dir only applies to a prefix condition" });
    }
    if (condition.regex !== undefined) {
      const compiled = compilePolicyRegex(condition.regex);
      if (!compiled.ok) context.addIssue({ code: "custom", path: ["regex"], message: compiled.error });
    }
  });
export type Condition = z.infer<typeof ConditionSchema>;

/** What happens to a call of a tool the file names: run it (within its limits), refuse it, or hold it for a person. */
export const ToolActionSchema = z
  .enum(["allow", "deny", "approval"])
  .describe("allow runs the call within its limits; deny refuses every call; approval holds every call for a person (pipgate approvals)");
export type ToolAction = z.infer<typeof ToolActionSchema>;
