import type { SerializedBundle } from "@sigstore/bundle";
import { ASN1Obj } from "@sigstore/core";
import type { Signer } from "@sigstore/verify";
import type { Result } from "../errors.js";
import { expectedClaims, publisherIdentity, type ExpectedClaims } from "./identity.js";
import { StatementSchema, type Attestation, type Provenance, type Publisher } from "./schema.js";
import type { ProvenanceVerifier } from "./trust.js";

/** The attestation types PyPI knows; a statement of any other type is refused. */
export const PUBLISH_V1 = "https://docs.pypi.org/attestations/publish/v1";
const KNOWN_TYPES = new Set([PUBLISH_V1, "https://slsa.dev/provenance/v1"]);
const DSSE_TYPE = "application/vnd.in-toto+json";

const OID_SOURCE_REPOSITORY = "1.3.6.1.4.1.57264.1.12";
const OID_SOURCE_DIGEST = "1.3.6.1.4.1.57264.1.13";
const OID_SOURCE_REF = "1.3.6.1.4.1.57264.1.14";
const OID_BUILD_CONFIG = "1.3.6.1.4.1.57264.1.18";

/** The distribution an attestation must name: its filename and the sha256 pipgate holds the download to. */
export interface AttestedFile {
  filename: string;
  sha256: string;
}

/** A provenance that verified: the publisher's canonical identity (identity.ts) and how many attestations were checked. */
export interface VerifiedProvenance {
  identity: string;
  attestations: number;
}

/** PEP 740 attestation → Sigstore bundle (v0.3, DSSE envelope), as pypi-attestations' to_bundle builds it. */
export function toBundle(attestation: Attestation): SerializedBundle {
  const entries = attestation.verification_material.transparency_entries as unknown as SerializedBundle["verificationMaterial"]["tlogEntries"];
  return {
    mediaType: "application/vnd.dev.sigstore.bundle.v0.3+json",
    verificationMaterial: {
      certificate: { rawBytes: attestation.verification_material.certificate },
      tlogEntries: entries,
      timestampVerificationData: undefined,
    },
    dsseEnvelope: { payload: attestation.envelope.statement, payloadType: DSSE_TYPE, signatures: [{ sig: attestation.envelope.signature, keyid: "" }] },
  } as SerializedBundle;
}

/**
 * Verifies every attestation of a provenance for one file: Sigstore's checks (verifier), then the
 * certificate's Fulcio claims against the publisher the bundle names, then the statement (one subject,
 * this filename, this sha256, a known type; at least one PyPI publish attestation). One publisher only:
 * bundles naming different publishers are refused as ambiguous.
 */
export function verifyProvenance(provenance: Provenance, file: AttestedFile, verifier: ProvenanceVerifier): Result<VerifiedProvenance, string> {
  const identities = new Set<string>();
  let publish = 0;
  let checked = 0;
  for (const bundle of provenance.attestation_bundles) {
    const identity = publisherIdentity(bundle.publisher);
    if (!identity.ok) return identity;
    identities.add(identity.value);
    const claims = expectedClaims(bundle.publisher);
    if (!claims.ok) return claims;
    for (const attestation of bundle.attestations) {
      const one = verifyAttestation(attestation, bundle.publisher, claims.value, file, verifier);
      if (!one.ok) return { ok: false, error: `${file.filename}: attestation by ${identity.value} does not verify: ${one.error}` };
      checked += 1;
      if (one.value === PUBLISH_V1) publish += 1;
    }
  }
  if (identities.size > 1) return { ok: false, error: `${file.filename}: attestations name several publishers (${[...identities].join(", ")})` };
  if (publish === 0) return { ok: false, error: `${file.filename}: no PyPI publish attestation (${PUBLISH_V1})` };
  const [identity] = identities;
  return identity === undefined ? { ok: false, error: `${file.filename}: no attestation bundle` } : { ok: true, value: { identity, attestations: checked } };
}

/** One attestation: returns its predicate type when it verifies. */
function verifyAttestation(
  attestation: Attestation,
  publisher: Publisher,
  claims: ExpectedClaims,
  file: AttestedFile,
  verifier: ProvenanceVerifier,
): Result<string, string> {
  const signed = verifier.verify(toBundle(attestation));
  if (!signed.ok) return signed;
  const cert = checkCertificate(signed.value, publisher, claims);
  if (!cert.ok) return cert;
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(attestation.envelope.statement, "base64").toString("utf8"));
  } catch {
    return { ok: false, error: "the statement is not JSON" };
  }
  const statement = StatementSchema.safeParse(raw);
  if (!statement.success) return { ok: false, error: "the statement is not an in-toto v1 statement" };
  if (!KNOWN_TYPES.has(statement.data.predicateType)) return { ok: false, error: `unknown attestation type ${statement.data.predicateType}` };
  if (statement.data.subject.length !== 1) return { ok: false, error: `the statement names ${statement.data.subject.length} subjects (must be exactly one)` };
  const [subject] = statement.data.subject;
  if (subject === undefined || subject.name !== file.filename)
    return { ok: false, error: `the statement names ${subject?.name ?? "nothing"}, not ${file.filename}` };
  const digest = subject.digest["sha256"]?.toLowerCase();
  if (digest !== file.sha256.toLowerCase()) {
    return { ok: false, error: `the statement's sha256 ${digest ?? "(none)"} is not the file's ${file.sha256}` };
  }
  return { ok: true, value: statement.data.predicateType };
}

/** The certificate's issuer, source repository and build config against the publisher's (case-insensitive repository). */
function checkCertificate(signer: Signer, publisher: Publisher, claims: ExpectedClaims): Result<void, string> {
  const identity = signer.identity;
  const san = identity?.subjectAlternativeName ?? "(no SAN)";
  const issuer = identity?.extensions?.issuer;
  if (issuer !== claims.issuer)
    return { ok: false, error: `the certificate was issued for ${issuer ?? "(no issuer)"}, not ${claims.issuer} (${publisher.kind})` };
  const oid = (id: string) => {
    const found = identity?.oids?.find((pair) => pair.oid?.id.join(".") === id);
    return found === undefined ? undefined : utf8String(Buffer.from(found.value));
  };
  const repository = oid(OID_SOURCE_REPOSITORY);
  if (repository === undefined || repository.toLowerCase() !== claims.sourceRepository.toLowerCase()) {
    return {
      ok: false,
      error: `the certificate's source repository is ${repository ?? "(none)"}, not ${claims.sourceRepository} (certificate identity ${san})`,
    };
  }
  const build = oid(OID_BUILD_CONFIG);
  const suffixes = [oid(OID_SOURCE_REF), oid(OID_SOURCE_DIGEST)].filter((value): value is string => value !== undefined);
  const repoPart = claims.sourceRepository.length;
  const matches =
    build !== undefined &&
    build.slice(0, repoPart).toLowerCase() === claims.sourceRepository.toLowerCase() &&
    suffixes.some((suffix) => build.slice(repoPart) === `${claims.buildConfig.slice(repoPart)}@${suffix}`);
  if (!matches)
    return { ok: false, error: `the certificate's build config is ${build ?? "(none)"}, not ${claims.buildConfig}@<its ref> (certificate identity ${san})` };
  return { ok: true, value: undefined };
}

/** A Fulcio extension's value (1.3.6.1.4.1.57264.1.8 and on): a DER UTF8String. */
function utf8String(der: Buffer): string | undefined {
  try {
    const parsed = ASN1Obj.parseBuffer(der as Buffer<ArrayBuffer>);
    return parsed.tag.number === 12 ? parsed.value.toString("utf8") : undefined;
  } catch {
    return undefined;
  }
}
