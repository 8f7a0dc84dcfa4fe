export { provenanceFromConfig, type ProvenanceDeps } from "./from-config.js";
export { fetchProvenance, type FileProvenance } from "./fetch.js";
export { expectedClaims, publisherIdentity, type ExpectedClaims } from "./identity.js";
export { MAX_PROVENANCE_BYTES, parseProvenance, ProvenanceSchema, type Attestation, type Provenance, type Publisher } from "./schema.js";
export { sqlitePublisherStore, type PublisherRecord, type PublisherStore } from "./store.js";
export { loadTrustRoot, publicGoodVerifier, verifierFromTrustedRoot, type ProvenanceVerifier } from "./trust.js";
export { PUBLISH_V1, toBundle, verifyProvenance, type AttestedFile, type VerifiedProvenance } from "./verify.js";
