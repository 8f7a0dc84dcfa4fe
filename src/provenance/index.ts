export { provenanceFromConfig, type ProvenanceDeps } from "./from-config.js";
export { fetchProvenance, type FileProvenance } from "./fetch.js";
export { expectedClaims, publisherIdentity, type ExpectedClaims } from "./identity.js";
export { MAX_PROVENANCE_BYTES, parseProvenance, ProvenanceSchema, type Attestation, type Provenance, type Publisher } from "./schema.js";
export { sqlitePublisherStore, type PublisherRecord, type PublisherStore } from "./store.js";
// Types only from the modules over Sigstore's libraries: importing them loads those libraries (about 10 MB of a
// broker's memory), so the code that verifies loads them on first use; tests import them directly.
export type { ProvenanceVerifier } from "./trust.js";
export type { AttestedFile, VerifiedProvenance } from "./verify.js";
