import { parseMarker } from "../requirement/marker.js";
import { isValidName, isValidVersion, normalizeName } from "../requirement/index.js";
import type { LineNote } from "./requirements-file.js";
import { ARBITRARY_VERSION } from "./venv-pins.js";

/**
 * Bounds on a lock file: it is a file from outside (a teammate's commit, a generator's output), so its
 * size, its lines and what one line may carry are capped before anything else looks at it.
 */
export const LOCK_LIMITS = {
  maxBytes: 4 * 1024 * 1024,
  maxLineChars: 64 * 1024,
  maxPins: 10_000,
  maxHashesPerPin: 256,
} as const;

/** One pinned requirement of a lock file, as `allowlist sync --from-lock` uses it. */
export interface LockedPin {
  /** the line the requirement starts on (1-based) */
  line: number;
  /** the project name as written */
  name: string;
  /** "==" for a PEP 440 version, "===" for arbitrary equality (pip freeze writes it for versions PEP 440 cannot read) */
  operator: "==" | "===";
  version: string;
  /** the `--hash=sha256:HEX` values (lower-case hex) */
  hashes: string[];
  /** the marker after ";", dropped from the allowlist (which applies on every platform) */
  marker: string | undefined;
  /** pip-compile's `# via` annotation: the projects that require it, and `-r FILE` for a top-level requirement */
  via: string[];
}

export type LockResult = { ok: true; pins: LockedPin[] } | { ok: false; errors: LineNote[] };

const HASH = /^sha256:([0-9a-fA-F]{64})$/;
const HEAD = /^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[([^\]]*)\])?\s*/;
const PIN = /^(===?)\s*([^\s,;]+)$/;
const EXTRA = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** What each option line means to pip, so a refusal can say why pipgate will not follow it. */
function optionRefusal(option: string): string {
  const name = option.split(/[=\s]/)[0] ?? option;
  if (["-r", "--requirement", "-c", "--constraint"].includes(name))
    return `${name} includes another file; sync reads one lock file: give that file itself with --from-lock`;
  if (["-e", "--editable"].includes(name)) return `${name} is an editable install of a local or VCS project, which has no version on the index to pin`;
  if (["-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--trusted-host", "--no-index"].includes(name))
    return `${name} chooses where packages come from; pipgate resolves only from its own configured index: remove the line`;
  return `${name} is a pip option, not a pinned requirement`;
}

/**
 * Reads a lock file: requirements-style `name==version` lines, each optionally followed by
 * `--hash=sha256:HEX` options (continued with "\"), as pip-compile and `pip freeze` write them, with
 * comments (pip-compile's `# via` annotations are kept). Anything that is not a plain pinned
 * requirement — an option line, a range, a wildcard, a URL, a path, `name @ url`, a hash that is not
 * sha256, a second pin for the same project — is refused with its line number: a lock that pipgate
 * cannot reproduce exactly must not become an allowlist by guesswork. Every problem is reported, not
 * just the first.
 */
