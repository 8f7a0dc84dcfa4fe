import { z } from "zod";
import { formatIssues } from "../config/issues.js";
import type { Result } from "../errors.js";

/**
 * The Integrity API's answer (PEP 740 provenance object), as PyPI serves it at
 * `/integrity/<project>/<version>/<filename>/provenance`. Everything in it comes from the index and is
 * hostile until verified: strict objects, bounded counts and sizes, base64 checked here, the
 * cryptography in verify.ts.
 */

/** The most a provenance answer may weigh: real ones are a few KiB per attestation. */
export const MAX_PROVENANCE_BYTES = 1024 * 1024;
const MAX_BUNDLES = 8;
const MAX_ATTESTATIONS = 8;
const MAX_TLOG_ENTRIES = 4;

const base64 = (max: number, what: string) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[A-Za-z0-9+/]+={0,2}$/, `${what} must be base64`);

/** A Trusted Publisher as PyPI names it. Only GitHub and GitLab identities can be checked against the certificate. */
export const PublisherSchema = z.strictObject({
  kind: z.string().min(1).max(64).describe("GitHub, GitLab, Google, ActiveState …"),
  repository: z.string().min(1).max(512).optional().describe("owner/name (GitHub), namespace/project (GitLab)"),
  workflow: z.string().min(1).max(512).optional().describe("GitHub: the workflow's file name, e.g. release.yml"),
  workflow_filepath: z.string().min(1).max(512).optional().describe("GitLab: the CI file's path, e.g. .gitlab-ci.yml"),
  environment: z.string().max(512).nullish().describe("the CI environment the publisher is bound to; the index's claim, not in the certificate"),
  email: z.string().max(512).optional().describe("Google: the service account"),
  claims: z.record(z.string(), z.unknown()).nullish().describe("further claims of the index; not read"),
});
export type Publisher = z.infer<typeof PublisherSchema>;

export const AttestationSchema = z.strictObject({
  version: z.literal(1),
  verification_material: z.strictObject({
    certificate: base64(16 * 1024, "the certificate").describe("base64(DER) of the signing (Fulcio) certificate"),
    transparency_entries: z
      .array(z.record(z.string(), z.unknown()))
      .min(1)
      .max(MAX_TLOG_ENTRIES)
      .describe("Rekor log entries, in the Sigstore bundle's TransparencyLogEntry JSON form"),
  }),
  envelope: z.strictObject({
    statement: base64(256 * 1024, "the statement").describe("base64 of the in-toto statement, the DSSE payload"),
    signature: base64(1024, "the signature").describe("base64 of the DSSE signature"),
  }),
});
export type Attestation = z.infer<typeof AttestationSchema>;

export const ProvenanceSchema = z.strictObject({
  version: z.literal(1),
  attestation_bundles: z
    .array(
      z.strictObject({
        publisher: PublisherSchema,
        attestations: z.array(AttestationSchema).min(1).max(MAX_ATTESTATIONS),
      }),
    )
    .min(1)
    .max(MAX_BUNDLES),
});
export type Provenance = z.infer<typeof ProvenanceSchema>;

/** The in-toto statement inside an attestation's envelope: the fields pipgate checks, the rest left alone. */
export const StatementSchema = z.object({
  _type: z.literal("https://in-toto.io/Statement/v1"),
  subject: z
    .array(z.object({ name: z.string().min(1).max(512), digest: z.record(z.string(), z.string().max(256)) }))
    .min(1)
    .max(16),
  predicateType: z.string().min(1).max(512),
});
export type Statement = z.infer<typeof StatementSchema>;

/** Parses the Integrity API's body; every failure says what was wrong. */
export function parseProvenance(body: string): Result<Provenance, string> {
  if (Buffer.byteLength(body) > MAX_PROVENANCE_BYTES) return { ok: false, error: `the provenance is larger than ${MAX_PROVENANCE_BYTES} bytes` };
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    return { ok: false, error: "the provenance is not valid JSON" };
  }
  const parsed = ProvenanceSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, error: `unexpected provenance: ${formatIssues(parsed.error).slice(0, 5).join("; ")}` };
  return { ok: true, value: parsed.data };
}
