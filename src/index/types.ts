import type { Result } from "../errors.js";

/** One distribution file of a release, as the simple API lists it: what policy and the sandbox need to know. */
export interface IndexFile {
  filename: string;
  /** absolute URL, credentials stripped */
  url: string;
  sha256: string | undefined;
  requiresPython: string | undefined;
  /** PEP 592: false, or the reason (possibly empty) the file was yanked */
  yanked: false | string;
  /** PEP 700 upload time, when the index gives one */
  uploadTime: Date | undefined;
  kind: "wheel" | "sdist";
  /** the version named by the filename */
  version: string;
  /**
   * PEP 658/714: the sha256 of the file's core metadata, served at the file's URL + ".metadata", when
   * the index advertises it with a hash (an advertisement without one is ignored: nothing unhashed passes).
   */
  metadataSha256?: string;
  /** PEP 740: where the index's Integrity API serves the file's provenance, when it names one (absolute URL) */
  provenanceUrl?: string;
}

/** A project's page on the index: every version it knows, and every file pip could pick. */
export interface ProjectInfo {
  /** the normalised project name */
  name: string;
  /** versions the index names (PEP 700 `versions`, or derived from the files), in index order */
  versions: string[];
  files: IndexFile[];
}

/** A known vulnerability of one release, as the JSON API reports it (OSV-style). */
export interface Vulnerability {
  id: string;
  aliases: string[];
  details: string | undefined;
  fixedIn: string[];
  /** when set, the advisory was withdrawn and no longer counts */
  withdrawn: string | undefined;
}

/** The JSON API's metadata for one release: what the licence, Python and vulnerability rules read. */
export interface ReleaseInfo {
  name: string;
  version: string;
  license: string | undefined;
  licenseExpression: string | undefined;
  classifiers: string[];
  requiresPython: string | undefined;
  vulnerabilities: Vulnerability[];
  /** the earliest upload time of the release's files, when the JSON API gives one */
  uploadTime: Date | undefined;
}

/**
 * Why the index gave no answer. `not-found` (a 404) is an answer — the project or release does not
 * exist, or the index has no JSON API — and is distinct from `unreachable`, which policy treats as deny.
 */
export type IndexFailure = { kind: "not-found"; message: string } | { kind: "unreachable"; message: string } | { kind: "invalid"; message: string };

/** What policy needs from an index; the real client and any test double implement it. */
export interface IndexClient {
  /** the simple index URL in use, credentials stripped (for messages and audit) */
  readonly url: string;
  project(name: string): Promise<Result<ProjectInfo, IndexFailure>>;
  release(name: string, version: string): Promise<Result<ReleaseInfo, IndexFailure>>;
  /**
   * PEP 740: the body of a file's provenance (IndexFile.provenanceUrl), cached like every answer and
   * bounded in size; a URL on another origin than the index is refused (credentials never leave it).
   */
  provenance(url: string): Promise<Result<string, IndexFailure>>;
}
