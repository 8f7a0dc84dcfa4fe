import { createHash } from "node:crypto";
import { z } from "zod";
import type { Allowlist } from "../config/allowlist.js";
import type { Db } from "../state/db.js";

const CachedWheelSchema = z.object({
  name: z.string(),
  version: z.string(),
  path: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type CachedWheel = z.infer<typeof CachedWheelSchema>;

/** Everything a resolution depends on: the same inputs resolve to the same verified set. */
export interface ResolutionInputs {
  image: string;
  pythonVersion: string;
  requirement: string; // pinned: name[extras]==version
  upgrade: boolean;
  installed: ReadonlyArray<{ name: string; version: string }>;
  allowlist: Allowlist;
}

/**
 * The cache key covers every input that shapes a resolution, the allowlist's whole content included,
 * so a policy edit never serves an old set. A hit still gets a fresh policy check of every wheel.
 */
export function resolutionKey(inputs: ResolutionInputs): string {
  const { allowlist } = inputs;
  const material = JSON.stringify({
    image: inputs.image,
    python: inputs.pythonVersion,
    requirement: inputs.requirement,
    upgrade: inputs.upgrade,
    installed: inputs.installed.map((dist) => `${dist.name.toLowerCase()}==${dist.version}`).sort(),
    packages: [...allowlist.packages.entries()].map(([name, entry]) => `${name}:${entry.specifier}`).sort(),
    deny: [...allowlist.deny].sort(),
    rules: allowlist.rules,
    pth: [...allowlist.pthAllowed].sort(),
  });
  return createHash("sha256").update(material).digest("hex");
}

export interface ResolutionCache {
  get(key: string): Promise<CachedWheel[] | undefined>;
  put(key: string, wheels: readonly CachedWheel[]): Promise<void>;
}

export function sqliteResolutionCache(db: Db, now: () => Date = () => new Date()): ResolutionCache {
  const select = db.prepare<[string], { wheels: string }>("SELECT wheels FROM resolution_cache WHERE key = ?");
  const touch = db.prepare<[string, string]>("UPDATE resolution_cache SET used_at = ? WHERE key = ?");
  const upsert = db.prepare<[string, string, string, string]>(
    "INSERT INTO resolution_cache (key, created_at, used_at, wheels) VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET used_at = excluded.used_at, wheels = excluded.wheels",
  );
  return {
    async get(key) {
      const row = select.get(key);
      if (row === undefined) return undefined;
      const parsed = z.array(CachedWheelSchema).safeParse(JSON.parse(row.wheels));
      if (!parsed.success) return undefined;
      touch.run(now().toISOString(), key);
      return parsed.data;
    },
    async put(key, wheels) {
      const at = now().toISOString();
      upsert.run(key, at, at, JSON.stringify(wheels));
    },
  };
}
