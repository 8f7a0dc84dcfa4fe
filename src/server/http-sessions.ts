/** How long an HTTP session may sit idle and how many may be open. */
export interface SessionLimits {
  /** a session with no request in flight and none for this long is expired */
  idleMs: number;
  maxPerGrant: number;
  maxTotal: number;
}

/** One open session: whose it is, when it was last used, how many of its requests are still running. */
export interface SessionEntry<T> {
  id: string;
  grant: string;
  value: T;
  lastUsedMs: number;
  inFlight: number;
}

/** Whether a new session may open: it may cost the same grant's least recently used idle session. */
export type Admission<T> =
  { ok: true; evicted: SessionEntry<T> | undefined } | { ok: false; status: 429 | 503; cap: "max_sessions_per_grant" | "max_sessions"; message: string };

/** Counters since start, for `doctor`, tests and the bench. */
export interface SessionStats {
  open: number;
  /** open sessions with a request in flight or a stream open */
  busy: number;
  opened: number;
  expired: number;
  evicted: number;
  refused: number;
}

/**
 * The open sessions of `serve --http`, by id and by grant, with the idle clock and the caps. Pure
 * bookkeeping: it says which sessions to close and the caller closes them. A session with a request in
 * flight (a long install, an open SSE stream) is never idle, so never expired or evicted.
 */
export class SessionTable<T> {
  private readonly byId = new Map<string, SessionEntry<T>>();
  private readonly perGrant = new Map<string, number>();
  private readonly counters = { opened: 0, expired: 0, evicted: 0, refused: 0 };

  constructor(
    private readonly limits: SessionLimits,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.byId.size;
  }

  stats(): SessionStats {
    let busy = 0;
    for (const entry of this.byId.values()) if (entry.inFlight > 0) busy += 1;
    return { open: this.byId.size, busy, ...this.counters };
  }

  get(id: string): SessionEntry<T> | undefined {
    return this.byId.get(id);
  }

  isExpired(entry: SessionEntry<T>): boolean {
    return entry.inFlight === 0 && this.now() - entry.lastUsedMs >= this.limits.idleMs;
  }

  /**
   * Room for one more session of `grant`. At either cap the grant's own least recently used idle
   * session is taken out (returned, for the caller to close); when the grant has none, the cap refuses.
   */
  admit(grant: string): Admission<T> {
    const mine = this.perGrant.get(grant) ?? 0;
    const atGrantCap = mine >= this.limits.maxPerGrant;
    if (!atGrantCap && this.byId.size < this.limits.maxTotal) return { ok: true, evicted: undefined };
    const victim = this.leastRecentlyUsedIdle(grant);
    if (victim !== undefined) {
      this.remove(victim.id);
      this.counters.evicted += 1;
      return { ok: true, evicted: victim };
    }
    this.counters.refused += 1;
    const idleSeconds = Math.ceil(this.limits.idleMs / 1000);
    if (atGrantCap) {
      return {
        ok: false,
        status: 429,
        cap: "max_sessions_per_grant",
        message:
          `grant "${grant}" already has ${String(mine)} open sessions, each with a request in flight (http.max_sessions_per_grant is ${String(this.limits.maxPerGrant)}); ` +
          "reuse one, end one (DELETE with its Mcp-Session-Id), or retry when a request finishes",
      };
    }
    return {
      ok: false,
      status: 503,
      cap: "max_sessions",
      message:
        `the server already holds ${String(this.byId.size)} open sessions (http.max_sessions is ${String(this.limits.maxTotal)}) and grant "${grant}" has no idle one to give up; ` +
        `retry in ${String(idleSeconds)} s, when idle sessions have expired, or raise http.max_sessions`,
    };
  }

  /** Records a new session; it counts as busy (its initialize is in flight) until `end`. */
  add(id: string, grant: string, value: T): SessionEntry<T> {
    const entry: SessionEntry<T> = { id, grant, value, lastUsedMs: this.now(), inFlight: 1 };
    this.byId.set(id, entry);
    this.perGrant.set(grant, (this.perGrant.get(grant) ?? 0) + 1);
    this.counters.opened += 1;
    return entry;
  }

  begin(entry: SessionEntry<T>): void {
    entry.inFlight += 1;
    entry.lastUsedMs = this.now();
  }

  end(entry: SessionEntry<T>): void {
    entry.inFlight = Math.max(0, entry.inFlight - 1);
    entry.lastUsedMs = this.now();
  }

  /** Takes a session out of the table; undefined when it is not (or no longer) there. */
  remove(id: string): SessionEntry<T> | undefined {
    const entry = this.byId.get(id);
    if (entry === undefined) return undefined;
    this.byId.delete(id);
    const left = (this.perGrant.get(entry.grant) ?? 1) - 1;
    if (left > 0) this.perGrant.set(entry.grant, left);
    else this.perGrant.delete(entry.grant);
    return entry;
  }

  /** Takes every expired session out of the table and returns them, for the caller to close. */
  takeExpired(): Array<SessionEntry<T>> {
    const expired = [...this.byId.values()].filter((entry) => this.isExpired(entry));
    for (const entry of expired) this.expire(entry);
    return expired;
  }

  /** Takes one expired session out (found expired on use rather than by the sweep). */
  expire(entry: SessionEntry<T>): void {
    if (this.remove(entry.id) !== undefined) this.counters.expired += 1;
  }

  /** Empties the table (server shutdown); returns what was open. */
  takeAll(): Array<SessionEntry<T>> {
    const all = [...this.byId.values()];
    this.byId.clear();
    this.perGrant.clear();
    return all;
  }

  private leastRecentlyUsedIdle(grant: string): SessionEntry<T> | undefined {
    let oldest: SessionEntry<T> | undefined;
    for (const entry of this.byId.values()) {
      if (entry.grant !== grant || entry.inFlight > 0) continue;
      if (oldest === undefined || entry.lastUsedMs < oldest.lastUsedMs) oldest = entry;
    }
    return oldest;
  }
}
