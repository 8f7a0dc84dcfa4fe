import type { Result } from "../errors.js";
import type { Publisher } from "./schema.js";

/**
 * A Trusted Publisher as one canonical string, the form recorded on first install and named in a
 * refusal: `github:owner/repo@.github/workflows/release.yml`, `gitlab:group/project@.gitlab-ci.yml`,
 * with ` environment:NAME` when the publisher is bound to one. Repository names are compared without
 * case (GitHub and GitLab treat them so); workflow paths keep theirs.
 */
export function publisherIdentity(publisher: Publisher): Result<string, string> {
  const environment =
    publisher.environment === undefined || publisher.environment === null || publisher.environment === "" ? "" : ` environment:${publisher.environment}`;
  switch (publisher.kind) {
    case "GitHub":
      if (publisher.repository === undefined || publisher.workflow === undefined)
        return { ok: false, error: "a GitHub publisher without repository or workflow" };
      return { ok: true, value: `github:${publisher.repository.toLowerCase()}@.github/workflows/${publisher.workflow}${environment}` };
    case "GitLab":
      if (publisher.repository === undefined || publisher.workflow_filepath === undefined) {
        return { ok: false, error: "a GitLab publisher without repository or workflow_filepath" };
      }
      return { ok: true, value: `gitlab:${publisher.repository.toLowerCase()}@${publisher.workflow_filepath}${environment}` };
    default:
      return { ok: false, error: `publisher kind ${JSON.stringify(publisher.kind)} is not one pipgate can check against a certificate (GitHub, GitLab)` };
  }
}

/** What a publisher's certificate must say (Fulcio's extensions): the OIDC issuer, the source repository, the build config URI stem. */
export interface ExpectedClaims {
  issuer: string;
  sourceRepository: string;
  /** the Build Config URI without its `@ref` suffix */
  buildConfig: string;
}

/** The certificate claims that prove an attestation was signed by this publisher (as pypi-attestations checks them). */
export function expectedClaims(publisher: Publisher): Result<ExpectedClaims, string> {
  const identity = publisherIdentity(publisher);
  if (!identity.ok) return identity;
  if (publisher.kind === "GitHub") {
    const repo = `https://github.com/${publisher.repository ?? ""}`;
    return {
      ok: true,
      value: {
        issuer: "https://token.actions.githubusercontent.com",
        sourceRepository: repo,
        buildConfig: `${repo}/.github/workflows/${publisher.workflow ?? ""}`,
      },
    };
  }
  const repo = `https://gitlab.com/${publisher.repository ?? ""}`;
  return { ok: true, value: { issuer: "https://gitlab.com", sourceRepository: repo, buildConfig: `${repo}//${publisher.workflow_filepath ?? ""}` } };
}
