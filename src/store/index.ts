import type { AuditLog } from "../audit/store.js";
import type { SlotStore } from "../ratelimit/slots.js";
import type { RateStore } from "../ratelimit/store.js";
import type { ApprovalStore } from "../approvals/store.js";
import type { CallApprovalStore } from "../approvals/call-approvals.js";
import type { HttpCacheStore } from "../index/http-cache.js";
import type { ResolutionCache } from "../pipeline/resolution-cache.js";
import type { PublisherStore } from "../provenance/store.js";

/**
 * The state a fleet of brokers shares (issue 17): the audit chain, the rate-limit windows and
 * concurrency slots, the install approval queue, held tool calls, the two caches, and the publishers
 * provenance recorded at first installs. One object, so the broker and the CLI open it once and an
 * adapter (SQLite, the embedded default; PostgreSQL for a fleet) provides all of it.
 *
 * Not in it, on purpose: the commit journal (commit/journal.ts) and the gateway's tool pins
 * (gateway/pins.ts). They describe this machine — its venvs and its upstream processes — so they stay
 * in the local SQLite file of the state directory whatever store the shared state is in.
 */
export interface StateStore {
  audit: AuditLog;
  rates: RateStore;
  /**
   * Tools' concurrency caps as leased slots: in memory, per process, with the embedded SQLite store; in
   * the shared database in fleet mode, so a cap holds across every broker.
   */
  slots: SlotStore;
  approvals: ApprovalStore;
  callApprovals: CallApprovalStore;
  httpCache: HttpCacheStore;
  resolutions: ResolutionCache;
  /** rules.provenance: the Trusted Publisher each project was first installed from */
  publishers: PublisherStore;
  /** Releases what the adapter opened (connections, a database handle it owns); the stores are unusable after. */
  close(): Promise<void>;
}