export function parseLockFile(text: string): LockResult {
  const errors: LineNote[] = [];
  if (text.length > LOCK_LIMITS.maxBytes) return { ok: false, errors: [{ line: 1, message: `the file is larger than ${LOCK_LIMITS.maxBytes} bytes` }] };
  const physical = text.split(/\r?\n/);
  const pins: LockedPin[] = [];
  const seen = new Map<string, number>();
  let last: LockedPin | undefined;
  let inVia = false;

  for (let i = 0; i < physical.length; i += 1) {
    const line = i + 1;
    let logical = physical[i] ?? "";
    while (logical.endsWith("\\") && i + 1 < physical.length && logical.length <= LOCK_LIMITS.maxLineChars) {
      i += 1;
      logical = `${logical.slice(0, -1)} ${physical[i] ?? ""}`;
    }
    if (logical.length > LOCK_LIMITS.maxLineChars) {
      errors.push({ line, message: `the line is longer than ${LOCK_LIMITS.maxLineChars} characters` });
      continue;
    }
    if (CONTROL.test(logical)) {
      errors.push({ line, message: "the line holds a control character" });
      continue;
    }
    const trimmed = logical.trim();
    if (trimmed === "") {
      last = undefined;
      inVia = false;
      continue;
    }
    if (trimmed.startsWith("#")) {
      // pip-compile: "    # via flask" or "    # via" followed by "    #   flask" lines
      const comment = trimmed.replace(/^#\s?/, "");
      const via = /^via(?:\s+(.*))?$/.exec(comment.trim());
      if (last !== undefined && via !== null) {
        inVia = via[1] === undefined || via[1].trim() === "";
        if (!inVia) last.via.push(...splitVia(via[1] ?? ""));
      } else if (last !== undefined && inVia && /^\s{2,}\S/.test(comment)) last.via.push(...splitVia(comment));
      else inVia = false;
      continue;
    }
    inVia = false;
    last = undefined;
    const commentAt = /\s#/.exec(logical);
    const inlineComment = commentAt === null ? undefined : logical.slice(commentAt.index).trim().replace(/^#\s?/, "");
    const content = (commentAt === null ? logical : logical.slice(0, commentAt.index)).trim();
    if (content === "") continue;
    const parsed = parseLine(content);
    if (!parsed.ok) {
      errors.push({ line, message: `${JSON.stringify(clip(content))}: ${parsed.error}` });
      continue;
    }
    const pin: LockedPin = { line, ...parsed.value, via: [] };
    const via = inlineComment === undefined ? null : /^via\s+(.*)$/.exec(inlineComment.trim());
    if (via?.[1] !== undefined) pin.via.push(...splitVia(via[1]));
    const key = normalizeName(pin.name);
    const first = seen.get(key);
    if (first !== undefined) {
      errors.push({
        line,
        message: `a second pin for ${pin.name} (the first is on line ${first}); an allowlist holds one specifier per project: lock for one platform, or keep one line`,
      });
      continue;
    }
    seen.set(key, line);
    if (pins.length >= LOCK_LIMITS.maxPins) {
      errors.push({ line, message: `more than ${LOCK_LIMITS.maxPins} pins; split the lock file` });
      break;
    }
    pins.push(pin);
    last = pin;
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, pins };
}

type ParsedLine = Omit<LockedPin, "line" | "via">;

/** One logical line without its comment: `name[extras]==version [; marker] [--hash=sha256:HEX …]`. */
function parseLine(content: string): { ok: true; value: ParsedLine } | { ok: false; error: string } {
  if (content.startsWith("-")) return { ok: false, error: optionRefusal(content) };
  if (/^(?:[a-z][a-z0-9+.-]*:|\.{0,2}\/|~)/i.test(content))
    return { ok: false, error: "a URL or path names no project on the index; pin it by name (name==version)" };
  const optionAt = /\s--?[A-Za-z]/.exec(content);
  const requirement = (optionAt === null ? content : content.slice(0, optionAt.index)).trim();
  const hashes: string[] = [];
  if (optionAt !== null) {
    const tokens = content.slice(optionAt.index).trim().split(/\s+/);
    for (let t = 0; t < tokens.length; t += 1) {
      const token = tokens[t] ?? "";
      let value: string | undefined;
      if (token.startsWith("--hash=")) value = token.slice("--hash=".length);
      else if (token === "--hash") {
        t += 1;
        value = tokens[t];
      } else return { ok: false, error: `${token} is not allowed after a requirement: only --hash=sha256:HEX options are` };
      const hash = value === undefined ? null : HASH.exec(value);
      if (hash?.[1] === undefined)
        return { ok: false, error: `${JSON.stringify(clip(value ?? ""))} is not a sha256 hash (--hash=sha256: and 64 hex digits; pipgate verifies sha256)` };
      if (hashes.length >= LOCK_LIMITS.maxHashesPerPin) return { ok: false, error: `more than ${LOCK_LIMITS.maxHashesPerPin} hashes` };
      hashes.push(hash[1].toLowerCase());
    }
  }
  const head = HEAD.exec(requirement);
  if (head?.[1] === undefined) return { ok: false, error: "does not start with a project name" };
  const name = head[1];
  if (!isValidName(name)) return { ok: false, error: `${JSON.stringify(name)} is not a valid project name` };
  for (const extra of (head[2] ?? "").split(",").map((part) => part.trim())) {
    if (head[2] !== undefined && !EXTRA.test(extra)) return { ok: false, error: `${JSON.stringify(extra)} is not a valid extra name` };
  }
  let rest = requirement.slice(head[0].length);
  if (rest.startsWith("@"))
    return { ok: false, error: "a direct reference (name @ url) bypasses the index, which pipgate never does; pin the project by name" };
  let marker: string | undefined;
  const semicolon = rest.indexOf(";");
  if (semicolon >= 0) {
    marker = rest.slice(semicolon + 1).trim();
    rest = rest.slice(0, semicolon);
    const readable = parseMarker(marker);
    if (!readable.ok) return { ok: false, error: `the marker ${JSON.stringify(clip(marker))} cannot be read: ${readable.error}` };
  }
  const spec = rest.trim();
  if (spec === "") return { ok: false, error: "not pinned: a lock file pins every project exactly (name==version)" };
  const pin = PIN.exec(spec);
  if (pin?.[1] === undefined || pin[2] === undefined) {
    return { ok: false, error: `${JSON.stringify(clip(spec))} is not an exact pin: a lock file pins every project exactly (name==version), never a range` };
  }
  const operator = pin[1] === "===" ? "===" : "==";
  const version = pin[2];
  if (operator === "===" && !ARBITRARY_VERSION.test(version)) {
    return { ok: false, error: `${JSON.stringify(clip(version))} is not a version (letters, digits and . _ + ! - only)` };
  }
  if (operator === "==" && (version.includes("*") || !isValidVersion(version))) {
    return {
      ok: false,
      error: `${JSON.stringify(clip(version))} is not a PEP 440 version${version.includes("*") ? " (a wildcard is a range, not a pin)" : ""}`,
    };
  }
  return { ok: true, value: { name, operator, version, hashes, marker } };
}

function splitVia(text: string): string[] {
  return text
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "");
}

function clip(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Whether pip-compile's annotation says a project was asked for at the top level (`# via -r requirements.in`). */
export function lockRequested(pin: LockedPin): boolean {
  return pin.via.some((entry) => /^-r\s/.test(entry) || /^--requirement[=\s]/.test(entry));
}
