import { echo, showChar } from "./echo.js";
import { REQUIREMENT_LIMITS } from "./limits.js";
import { refuse } from "./messages.js";
import type { ParseResult } from "./types.js";

type Refusal = Extract<ParseResult, { ok: false }>;

/** C0 and C1 controls, DEL, and Unicode's invisible format characters and line separators. */
const CONTROL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
const URL_START = /^(?:[a-z][a-z0-9.-]*\+)?(?:https?|ftp|file|ssh|git|hg|svn|bzr|data|javascript):/i;

/**
 * Whole-string checks, before any grammar. Their ORDER is part of the contract: the first that
 * matches names the refusal, so "-r /etc/passwd" is an option (not a path) and "requests;rm -rf /"
 * is a marker. Returns undefined when the string may go on to the grammar.
 */
export function screenRequirement(raw: string): Refusal | undefined {
  if (raw.length > REQUIREMENT_LIMITS.total) {
    return refuse(
      "too-long",
      `package_name ${echo(raw)} is ${raw.length} characters long; pipgate accepts at most ${REQUIREMENT_LIMITS.total} characters (a name of at most ${REQUIREMENT_LIMITS.name}, at most ${REQUIREMENT_LIMITS.extras} extras of at most ${REQUIREMENT_LIMITS.extra} characters each).`,
    );
  }
  const chars = [...raw];
  const control = chars.findIndex((char) => CONTROL.test(char));
  if (control >= 0) {
    return refuse(
      "control",
      `package_name ${echo(raw)} contains the control or invisible character "${showChar(chars[control] ?? "")}" at position ${control + 1}; a requirement is one line of printable ASCII.`,
    );
  }
  const nonAscii = chars.findIndex((char) => char > "\u007e");
  if (nonAscii >= 0) {
    return refuse(
      "non-ascii",
      `package_name ${echo(raw)} contains the non-ASCII character "${showChar(chars[nonAscii] ?? "")}" at position ${nonAscii + 1}; project names are ASCII only, and look-alike letters from other alphabets are refused.`,
    );
  }
  const text = raw.trim();
  if (text === "") return refuse("empty", "package_name is empty; name the project to install.");
  const quoted = echo(raw);
  if (text.startsWith("-")) {
    return refuse(
      "option",
      `package_name ${quoted} is a pip option; pipgate chooses pip's options itself (index, builds and requirement files are not the caller's to set).`,
    );
  }
  if (text.includes("@")) {
    return refuse("direct-reference", `package_name ${quoted} is a direct reference ("name @ URL"); pipgate installs only from its configured index.`);
  }
  if (text.includes("://") || URL_START.test(text)) {
    return refuse("url", `package_name ${quoted} is a URL; pipgate installs only from its configured index.`);
  }
  const semicolon = text.indexOf(";");
  if (semicolon >= 0) {
    if (/^\s*[<>=!~]/.test(text.slice(semicolon + 1))) {
      return refuse("invalid-specifier", `package_name ${quoted} separates version clauses with ";"; separate them with commas, e.g. "requests>=2.0,<3".`);
    }
    return refuse(
      "marker",
      `package_name ${quoted} carries an environment marker (the part after ";"); markers are refused because pipgate installs into one known interpreter, so there is nothing for a marker to decide. Leave out the ";" and what follows.`,
    );
  }
  const option = /(?:^|\s)(-\S*)/.exec(text);
  if (option !== null) {
    return refuse(
      "option",
      `package_name ${quoted} contains the pip option ${echo(option[1] ?? "")}; pipgate chooses pip's options itself (index, builds, hashes and requirement files are not the caller's to set).`,
    );
  }
  if (/[/\\]/.test(text) || text === "." || text === ".." || /^~[A-Za-z0-9_]/.test(text)) {
    return refuse("path", `package_name ${quoted} is a file or directory path; pipgate installs only from its configured index, never from local files.`);
  }
  return undefined;
}
