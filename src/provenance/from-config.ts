import { join } from "node:path";
import type { Result } from "../errors.js";
import type { PublisherStore } from "./store.js";
import type { ProvenanceVerifier } from "./trust.js";

/** What the provenance rule needs: the verifier over the trust root (made on first use) and the first-install record. */
export interface ProvenanceDeps {
  verifier: () => Promise<Result<ProvenanceVerifier, string>>;
  store: PublisherStore;
}

/**
 * The provenance rule's collaborators from pipgate.yaml: rules.provenance_trust_root is read now (a
 * broken one stops start-up, like any bad config); without it Sigstore's public-good root is fetched
 * through TUF the first time an attestation is checked, cached under the state directory.
 */
export async function provenanceFromConfig(
  config: { provenanceTrustRoot?: string | undefined; state_dir: string },
  store: PublisherStore,
): Promise<Result<ProvenanceDeps, string>> {
  if (config.provenanceTrustRoot === undefined) {
    // Sigstore's libraries load when the first attestation is checked, not with every broker.
    let publicGood: (() => Promise<Result<ProvenanceVerifier, string>>) | undefined;
    const verifier = async () => {
      publicGood ??= (await import("./trust.js")).publicGoodVerifier(join(config.state_dir, "sigstore-tuf"));
      return publicGood();
    };
    return { ok: true, value: { verifier, store } };
  }
  const { loadTrustRoot } = await import("./trust.js");
  const loaded = await loadTrustRoot(config.provenanceTrustRoot);
  if (!loaded.ok) return { ok: false, error: `rules.provenance_trust_root: ${loaded.error}` };
  const verifier = loaded.value;
  return { ok: true, value: { verifier: () => Promise.resolve({ ok: true, value: verifier }), store } };
}
