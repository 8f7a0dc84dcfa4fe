/**
 * A CommonJS package's exports from its dynamic `import()`. Node's loader gives them as `default` (its
 * `module.exports`) and, where it can tell them apart, as names too; the bundle (scripts/bundle.ts) gives
 * a lazily loaded CommonJS chunk as `default` only. Reading `default` when it is there works under both;
 * an ES module without a default export is returned as it is.
 */
export function commonJsExports<T extends object>(namespace: T): T {
  const exported = (namespace as { default?: unknown }).default;
  return typeof exported === "object" && exported !== null ? (exported as T) : namespace;
}
