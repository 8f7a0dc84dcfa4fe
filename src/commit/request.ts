import { isAbsolute } from "node:path";
import { valid as validVersion } from "@renovatebot/pep440";
import { z } from "zod";
import { ENVIRONMENT_NAME } from "../config/schema.js";

// PEP 508 distribution names: letters, digits and . _ - with an alphanumeric at both ends.
const DIST_NAME = /^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$/;

/** A wheel that passed verification: the commit installs exactly these bytes or nothing. */
export const VerifiedWheelSchema = z.object({
  name: z.string().regex(DIST_NAME, "not a distribution name").describe("distribution name as verified"),
  version: z
    .string()
    .refine((v) => validVersion(v) !== null, "not a PEP 440 version")
    .describe("the exact version; it becomes an == pin"),
  path: z
    .string()
    .refine(isAbsolute, "the wheel path must be absolute")
    .refine((p) => p.endsWith(".whl"), "only wheels are installed: the host never builds (DESIGN property 1)")
    .describe("the verified wheel file on disk"),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, "sha256 must be 64 lowercase hex digits")
    .describe("the digest verification saw; the file is re-hashed before install"),
  entryPoints: z
    .object({ console_scripts: z.record(z.string(), z.string()), gui_scripts: z.record(z.string(), z.string()) })
    .optional()
    .describe(
      "the entry points the verify stage's inspection found in these bytes: given, the direct installer's plan of a " +
        "wheel without a store entry does not inspect it again (the staged copy is re-hashed against sha256 first)",
    ),
});
export type VerifiedWheel = z.infer<typeof VerifiedWheelSchema>;

/**
 * Test-only hooks; a hook that throws simulates a failure at that point. Never set in production.
 * beforePip and afterPip run around either installer; duringPip only with pip (it gets pip's pid),
 * duringDirect and duringCompile only with the direct installer, after each file it writes and as
 * each byte-compiling process starts.
 */
export interface CommitFaults {
  beforePip?: () => Promise<void> | void;
  duringPip?: (pipPid: number) => Promise<void> | void;
  duringDirect?: (filesWritten: number) => Promise<void> | void;
  /** Direct installer only: each byte-compiling process, once its pid is journalled and before it gets work. */
  duringCompile?: (compilerPid: number) => Promise<void> | void;
  afterPip?: () => Promise<void> | void;
  /** After the backup (or undo journal) is durable and before the journal row says "started". */
  afterBackup?: () => Promise<void> | void;
  /** Direct installer only: midway through restoring a failed commit (created paths gone, nothing put back). */
  duringRollback?: () => Promise<void> | void;
}

/** Which installer commits: the venv's own pip, or pipgate's direct wheel installer (no pip start-up). */
export const InstallerSchema = z.enum(["pip", "direct"]);
export type Installer = z.infer<typeof InstallerSchema>;

/** Everything a commit needs; validated before anything touches the disk. */
export const CommitRequestSchema = z
  .object({
    environment: z.string().regex(ENVIRONMENT_NAME, "environment names are letters, digits, - and _"),
    python: z.string().refine(isAbsolute, "the interpreter path must be absolute").describe("the venv's interpreter"),
    wheels: z.array(VerifiedWheelSchema).min(1, "nothing to install").describe("exactly what to install, dependencies included"),
    auditId: z.string().min(1).describe("the audit record this commit belongs to"),
    stateDir: z.string().refine(isAbsolute, "the state directory must be absolute").describe("holds locks/ and backups/"),
    installer: InstallerSchema.describe("which installer commits; pipgate.yaml's commit.installer holds the one default"),
    requested: z
      .array(z.string().regex(DIST_NAME, "not a distribution name"))
      .max(1000)
      .optional()
      .describe("the distributions asked for, which get REQUESTED (pip's semantics); default: every wheel (direct installer)"),
    backup: z.enum(["copy", "hardlink"]).optional().describe("default: hardlink for the direct installer, copy for pip"),
    store: z
      .boolean()
      .optional()
      .describe("direct installer: take files from the store of unpacked, byte-compiled wheels (default true); false unpacks and compiles per install"),
    link: z
      .enum(["copy", "hardlink"])
      .optional()
      .describe("how files leave the store: copy (default; a reflink where possible) or hardlink (shares inodes with the store)"),
    storeMaxMb: z.number().int().min(0).max(1_048_576).optional().describe("the store's cap; least recently used entries go beyond it (default 2048)"),
  })
  .refine((r) => !(r.backup === "hardlink" && r.installer === "pip"), {
    // pip's write behaviour is not pipgate's to promise: one in-place write would corrupt a linked backup.
    message: "a hardlink backup needs the direct installer; pip may write into existing files",
    path: ["backup"],
  });

export interface CommitRequest extends z.infer<typeof CommitRequestSchema> {
  faults?: CommitFaults;
}

export interface Pin {
  name: string;
  version: string;
}

/**
 * Where a failed commit stopped: callers tell "refused, untouched" from "rolled back" from "broken".
 * "conflict" and "ownership" are refusals under the lock: the wheels no longer fit the environment as
 * it is (a requirement they break, a file another distribution owns), and nothing was written.
 */
export type CommitStage = "validate" | "verify" | "lock" | "inspect" | "conflict" | "ownership" | "backup" | "pip" | "rollback";

/** The stages that refuse a set that does not fit, as opposed to failing. */
export const REFUSING_STAGES: ReadonlySet<CommitStage> = new Set(["conflict", "ownership"]);

/**
 * Where a commit's time went, in milliseconds, in the order the parts happen (the audit record's
 * `commit.timings`, which the bench splits the commit stage into). A part the commit did not reach is absent.
 */
export interface CommitTimings {
  /** copying the wheels into the private staging directory and hashing them again */
  stageMs: number;
  /** waiting for the environment's lock */
  lockMs?: number;
  /** the interpreter's inspection under the lock: what is installed, where, and what the wheels would clash with */
  inspectMs?: number;
  /** the direct installer's plan: opening (and checking) the store entries, reading the wheels without one */
  planMs?: number;
  /** the undo journal (or pip's backup), durably written */
  backupMs?: number;
  /** writing the files (uninstalls first), without the byte-compiling */
  writeMs?: number;
  /** byte-compiling the files that did not come from the store */
  compileMs?: number;
  /** the checks after the install, discarding the backup, queueing the store entries */
  finishMs?: number;
}

/** A commit's outcome; every failure says whether the environment was restored. */
export type CommitResult =
  | { ok: true; installed: Pin[]; unchanged: Pin[]; durationMs: number; timings?: CommitTimings }
  | { ok: false; error: string; rolledBack: boolean; stage: CommitStage };
