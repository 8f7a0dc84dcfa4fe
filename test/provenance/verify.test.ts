import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseProvenance, publisherIdentity, type ProvenanceVerifier } from "../../src/provenance/index.js";
import { loadTrustRoot, verifierFromTrustedRoot } from "../../src/provenance/trust.js";
import { verifyProvenance } from "../../src/provenance/verify.js";
import { createTestSigstore, type AttestationJson, type TestSigstore } from "../fixtures/sigstore.js";

const FILE = { filename: "demo_pkg-1.0-py3-none-any.whl", sha256: "a".repeat(64) };
const PUBLISHER = { repository: "acme/demo", workflow: "release.yml", environment: "pypi" };

let sigstore: TestSigstore;
let other: TestSigstore;
let verifier: ProvenanceVerifier;

beforeAll(async () => {
  sigstore = createTestSigstore();
  other = createTestSigstore();
  const loaded = await loadTrustRoot(sigstore.trustedRootPath);
  if (!loaded.ok) throw new Error(loaded.error);
  verifier = loaded.value;
});
afterAll(() => {
  sigstore.close();
  other.close();
});

function check(body: string, file = FILE, using: ProvenanceVerifier = verifier) {
  const parsed = parseProvenance(body);
  if (!parsed.ok) throw new Error(parsed.error);
  return verifyProvenance(parsed.value, file, using);
}

function withStatement(attestation: AttestationJson, edit: (statement: Record<string, unknown>) => void): AttestationJson {
  const statement = JSON.parse(Buffer.from(attestation.envelope.statement, "base64").toString("utf8")) as Record<string, unknown>;
  edit(statement);
  return { ...attestation, envelope: { ...attestation.envelope, statement: Buffer.from(JSON.stringify(statement)).toString("base64") } };
}

describe("PEP 740 provenance verification against a generated trust root", () => {
  it("verifies a publish attestation and names its Trusted Publisher canonically", () => {
    const attestation = sigstore.attest({ ...FILE, signer: PUBLISHER });
    const result = check(sigstore.provenance([{ publisher: PUBLISHER, attestations: [attestation] }]));
    expect(result).toEqual({ ok: true, value: { identity: "github:acme/demo@.github/workflows/release.yml environment:pypi", attestations: 1 } });
  });

  it("refuses a tampered statement (the DSSE signature no longer matches)", () => {
    const attestation = withStatement(sigstore.attest({ ...FILE, signer: PUBLISHER }), (statement) => {
      statement["predicate"] = { injected: true };
    });
    const result = check(sigstore.provenance([{ publisher: PUBLISHER, attestations: [attestation] }]));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatch(/does not verify: .*(TLOG_BODY_ERROR|SIGNATURE_ERROR)/);
  });

  it("refuses a statement whose digest is not the file's sha256", () => {
    const attestation = sigstore.attest({ ...FILE, signer: PUBLISHER, subject: { name: FILE.filename, sha256: "b".repeat(64) } });
    const result = check(sigstore.provenance([{ publisher: PUBLISHER, attestations: [attestation] }]));
    expect(result).toEqual({ ok: false, error: expect.stringContaining(`sha256 ${"b".repeat(64)} is not the file's ${"a".repeat(64)}`) as unknown });
  });

  it("refuses a statement naming another file", () => {
    const attestation = sigstore.attest({ ...FILE, signer: PUBLISHER, subject: { name: "demo_pkg-1.0.tar.gz", sha256: FILE.sha256 } });
    const result = check(sigstore.provenance([{ publisher: PUBLISHER, attestations: [attestation] }]));
    expect(result).toEqual({ ok: false, error: expect.stringContaining("names demo_pkg-1.0.tar.gz, not demo_pkg-1.0-py3-none-any.whl") as unknown });
  });

  it("refuses a certificate whose identity is not the publisher the bundle names", () => {
    const attestation = sigstore.attest({ ...FILE, signer: { repository: "evil/demo", workflow: "release.yml" } });
    const result = check(sigstore.provenance([{ publisher: PUBLISHER, attestations: [attestation] }]));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toContain("source repository is https://github.com/evil/demo, not https://github.com/acme/demo");
  });

  it("refuses a certificate from the right repository but another workflow", () => {
    const attestation = sigstore.attest({ ...FILE, signer: { repository: "acme/demo", workflow: "other.yml" } });
    const result = check(sigstore.provenance([{ publisher: PUBLISHER, attestations: [attestation] }]));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toContain("build config is https://github.com/acme/demo/.github/workflows/other.yml@refs/heads/main");
  });

  it("refuses a certificate that had expired when the log recorded the signature", () => {
    const attestation = sigstore.attest({ ...FILE, signer: PUBLISHER, certDays: 1, integratedTime: new Date(Date.now() + 2 * 86_400_000) });
    const result = check(sigstore.provenance([{ publisher: PUBLISHER, attestations: [attestation] }]));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatch(/CERTIFICATE_ERROR.*(expired|not valid)/);
  });

  it("refuses attestations from a CA and log the trust root does not list", async () => {
    const attestation = other.attest({ ...FILE, signer: PUBLISHER });
    const result = check(other.provenance([{ publisher: PUBLISHER, attestations: [attestation] }]));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatch(/does not verify: (CERTIFICATE_ERROR|TLOG)/);
    const own = await loadTrustRoot(other.trustedRootPath);
    if (!own.ok) throw new Error(own.error);
    expect(check(other.provenance([{ publisher: PUBLISHER, attestations: [attestation] }]), FILE, own.value).ok).toBe(true);
  });

  it("refuses a forged inclusion promise and checkpoint (the log key did not sign them)", () => {
    const attestation = sigstore.attest({ ...FILE, signer: PUBLISHER });
    const forged = other.attest({ ...FILE, signer: PUBLISHER });
    const mixed: AttestationJson = {
      ...attestation,
      verification_material: { ...attestation.verification_material, transparency_entries: forged.verification_material.transparency_entries },
    };
    const result = check(sigstore.provenance([{ publisher: PUBLISHER, attestations: [mixed] }]));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatch(/does not verify: TLOG_/);
  });

  it("refuses an unknown attestation type and bundles naming two publishers", () => {
    const odd = sigstore.attest({ ...FILE, signer: PUBLISHER, predicateType: "https://example.invalid/custom/v1" });
    expect(check(sigstore.provenance([{ publisher: PUBLISHER, attestations: [odd] }]))).toEqual({
      ok: false,
      error: expect.stringContaining("unknown attestation type https://example.invalid/custom/v1") as unknown,
    });
    const second = { repository: "acme/demo-mirror", workflow: "release.yml" };
    const two = sigstore.provenance([
      { publisher: PUBLISHER, attestations: [sigstore.attest({ ...FILE, signer: PUBLISHER })] },
      { publisher: second, attestations: [sigstore.attest({ ...FILE, signer: second })] },
    ]);
    expect(check(two)).toEqual({ ok: false, error: expect.stringContaining("attestations name several publishers") as unknown });
  });
});

