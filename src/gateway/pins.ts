import { createHash } from "node:crypto";
import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { canonicalJson } from "../audit/canonical-json.js";
import type { Db } from "../state/db.js";

/**
 * Tool-definition pinning against rug pulls: an upstream that changes what a tool says it does (its
 * description, its schema) after an operator looked at it must not have the new definition reach an
 * agent silently. Semantics:
 * - the first definitions ever seen from an upstream are pinned and visible;
 * - a tool whose definition differs from its pin is hidden (and its calls refused) until an operator
 *   accepts the new definition (`pipgate upstream accept`); a change back to an older definition after
 *   an accept is a change again — only the accepted one is trusted;
 * - a tool first seen after the first pinning is pinned on first sight and visible, and reported in
 *   `added` so the caller audits it: hiding every new tool would make an upstream upgrade an outage,
 *   and a new tool still passes the policy file (whose default is deny) like any other;
 * - a definition over DEFINITION_MAX_BYTES, or a name listed twice, is refused outright (never pinned).
 * Pins are per upstream (`upstreamKey`), so configuring another upstream inherits nothing.
 */

/** The largest canonical definition pinned; a larger one is refused. */
export const DEFINITION_MAX_BYTES = 256 * 1024;

/** The parts of a tool that say what it does; a change to any of them is a change of definition. */
export function definitionOf(tool: Tool): Record<string, unknown> {
  return {
    name: tool.name,
    title: tool.title,
    description: tool.description,
    inputSchema: tool.inputSchema,
    outputSchema: tool.outputSchema,
    annotations: tool.annotations,
  };
}

