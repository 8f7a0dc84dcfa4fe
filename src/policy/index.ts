/** The policy stage's public face: the pure evaluation, the fetching orchestrator, and how decisions read. */
export { decide, decideExact, type PolicyDeps, type PolicyEnv } from "./decide.js";
export { candidateVersions, evaluate, MAX_CANDIDATES, type EvaluateInput, type PopularNamesInput } from "./evaluate.js";
export { formatDecision } from "./format.js";
export { createPopularNames, loadPopularNames, type PopularNames } from "./popular-names.js";
export { createNameIndex, type Lookalike, type NameIndex } from "./typosquat.js";
export { DecisionSchema, decisionToJson, RULE_NAMES, type Decision, type DecisionJson, type RuleName, type RuleResult } from "./types.js";
export { withContentRule, type ContentFinding } from "./content-rule.js";
export { checkProvenance, recordProvenance, withProvenance, type ProvenanceDeps } from "./provenance-rule.js";
