import { createHash } from "node:crypto";
import { z } from "zod";

/*
 * What one entry of the wheel store holds, and what it is keyed by. The key is everything that changes
 * the bytes or the set of files the store keeps for a wheel, and nothing that only changes where they
 * land:
 *  - the wheel's sha256: the entry's files are that wheel's files (a different wheel, a different entry);
 *  - the interpreter's cache tag (`cpython-311`) and bytecode magic number: they name the .pyc files and
 *    decide their bytes (the magic changes between pre-releases of one minor version, the tag does not);
 *  - the store format, so an older layout is never read as a newer one.
 * Scheme paths (site-packages, bin, the prefix) are not in it: the store keeps each file under its scheme
 * (lib, purelib, platlib, data, headers, scripts) and the install maps schemes to the venv's paths; the
 * files that name the venv (scripts with their shebang, entry-point wrappers, RECORD) are made per install.
 * The .pyc files are compiled with their source named relative to the scheme root and timestamp-checked,
 * as pip's default; the import system puts the real path into a code object when it loads one, so a .pyc
 * from the store behaves as one compiled in place.
 */

/** Bumped whenever an entry's layout or manifest changes meaning. */
export const STORE_FORMAT = 1;

/** Where a stored file goes: "lib" is the wheel's root (purelib or platlib by Root-Is-Purelib), the rest its .data schemes. */
export const SchemeSchema = z.enum(["lib", "purelib", "platlib", "data", "headers", "scripts"]);
export type Scheme = z.infer<typeof SchemeSchema>;

/** The interpreter facts that change what an entry holds. */
export interface StoreInterpreter {
  cacheTag: string;
  magic: string;
}

const REL_PATH = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => !p.startsWith("/") && p.split("/").every((part) => part !== "" && part !== "." && part !== ".." && !part.includes("\0")), {
    message: "a stored path is relative, with no empty, '.' or '..' part",
  });

export const StoredFileSchema = z.strictObject({
  scheme: SchemeSchema,
  path: REL_PATH.describe("relative to its scheme's root, '/'-separated"),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  mode: z.union([z.literal(0o644), z.literal(0o755)]).describe("what an install gives it (before the umask): executable or not"),
  pyc: z.boolean().describe("a byte-compiled file the interpreter would have written; listed in RECORD without a hash, as pip does"),
  ino: z.string().describe("inode number when made: with ctime, a copy-mode install sees any change without reading the bytes"),
  ctimeNs: z.string().describe("status-change time when made; a write, chmod, utime or link changes it, and no caller can set it back"),
  mtimeNs: z.string(),
});
export type StoredFile = z.infer<typeof StoredFileSchema>;

export const StoreManifestSchema = z.strictObject({
  format: z.literal(STORE_FORMAT),
  key: z.string().regex(/^[0-9a-f]{64}$/),
  wheel: z.strictObject({ filename: z.string().min(1).max(512), sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
  interpreter: z.strictObject({ cacheTag: z.string().min(1).max(64), magic: z.string().regex(/^[0-9a-f]{2,32}$/) }),
  distInfo: z
    .string()
    .regex(/^[^/]+\.dist-info$/)
    .describe("the wheel's .dist-info directory name"),
  purelib: z.boolean().describe("Root-Is-Purelib: the wheel's root goes to purelib, else platlib"),
  entryPoints: z.strictObject({
    console_scripts: z.record(z.string(), z.string()),
    gui_scripts: z.record(z.string(), z.string()),
  }),
  files: z.array(StoredFileSchema).max(200_000),
  bytes: z.number().int().nonnegative().describe("the sum of the files' sizes, for the store's cap"),
});
/** Every file of one store entry with what it must still be, and what the install needs from the wheel's metadata. */
export type StoreManifest = z.infer<typeof StoreManifestSchema>;

/** The entry's name under store/entries: a digest of everything in the key (see above). */
export function storeKey(wheelSha256: string, interpreter: StoreInterpreter): string {
  return createHash("sha256")
    .update(JSON.stringify({ format: STORE_FORMAT, wheel: wheelSha256, cacheTag: interpreter.cacheTag, magic: interpreter.magic }))
    .digest("hex");
}

/** A file's place in the entry's tree directory. */
export function treePath(file: Pick<StoredFile, "scheme" | "path">): string {
  return `${file.scheme}/${file.path}`;
}
