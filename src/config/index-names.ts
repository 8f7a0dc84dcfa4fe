/** What `index:` is called wherever indexes are named: an allowlist's `index: default`, messages, the audit record. */
export const DEFAULT_INDEX_NAME = "default";

/** Index names are identifiers an allowlist binds names to; `default` is `index:` itself. */
export const INDEX_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** How a message names an index: "index internal", or "the default index". */
export function indexLabel(name: string): string {
  return name === DEFAULT_INDEX_NAME ? "the default index" : `index ${name}`;
}
