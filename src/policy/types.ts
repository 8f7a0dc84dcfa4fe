import { z } from "zod";
import type { PublisherChange } from "../config/allowlist.js";
import type { IndexFile } from "../index/types.js";

export const RULE_NAMES = [
  "deny",
  "allowlist",
  "typosquat",
  "unknown-name",
  "dependency-confusion",
  "exists",
  "new-project",
  "malware",
  "yanked",
  "release-age",
  "requires-python",
  "vulnerabilities",
  "license",
  "wheels-only",
  "content",
  "provenance",
] as const;
export type RuleName = (typeof RULE_NAMES)[number];

/** One rule's verdict, always with a one-line reason: a pass says why it passed, a skip why it did not apply. */
export interface RuleResult {
  rule: RuleName;
  outcome: "pass" | "fail" | "skip";
  detail: string;
}

/**
 * The policy's answer. A refusal carries what the agent can do instead: `hint` in words, and
 * `suggestion` when the request looks like a typo of a name it may use.
 */
export type Decision =
  | { allowed: true; name: string; version: string; files: IndexFile[]; rules: RuleResult[]; summary: string }
  | {
      allowed: false;
      name: string;
      version?: string;
      rules: RuleResult[];
      reason: string;
      hint?: string;
      suggestion?: string;
      /** the provenance rule refused it as a pin failure (rules.provenance_change): the recorded and the seen publisher */
      provenanceChange?: PublisherChange;
    };

const RuleResultSchema = z.object({
  rule: z.enum(RULE_NAMES).describe("the policy rule"),
  outcome: z.enum(["pass", "fail", "skip"]).describe("skip: the rule did not apply or was not reached"),
  detail: z.string().describe("one line saying why"),
});

const IndexFileSchema = z.object({
  filename: z.string(),
  url: z.string().describe("where the file is served, credentials stripped"),
  sha256: z.string().optional(),
  requiresPython: z.string().optional(),
  yanked: z.union([z.literal(false), z.string()]).describe("false, or the PEP 592 reason"),
  uploadTime: z.string().optional().describe("ISO 8601"),
  kind: z.enum(["wheel", "sdist"]),
  version: z.string(),
});

/** The JSON form of a Decision (dates as ISO strings), for MCP outputSchema and `check --json`. */
export const DecisionSchema = z.discriminatedUnion("allowed", [
  z.object({
    allowed: z.literal(true),
    name: z.string().describe("normalised project name"),
    version: z.string().describe("the version that passed every rule"),
    files: z.array(IndexFileSchema).describe("the files pip may use for that version"),
    rules: z.array(RuleResultSchema),
    summary: z.string().describe("which version was chosen and why others were skipped"),
  }),
  z.object({
    allowed: z.literal(false),
    name: z.string(),
    version: z.string().optional().describe("the version that was examined, when there was one"),
    rules: z.array(RuleResultSchema),
    reason: z.string().describe("why the request was refused"),
    hint: z.string().optional().describe("what the agent may do instead"),
    suggestion: z.string().optional().describe("the name the request probably meant"),
  }),
]);
export type DecisionJson = z.infer<typeof DecisionSchema>;

/** A Decision as plain JSON (no Dates, no undefined), matching DecisionSchema. */
export function decisionToJson(decision: Decision): DecisionJson {
  if (!decision.allowed) {
    return {
      allowed: false,
      name: decision.name,
      ...(decision.version === undefined ? {} : { version: decision.version }),
      rules: decision.rules,
      reason: decision.reason,
      ...(decision.hint === undefined ? {} : { hint: decision.hint }),
      ...(decision.suggestion === undefined ? {} : { suggestion: decision.suggestion }),
    };
  }
  return {
    allowed: true,
    name: decision.name,
    version: decision.version,
    rules: decision.rules,
    summary: decision.summary,
    files: decision.files.map((file) => ({
      filename: file.filename,
      url: file.url,
      ...(file.sha256 === undefined ? {} : { sha256: file.sha256 }),
      ...(file.requiresPython === undefined ? {} : { requiresPython: file.requiresPython }),
      yanked: file.yanked,
      ...(file.uploadTime === undefined ? {} : { uploadTime: file.uploadTime.toISOString() }),
      kind: file.kind,
      version: file.version,
    })),
  };
}
