import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { errorMessage } from "../errors.js";
import type { Logger } from "../log.js";

export type AcquireResult = { ok: true; id: string } | { ok: false; running: number };

/**
 * Where a tool's concurrency caps are counted. A slot is held under a key (the tool and the grant) with
 * a lease: its holder renews it while the call runs and releases it after; a slot whose lease ran out is
 * not counted, so a broker that died frees its caps by itself. In this process on the embedded store
 * (createMemorySlotStore); in the shared database in fleet mode, so the cap holds across brokers.
 */
export interface SlotStore {
  /** Takes a slot of `key` unless `max` unexpired ones are held already; then says how many are. */
  acquire(key: string, max: number, owner: string, leaseMs: number, now: number): Promise<AcquireResult>;
  /** Extends a slot's lease to `now + leaseMs`; false when it had already run out (the slot may be someone else's now). */
  renew(id: string, leaseMs: number, now: number): Promise<boolean>;
  /** Gives a slot back; releasing one that is gone (lapsed, or released before) does nothing. */
  release(id: string): Promise<void>;
}

/**
 * The slots of one process, in memory. Every method does its work synchronously, when called, and
 * returns a settled promise: two admissions in this process cannot both take the last slot, however
 * their awaits interleave.
 */
export function createMemorySlotStore(): SlotStore {
  /** key → slot id → lease end */
  const byKey = new Map<string, Map<string, number>>();
  const keyOf = new Map<string, string>();

  const drop = (key: string, id: string): void => {
    keyOf.delete(id);
    const held = byKey.get(key);
    held?.delete(id);
    if (held?.size === 0) byKey.delete(key);
  };
  const prune = (key: string, now: number): void => {
    for (const [id, expiresAt] of byKey.get(key) ?? []) if (expiresAt <= now) drop(key, id);
  };

  return {
    acquire(key, max, _owner, leaseMs, now) {
      prune(key, now);
      const running = byKey.get(key)?.size ?? 0;
      if (running >= max) return Promise.resolve({ ok: false, running });
      const id = `slot_${randomUUID()}`;
      let held = byKey.get(key);
      if (held === undefined) byKey.set(key, (held = new Map()));
      held.set(id, now + leaseMs);
      keyOf.set(id, key);
      return Promise.resolve({ ok: true, id });
    },
    renew(id, leaseMs, now) {
      const key = keyOf.get(id);
      const expiresAt = key === undefined ? undefined : byKey.get(key)?.get(id);
      if (key === undefined || expiresAt === undefined) return Promise.resolve(false);
      if (expiresAt <= now) {
        drop(key, id);
        return Promise.resolve(false);
      }
      byKey.get(key)?.set(id, now + leaseMs);
      return Promise.resolve(true);
    },
    release(id) {
      const key = keyOf.get(id);
      if (key !== undefined) drop(key, id);
      return Promise.resolve();
    },
  };
}

/** Who holds this process's slots, as a shared database records it. */
export function processOwner(): string {
  return `${hostname()}:${process.pid}`;
}

export interface HoldOptions {
  owner: string;
  leaseMs: number;
  /** where a failed renewal or release is logged (neither fails the call that holds the slot) */
  log: Logger;
  /** the lease clock, real time: the renewals run on timers */
  now?: () => number;
}

/** A slot held for one call: renewed on a timer until released. */
export interface HeldSlot {
  /** Stops the renewals and gives the slot back. Idempotent; never rejects (a failure is logged, and the lease frees the slot). */
  release(): Promise<void>;
}

/**
 * Acquires a slot and keeps its lease alive (every third of the lease, on an unref'd timer) until it is
 * released. A store error while acquiring is thrown, so the call is refused (fail closed); errors after
 * that are logged, since the call is already running and the lease bounds what a lost slot costs.
 */
export async function holdSlot(
  store: SlotStore,
  key: string,
  max: number,
  options: HoldOptions,
): Promise<{ ok: true; slot: HeldSlot } | { ok: false; running: number }> {
  const now = options.now ?? Date.now;
  const { leaseMs, log } = options;
  const acquired = await store.acquire(key, max, options.owner, leaseMs, now());
  if (!acquired.ok) return acquired;
  const { id } = acquired;

  let released = false;
  let renewing = false;
  const timer = setInterval(
    () => {
      if (renewing || released) return;
      renewing = true;
      void store
        .renew(id, leaseMs, now())
        .then(
          (renewed) => {
            if (renewed || released) return;
            clearInterval(timer);
            log.warn({ slot: id, key }, "a concurrency slot's lease ran out before its call finished; the call goes on, no longer counted against the cap");
          },
          (error: unknown) => {
            if (!released) log.warn({ slot: id, key, err: errorMessage(error) }, "could not renew a concurrency slot's lease; retrying at the next renewal");
          },
        )
        .finally(() => {
          renewing = false;
        });
    },
    Math.max(1, Math.floor(leaseMs / 3)),
  );
  timer.unref();

  let releasing: Promise<void> | undefined;
  const release = (): Promise<void> =>
    (releasing ??= (async () => {
      released = true;
      clearInterval(timer);
      try {
        await store.release(id);
      } catch (error) {
        log.warn(
          { slot: id, key, err: errorMessage(error) },
          `could not release a concurrency slot; it frees itself when its lease runs out (within ${Math.ceil(leaseMs / 1000)} s)`,
        );
      }
    })());
  return { ok: true, slot: { release } };
}
