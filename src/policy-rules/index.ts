export { toolRules, type PlacedCondition, type ToolRules } from "./effective.js";
export { toolVerdict, defaultDenyMessage, type ToolVerdict } from "./verdict.js";
export { checkCondition, type ConditionCheck } from "./conditions.js";
export { isUnder, lookupArgument, normalisePathValue } from "./argument-path.js";
