import { open } from "node:fs/promises";
import { bundleFromJSON, type SerializedBundle } from "@sigstore/bundle";
import { TrustedRoot } from "@sigstore/protobuf-specs";
import { toSignedEntity, toTrustMaterial, Verifier, type Signer } from "@sigstore/verify";
import { commonJsExports } from "../commonjs.js";
import { errorMessage, type Result } from "../errors.js";

/**
 * The trust root attestations are verified against. Production: Sigstore's public-good instance, its
 * trusted_root.json fetched through TUF by sigstore-js (the TUF root it ships is the anchor; the
 * refreshed metadata is cached under the state directory). `rules.provenance_trust_root` names a
 * trusted_root.json instead (a private Sigstore, an air-gapped copy, the tests' own root).
 */
export interface ProvenanceVerifier {
  /** where the trust comes from, for messages and doctor */
  readonly source: string;
  /** the Sigstore checks: certificate chain to a trusted CA at the log's time, log inclusion, the signature over the envelope */
  verify(bundle: SerializedBundle): Result<Signer, string>;
}

const MAX_ROOT_BYTES = 1024 * 1024;

/**
 * A verifier over a trusted_root.json document. Thresholds: one transparency-log entry with a verified
 * inclusion (promise or proof), one timestamp (the log's integrated time), and one SCT when the root
 * lists CT logs (a root without CT logs cannot check SCTs, so none is demanded).
 */
export function verifierFromTrustedRoot(json: unknown, source: string): Result<ProvenanceVerifier, string> {
  let verifier: Verifier;
  try {
    const root = TrustedRoot.fromJSON(json);
    if (root.certificateAuthorities.length === 0 || root.tlogs.length === 0) {
      return { ok: false, error: `${source}: a trust root needs at least one certificate authority and one transparency log` };
    }
    verifier = new Verifier(toTrustMaterial(root), { tlogThreshold: 1, ctlogThreshold: root.ctlogs.length > 0 ? 1 : 0, timestampThreshold: 1 });
  } catch (error) {
    return { ok: false, error: `${source}: not a usable trusted_root.json: ${errorMessage(error)}` };
  }
  return {
    ok: true,
    value: {
      source,
      verify(bundle) {
        try {
          return { ok: true, value: verifier.verify(toSignedEntity(bundleFromJSON(bundle))) };
        } catch (error) {
          return { ok: false, error: describeFailure(error) };
        }
      },
    },
  };
}

/** Reads rules.provenance_trust_root (bounded, regular file). */
export async function loadTrustRoot(path: string): Promise<Result<ProvenanceVerifier, string>> {
  let text: string;
  try {
    const handle = await open(path, "r");
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) return { ok: false, error: `${path}: not a regular file` };
      if (stat.size > MAX_ROOT_BYTES) return { ok: false, error: `${path}: larger than ${MAX_ROOT_BYTES} bytes` };
      text = (await handle.readFile()).toString("utf8");
    } finally {
      await handle.close();
    }
  } catch (error) {
    return { ok: false, error: `cannot read the trust root ${path}: ${errorMessage(error)}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, error: `${path}: not valid JSON` };
  }
  return verifierFromTrustedRoot(json, path);
}

/**
 * Sigstore's public-good root, through sigstore-js's TUF client: the first call fetches (and caches
 * under cacheDir) the signed trusted_root.json from Sigstore's TUF repository; a failure is returned,
 * never a weaker check, and the next call tries again.
 */
export function publicGoodVerifier(cacheDir: string): () => Promise<Result<ProvenanceVerifier, string>> {
  let ready: ProvenanceVerifier | undefined;
  return async () => {
    if (ready !== undefined) return { ok: true, value: ready };
    try {
      const { createVerifier } = commonJsExports(await import("sigstore"));
      const bundleVerifier = await createVerifier({ tufCachePath: cacheDir, timeout: 10_000, retry: 1 });
      const source = "Sigstore public-good (TUF)";
      ready = {
        source,
        verify(bundle) {
          try {
            return { ok: true, value: bundleVerifier.verify(bundle) };
          } catch (error) {
            return { ok: false, error: describeFailure(error) };
          }
        },
      };
      return { ok: true, value: ready };
    } catch (error) {
      return {
        ok: false,
        error: `cannot get Sigstore's trust root through TUF (${errorMessage(error)}); set rules.provenance_trust_root to a trusted_root.json`,
      };
    }
  };
}

function describeFailure(error: unknown): string {
  const code = typeof error === "object" && error !== null && "code" in error ? String((error as { code: unknown }).code) : undefined;
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return `${code === undefined ? "" : `${code}: `}${errorMessage(error)}${cause}`;
}