/** sha256 hex of a definition's canonical JSON: key order and absent fields do not matter. */
export function definitionSha256(tool: Tool): string {
  return sha256(canonicalJson(definitionOf(tool)));
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** A stable id of a configured upstream: the sha256 of its command argv or its URL (headers, env and cwd aside). */
export function upstreamKey(upstream: { command?: readonly string[]; url?: string }): string {
  return sha256(canonicalJson(upstream.command !== undefined ? { command: upstream.command } : { url: upstream.url ?? "" }));
}

/** The upstream key of a loaded configuration, if it has `upstream:` with a command or url (read structurally). */
export function configuredUpstreamKey(config: object): string | undefined {
  const upstream = (config as { upstream?: unknown }).upstream;
  if (typeof upstream !== "object" || upstream === null) return undefined;
  const { command, url } = upstream as { command?: unknown; url?: unknown };
  if (Array.isArray(command) && command.every((part) => typeof part === "string")) return upstreamKey({ command: command as string[] });
  if (typeof url === "string") return upstreamKey({ url });
  return undefined;
}

export interface PinResult {
  /** the tools an agent may see and call: pinned, and as pinned */
  visible: Tool[];
  /** tools hidden because their definition differs from the accepted one */
  changed: Array<{ name: string; was: string; now: string }>;
  /** tools pinned on first sight in this call (after the upstream's first pinning) */
  added: string[];
  /** tools neither shown nor pinned: oversized definitions, names listed twice */
  refused: Array<{ name: string; reason: string }>;
}

const RowSchema = z.object({
  upstream_key: z.string(),
  name: z.string(),
  first_seen: z.number(),
  accepted_sha256: z.string(),
  accepted_definition: z.string(),
  accepted_at: z.number(),
  current_sha256: z.string(),
  current_definition: z.string(),
  last_seen: z.number(),
});
type Row = z.infer<typeof RowSchema>;

/**
 * Records what an upstream's tools/list said, and returns what may be shown. One transaction: two
 * sessions listing at once cannot both pin "first" definitions.
 */
export function pinDefinitions(db: Db, key: string, tools: readonly Tool[], now: Date): PinResult {
  const at = now.getTime();
  const select = db.prepare<[string], unknown>("SELECT * FROM upstream_tool_pins WHERE upstream_key = ?");
  const insert = db.prepare(
    `INSERT INTO upstream_tool_pins (upstream_key, name, first_seen, accepted_sha256, accepted_definition, accepted_at, current_sha256, current_definition, last_seen)
     VALUES (@key, @name, @at, @sha, @definition, @at, @sha, @definition, @at)`,
  );
  const seen = db.prepare(
    "UPDATE upstream_tool_pins SET current_sha256 = @sha, current_definition = @definition, last_seen = @at WHERE upstream_key = @key AND name = @name",
  );

  const run = db.transaction((): PinResult => {
    const pins = new Map(
      select.all(key).map((raw) => {
        const row = RowSchema.parse(raw);
        return [row.name, row] as const;
      }),
    );
    const first = pins.size === 0;
    const result: PinResult = { visible: [], changed: [], added: [], refused: [] };
    const counts = new Map<string, number>();
    for (const tool of tools) counts.set(tool.name, (counts.get(tool.name) ?? 0) + 1);
    for (const tool of tools) {
      if ((counts.get(tool.name) ?? 0) > 1) {
        if (!result.refused.some((entry) => entry.name === tool.name))
          result.refused.push({ name: tool.name, reason: "the upstream listed this name more than once" });
        continue;
      }
      const definition = canonicalJson(definitionOf(tool));
      if (Buffer.byteLength(definition) > DEFINITION_MAX_BYTES) {
        result.refused.push({ name: tool.name, reason: `its definition is over ${DEFINITION_MAX_BYTES} bytes` });
        continue;
      }
      const sha = sha256(definition);
      const pin = pins.get(tool.name);
      if (pin === undefined) {
        insert.run({ key, name: tool.name, at, sha, definition });
        result.visible.push(tool);
        if (!first) result.added.push(tool.name);
        continue;
      }
      seen.run({ key, name: tool.name, at, sha, definition });
      if (sha === pin.accepted_sha256) result.visible.push(tool);
      else result.changed.push({ name: tool.name, was: pin.accepted_sha256, now: sha });
    }
    return result;
  });
  return run.immediate();
}

export type AcceptResult = { ok: true; name: string; was: string; now: string } | { ok: false; error: string };

/**
 * Accepts the definition last seen for `name` as its pin. With `sha256`, only if that is still the one
 * last seen — so an operator accepts what they reviewed, not what the upstream changed it to since.
 */
export function acceptDefinition(db: Db, key: string, name: string, sha256Hex?: string, now: Date = new Date()): AcceptResult {
  const raw = db.prepare<[string, string], unknown>("SELECT * FROM upstream_tool_pins WHERE upstream_key = ? AND name = ?").get(key, name);
  if (raw === undefined) return { ok: false, error: `the upstream has no tool ${JSON.stringify(name)} on record` };
  const row = RowSchema.parse(raw);
  if (row.current_sha256 === row.accepted_sha256)
    return { ok: false, error: `${name} has no pending change: its last seen definition is the accepted one (${row.accepted_sha256.slice(0, 12)})` };
  if (sha256Hex !== undefined && sha256Hex !== row.current_sha256) {
    return {
      ok: false,
      error: `${name}'s pending definition is ${row.current_sha256.slice(0, 12)}, not ${sha256Hex.slice(0, 12)}: it changed again since you looked; review it with pipgate upstream show`,
    };
  }
  const changed = db
    .prepare(
      `UPDATE upstream_tool_pins SET accepted_sha256 = current_sha256, accepted_definition = current_definition, accepted_at = ?
       WHERE upstream_key = ? AND name = ? AND current_sha256 = ?`,
    )
    .run(now.getTime(), key, name, row.current_sha256);
  if (changed.changes !== 1) return { ok: false, error: `${name} changed while it was being accepted; look again` };
  return { ok: true, name, was: row.accepted_sha256, now: row.current_sha256 };
}

/** One pinned tool as `pipgate upstream show` reports it. */
export interface PinStatus {
  name: string;
  /** pinned: last seen as accepted; changed: last seen differs from the pin (hidden until accepted) */
  state: "pinned" | "changed";
  firstSeen: Date;
  lastSeen: Date;
  acceptedAt: Date;
  acceptedSha256: string;
  currentSha256: string;
  accepted: Record<string, unknown>;
  current: Record<string, unknown>;
}

/** Every tool on record for an upstream, by name. */
export function pinStatus(db: Db, key: string): PinStatus[] {
  return db
    .prepare<[string], unknown>("SELECT * FROM upstream_tool_pins WHERE upstream_key = ? ORDER BY name")
    .all(key)
    .map((raw) => toStatus(RowSchema.parse(raw)));
}

/** The upstreams with pins on record, newest activity first (the CLI picks one when the configuration names none). */
export function pinnedUpstreams(db: Db): Array<{ key: string; tools: number; lastSeen: Date }> {
  const rows = db
    .prepare<[], unknown>(
      "SELECT upstream_key AS key, count(*) AS tools, max(last_seen) AS last FROM upstream_tool_pins GROUP BY upstream_key ORDER BY last DESC",
    )
    .all();
  return rows.map((raw) => {
    const row = z.object({ key: z.string(), tools: z.number(), last: z.number() }).parse(raw);
    return { key: row.key, tools: row.tools, lastSeen: new Date(row.last) };
  });
}

function parseDefinition(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function toStatus(row: Row): PinStatus {
  return {
    name: row.name,
    state: row.current_sha256 === row.accepted_sha256 ? "pinned" : "changed",
    firstSeen: new Date(row.first_seen),
    lastSeen: new Date(row.last_seen),
    acceptedAt: new Date(row.accepted_at),
    acceptedSha256: row.accepted_sha256,
    currentSha256: row.current_sha256,
    accepted: parseDefinition(row.accepted_definition),
    current: parseDefinition(row.current_definition),
  };
}
