import type { Result } from "../errors.js";
import type { IndexClient, IndexFile } from "../index/types.js";
import { parseProvenance, type Provenance } from "./schema.js";

/** A file's provenance as the index serves it: none advertised, or the parsed object. */
export type FileProvenance = { kind: "none" } | { kind: "provenance"; provenance: Provenance };

/**
 * Fetches and parses one file's provenance through the index client (its cache, caps and
 * credentials). A file the index names no provenance for is `none`; a named one that is missing (404),
 * unreachable or malformed is an error: an advertised attestation that cannot be had is never read as
 * "there is none".
 */
export async function fetchProvenance(index: IndexClient, file: IndexFile): Promise<Result<FileProvenance, string>> {
  if (file.provenanceUrl === undefined) return { ok: true, value: { kind: "none" } };
  const body = await index.provenance(file.provenanceUrl);
  if (!body.ok) return { ok: false, error: `${file.filename}: its provenance could not be fetched (${body.error.message})` };
  const parsed = parseProvenance(body.value);
  return parsed.ok ? { ok: true, value: { kind: "provenance", provenance: parsed.value } } : { ok: false, error: `${file.filename}: ${parsed.error}` };
}
