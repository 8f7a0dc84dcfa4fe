import type { Result } from "../../errors.js";

/** Caps on a pyproject.toml: past any of them the file is unreadable, never half-read. */
export interface TomlLimits {
  maxChars: number;
  /** Arrays and inline tables inside one another. */
  maxDepth: number;
  /** Entries of `[build-system] requires`. */
  maxRequires: number;
  /** Characters of one requirement string. */
  maxRequirementChars: number;
}

export const DEFAULT_TOML_LIMITS: TomlLimits = { maxChars: 256 * 1024, maxDepth: 32, maxRequires: 64, maxRequirementChars: 1024 };

const BARE_KEY = /[A-Za-z0-9_-]/;
const SCALAR = /^[A-Za-z0-9_:.+\- ]+$/;

class TomlError extends Error {}

/**
 * The one thing pipgate reads from a pyproject.toml: `[build-system] requires`, an array of strings
 * (either quote style, across lines, with comments). The rest of the document is only walked, so that
 * a string or a comment cannot pass for a table header. Anything this reader does not understand —
 * an inline `build-system = {…}`, a table defined twice, a nesting past the cap — is an error, never a
 * guess. Returns undefined when the document declares no `build-system.requires`.
 */
export function readBuildSystemRequires(text: string, limits: Partial<TomlLimits> = {}): Result<string[] | undefined> {
  const caps: TomlLimits = { ...DEFAULT_TOML_LIMITS, ...limits };
  if (text.length > caps.maxChars) return { ok: false, error: `pyproject.toml has more than ${caps.maxChars} characters` };
  try {
    return { ok: true, value: new Reader(text.replace(/^\uFEFF/, ""), caps).document() };
  } catch (error) {
    if (error instanceof TomlError) return { ok: false, error: error.message };
    throw error;
  }
}

class Reader {
  private pos = 0;
  private table: string[] = [];
  private readonly tables = new Set<string>();
  private requires: string[] | undefined;

  constructor(
    private readonly text: string,
    private readonly caps: TomlLimits,
  ) {}

  document(): string[] | undefined {
    for (;;) {
      this.skipBlank(true);
      if (this.pos >= this.text.length) return this.requires;
      if (this.text.startsWith("[[", this.pos)) this.header(true);
      else if (this.peek() === "[") this.header(false);
      else this.keyValue();
      this.endOfLine();
    }
  }

  private fail(what: string): never {
    const line = this.text.slice(0, this.pos).split("\n").length;
    throw new TomlError(`pyproject.toml line ${line}: ${what}`);
  }

  private peek(): string | undefined {
    return this.text[this.pos];
  }

  /** Spaces and tabs, comments, and (when allowed) newlines. */
  private skipBlank(newlines: boolean): void {
    while (this.pos < this.text.length) {
      const c = this.text[this.pos];
      if (c === " " || c === "\t") this.pos++;
      else if (c === "#") {
        const end = this.text.indexOf("\n", this.pos);
        this.pos = end < 0 ? this.text.length : end;
      } else if (newlines && (c === "\n" || (c === "\r" && this.text[this.pos + 1] === "\n"))) this.pos++;
      else return;
    }
  }

  private endOfLine(): void {
    this.skipBlank(false);
    if (this.pos >= this.text.length) return;
    if (this.peek() === "\n" || this.text.startsWith("\r\n", this.pos)) return;
    this.fail("expected the end of the line");
  }

  private header(arrayOfTables: boolean): void {
    this.pos += arrayOfTables ? 2 : 1;
    const path = this.key();
    if (!this.text.startsWith(arrayOfTables ? "]]" : "]", this.pos)) this.fail("table header is not closed");
    this.pos += arrayOfTables ? 2 : 1;
    const id = JSON.stringify(path);
    if (path[0] === "build-system" && (arrayOfTables || path.length > 1)) {
      // [[build-system]] or [build-system.requires] make `requires` something other than an array.
      if (arrayOfTables || path[1] === "requires") this.fail(`unsupported table [${path.join(".")}]`);
    }
    if (!arrayOfTables) {
      if (this.tables.has(id)) this.fail(`table [${path.join(".")}] is defined twice`);
      this.tables.add(id);
    }
    this.table = path;
  }

  /** A dotted key: bare or quoted parts, spaces around the dots. */
  private key(): string[] {
    const parts: string[] = [];
    for (;;) {
      this.skipBlank(false);
      const c = this.peek();
      if (c === '"' || c === "'") {
        if (this.text.startsWith(c.repeat(3), this.pos)) this.fail("a key cannot be a multi-line string");
        parts.push(this.string());
      } else {
        const start = this.pos;
        while (this.pos < this.text.length && BARE_KEY.test(this.text[this.pos] ?? "")) this.pos++;
        if (this.pos === start) this.fail("expected a key");
        parts.push(this.text.slice(start, this.pos));
      }
      this.skipBlank(false);
      if (this.peek() !== ".") return parts;
      this.pos++;
    }
  }

