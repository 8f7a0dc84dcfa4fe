// The requirement stage of the pipeline: what pipgate accepts as `package_name`, and PEP 440 matching.
export type { ParseResult, RefusalKind, Requirement } from "./types.js";
export { REFUSAL_KINDS } from "./types.js";
export { REQUIREMENT_LIMITS } from "./limits.js";
export { ACCEPTED_FORM } from "./messages.js";
export { NAME_PATTERN, isValidName, normalizeName } from "./name.js";
export { formatRequirement, parseRequirement } from "./parse.js";
export { isValidVersion, mentionsPrerelease, versionSatisfies, type SatisfiesOptions } from "./version.js";
export { echo } from "./echo.js";