describe("the provenance object's schema", () => {
  const valid = () =>
    JSON.parse(sigstore.provenance([{ publisher: PUBLISHER, attestations: [sigstore.attest({ ...FILE, signer: PUBLISHER })] }])) as Record<string, unknown>;

  it("refuses unknown keys, bad base64, too many bundles and non-JSON", () => {
    const unknown = { ...valid(), extra: 1 };
    expect(parseProvenance(JSON.stringify(unknown))).toEqual({ ok: false, error: expect.stringContaining("extra") as unknown });
    const bundles = valid()["attestation_bundles"] as { attestations: AttestationJson[] }[];
    const bad = structuredClone(bundles);
    bad[0]!.attestations[0]!.envelope.signature = "not base64!";
    expect(parseProvenance(JSON.stringify({ version: 1, attestation_bundles: bad }))).toEqual({
      ok: false,
      error: expect.stringContaining("the signature must be base64") as unknown,
    });
    expect(parseProvenance(JSON.stringify({ version: 1, attestation_bundles: Array.from({ length: 9 }, () => bundles[0]) })).ok).toBe(false);
    expect(parseProvenance("{")).toEqual({ ok: false, error: "the provenance is not valid JSON" });
    expect(parseProvenance(JSON.stringify({ version: 2, attestation_bundles: bundles })).ok).toBe(false);
  });

  it("names publishers canonically and refuses kinds it cannot check", () => {
    expect(publisherIdentity({ kind: "GitHub", repository: "Acme/Demo", workflow: "release.yml" })).toEqual({
      ok: true,
      value: "github:acme/demo@.github/workflows/release.yml",
    });
    expect(publisherIdentity({ kind: "GitLab", repository: "group/sub/proj", workflow_filepath: "ci/.gitlab-ci.yml", environment: "release" })).toEqual({
      ok: true,
      value: "gitlab:group/sub/proj@ci/.gitlab-ci.yml environment:release",
    });
    expect(publisherIdentity({ kind: "Google", email: "svc@example.invalid" }).ok).toBe(false);
  });

  it("refuses a trust root without a CA or a log", () => {
    const root = { ...sigstore.trustedRoot, tlogs: [] };
    expect(verifierFromTrustedRoot(root, "test-root")).toEqual({
      ok: false,
      error: expect.stringContaining("at least one certificate authority and one transparency log") as unknown,
    });
  });
});