  private keyValue(): void {
    const path = [...this.table, ...this.key()];
    if (this.peek() !== "=") this.fail("expected '=' after a key");
    this.pos++;
    this.skipBlank(false);
    if (path[0] === "build-system" && path.length === 1) this.fail("an inline build-system table is not supported");
    if (path[0] === "build-system" && path[1] === "requires" && path.length > 2) this.fail("build-system.requires is not an array");
    if (path.length === 2 && path[0] === "build-system" && path[1] === "requires") {
      if (this.requires !== undefined) this.fail("build-system.requires is defined twice");
      this.requires = this.requiresArray();
      return;
    }
    this.value(0);
  }

  private requiresArray(): string[] {
    if (this.peek() !== "[") this.fail("build-system.requires is not an array");
    this.pos++;
    const out: string[] = [];
    for (;;) {
      this.skipBlank(true);
      if (this.peek() === "]") break;
      const c = this.peek();
      if ((c !== '"' && c !== "'") || this.text.startsWith(c.repeat(3), this.pos))
        this.fail("build-system.requires holds something other than a one-line string");
      const value = this.string();
      if (value.length > this.caps.maxRequirementChars) this.fail(`a build requirement is longer than ${this.caps.maxRequirementChars} characters`);
      out.push(value);
      if (out.length > this.caps.maxRequires) this.fail(`build-system.requires has more than ${this.caps.maxRequires} entries`);
      this.skipBlank(true);
      if (this.peek() === ",") this.pos++;
      else if (this.peek() !== "]") this.fail("expected ',' or ']' in build-system.requires");
    }
    this.pos++;
    return out;
  }

  /** Walks any value without keeping it. */
  private value(depth: number): void {
    if (depth > this.caps.maxDepth) this.fail(`values nest deeper than ${this.caps.maxDepth}`);
    const c = this.peek();
    if (c === '"' || c === "'") {
      if (this.text.startsWith(c.repeat(3), this.pos)) this.multiLineString(c);
      else this.string();
    } else if (c === "[") this.array(depth);
    else if (c === "{") this.inlineTable(depth);
    else this.scalar();
  }

  private array(depth: number): void {
    this.pos++;
    for (;;) {
      this.skipBlank(true);
      if (this.peek() === "]") break;
      this.value(depth + 1);
      this.skipBlank(true);
      if (this.peek() === ",") this.pos++;
      else if (this.peek() !== "]") this.fail("expected ',' or ']' in an array");
    }
    this.pos++;
  }

  private inlineTable(depth: number): void {
    this.pos++;
    this.skipBlank(false);
    if (this.peek() === "}") {
      this.pos++;
      return;
    }
    for (;;) {
      this.key();
      if (this.peek() !== "=") this.fail("expected '=' in an inline table");
      this.pos++;
      this.skipBlank(false);
      this.value(depth + 1);
      this.skipBlank(false);
      if (this.peek() === "}") break;
      if (this.peek() !== ",") this.fail("expected ',' or '}' in an inline table");
      this.pos++;
    }
    this.pos++;
  }

  /** true, false, numbers and dates: whatever runs to the next delimiter, in the characters they use. */
  private scalar(): void {
    const start = this.pos;
    while (this.pos < this.text.length && !/[,\]}#\r\n]/.test(this.text[this.pos] ?? "")) this.pos++;
    const token = this.text.slice(start, this.pos).trimEnd();
    this.pos = start + token.length;
    if (token === "" || !SCALAR.test(token)) this.fail("expected a value");
  }

  /** A one-line basic ("…", with escapes) or literal ('…') string. */
  private string(): string {
    const quote = this.peek();
    this.pos++;
    let out = "";
    while (this.pos < this.text.length) {
      const c = this.text[this.pos] ?? "";
      if (c === "\n") break;
      this.pos++;
      if (c === quote) return out;
      if (c === "\\" && quote === '"') out += this.escape();
      else out += c;
    }
    this.fail("string is not closed on its line");
  }

  private escape(): string {
    const c = this.text[this.pos++];
    const simple: Record<string, string> = { b: "\b", t: "\t", n: "\n", f: "\f", r: "\r", '"': '"', "\\": "\\" };
    if (c !== undefined && simple[c] !== undefined) return simple[c];
    const digits = c === "u" ? 4 : c === "U" ? 8 : 0;
    const hex = this.text.slice(this.pos, this.pos + digits);
    if (digits === 0 || !/^[0-9A-Fa-f]+$/.test(hex) || hex.length !== digits) this.fail("invalid escape in a string");
    this.pos += digits;
    const code = parseInt(hex, 16);
    if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) this.fail("invalid escape in a string");
    return String.fromCodePoint(code);
  }

  /** """…""" or '''…''': skipped to its closing delimiter (up to two quotes may precede it). */
  private multiLineString(quote: string): void {
    const delimiter = quote.repeat(3);
    this.pos += 3;
    while (this.pos < this.text.length) {
      if (quote === '"' && this.text[this.pos] === "\\") {
        this.pos += 2;
        continue;
      }
      if (this.text.startsWith(delimiter, this.pos)) {
        this.pos += 3;
        for (let extra = 0; extra < 2 && this.text[this.pos] === quote; extra++) this.pos++;
        return;
      }
      this.pos++;
    }
    this.fail("multi-line string is not closed");
  }
}
