import { randomBytes, timingSafeEqual } from "node:crypto";

/** One logged-in browser: the grant its token opened, and the token its forms must echo. */
export interface ConsoleSession {
  id: string;
  grant: string;
  /** the per-session CSRF token every form carries in a hidden field */
  csrf: string;
  created: number;
  lastSeen: number;
}

export interface SessionLimits {
  /** a session ends this long after login, however busy */
  maxAgeMs: number;
  /** … or this long after its last request */
  idleMs: number;
  /** the most sessions held; a login beyond it ends the least recently used one */
  maxSessions: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = { maxAgeMs: 8 * 3_600_000, idleMs: 3_600_000, maxSessions: 256 };

/** The cookie the console's session id travels in. */
export const SESSION_COOKIE = "pipgate_console";

const randomId = () => randomBytes(32).toString("base64url");

/** Compares two secrets in constant time (different lengths differ at once: the length is no secret). */
export function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a, "utf8");
  const right = Buffer.from(b, "utf8");
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * The console's sessions, in memory: a restart logs everyone out, which is the safe direction. Ids and CSRF
 * tokens are 256 random bits; a session expires by age and by idleness, and the table is bounded.
 */
export class ConsoleSessions {
  readonly #sessions = new Map<string, ConsoleSession>();

  constructor(
    private readonly limits: SessionLimits,
    private readonly now: () => number,
  ) {}

  create(grant: string): ConsoleSession {
    this.sweep();
    while (this.#sessions.size >= this.limits.maxSessions) {
      let oldest: ConsoleSession | undefined;
      for (const session of this.#sessions.values()) if (oldest === undefined || session.lastSeen < oldest.lastSeen) oldest = session;
      if (oldest === undefined) break;
      this.#sessions.delete(oldest.id);
    }
    const at = this.now();
    const session = { id: randomId(), grant, csrf: randomId(), created: at, lastSeen: at };
    this.#sessions.set(session.id, session);
    return session;
  }

  /** The live session behind a cookie's id, touched; undefined (and forgotten) once expired. */
  get(id: string): ConsoleSession | undefined {
    const session = this.#sessions.get(id);
    if (session === undefined) return undefined;
    const at = this.now();
    if (this.expired(session, at)) {
      this.#sessions.delete(id);
      return undefined;
    }
    session.lastSeen = at;
    return session;
  }

  delete(id: string): void {
    this.#sessions.delete(id);
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** Seconds a fresh session's cookie lives: the browser forgets it when the server would. */
  get maxAgeSeconds(): number {
    return Math.floor(this.limits.maxAgeMs / 1000);
  }

  private expired(session: ConsoleSession, at: number): boolean {
    return at - session.created >= this.limits.maxAgeMs || at - session.lastSeen >= this.limits.idleMs;
  }

  private sweep(): void {
    const at = this.now();
    for (const session of this.#sessions.values()) if (this.expired(session, at)) this.#sessions.delete(session.id);
  }
}

/** One cookie's value from a Cookie header, or undefined; a malformed header yields nothing rather than a guess. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined || header.length > 8192) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      return /^[A-Za-z0-9_-]{1,128}$/.test(value) ? value : undefined;
    }
  }
  return undefined;
}

/** The Set-Cookie value for a session: HttpOnly, SameSite=Strict, Secure behind TLS, and an expiry. */
export function sessionCookie(id: string, maxAgeSeconds: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure ? "; Secure" : ""}`;
}

/** The Set-Cookie value that ends a session in the browser. */
export function clearedCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure ? "; Secure" : ""}`;
}
