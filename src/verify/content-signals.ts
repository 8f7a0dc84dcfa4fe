import type { ZipArchive, ZipEntry } from "./zip-reader.js";
import { sitePackagesPath, startupHook } from "./wheel-paths.js";

/**
 * What a wheel's contents say about it beyond its layout: the install-time attacks that reached real
 * users. `pth_code`: a .pth whose `import` lines site.py executes at every start-up (the litellm
 * payload). `native_in_pure`: an ELF, Mach-O or PE binary in a wheel tagged pure Python. `encoded_exec`:
 * module-level exec/eval of decoded or decompressed bytes. `base64_blob`: a very long base64 literal in
 * a module. Each is a finding, not a verdict: the rules.content action decides.
 */
export const CONTENT_SIGNALS = ["pth_code", "native_in_pure", "encoded_exec", "base64_blob"] as const;
export type ContentSignalKind = (typeof CONTENT_SIGNALS)[number];

export interface ContentSignal {
  kind: ContentSignalKind;
  /** the file inside the wheel */
  path: string;
  /** one line: what was found, quoted briefly */
  detail: string;
}

/** Caps: a module larger than this is not scanned for code signals (it is still hashed by RECORD). */
const MAX_SCANNED_BYTES = 4 * 1024 * 1024;
/** At most this many findings per kind are reported: one is enough to decide. */
const MAX_PER_KIND = 5;
/** A base64 run this long in a module is worth a look (a 3 KB payload encodes to 4,096 characters). */
export const BASE64_BLOB_CHARS = 4096;

const DECODERS = String.raw`(?:base64\s*\.\s*\w*decode|b64decode|b32decode|b85decode|a85decode|zlib\s*\.\s*decompress|lzma\s*\.\s*decompress|bz2\s*\.\s*decompress|gzip\s*\.\s*decompress|marshal\s*\.\s*loads|codecs\s*\.\s*decode|bytes\s*\.\s*fromhex|binascii\s*\.\s*\w+|__import__\s*\(\s*['"](?:base64|zlib|marshal|codecs|lzma|bz2)['"]\s*\))`;
/** exec/eval at column 0 (module level) whose argument, possibly through compile(), starts by decoding. */
const ENCODED_EXEC = new RegExp(String.raw`^(?:exec|eval|builtins\s*\.\s*exec)\s*\(\s*(?:compile\s*\(\s*)?${DECODERS}`, "m");
const BASE64_RUN = new RegExp(String.raw`[A-Za-z0-9+/]{${BASE64_BLOB_CHARS},}={0,2}`);

/** Whether the wheel's tags are all pure Python: no ABI and any platform (py3-none-any). */
export function isPureTagged(tags: readonly string[]): boolean {
  return tags.length > 0 && tags.every((tag) => tag.endsWith("-none-any"));
}

/** Scans every file of a wheel for the content signals; `problems` gets the entries that could not be read. */
export function scanContent(archive: ZipArchive, files: ReadonlyMap<string, ZipEntry>, tags: readonly string[], problems: string[]): ContentSignal[] {
  const signals: ContentSignal[] = [];
  const add = (signal: ContentSignal) => {
    if (signals.filter((s) => s.kind === signal.kind).length < MAX_PER_KIND) signals.push(signal);
  };
  const pure = isPureTagged(tags);
  for (const [path, entry] of files) {
    const pth = startupHook(path) === "pth";
    const module = path.endsWith(".py") && sitePackagesPath(path) !== undefined;
    if (!pth && !module && !pure) continue;
    if ((pth || module) && entry.size > MAX_SCANNED_BYTES && !pure) continue;
    const data = archive.read(entry);
    if (!data.ok) {
      problems.push(data.error);
      continue;
    }
    const bytes = data.value;
    if (pure) {
      const binary = nativeFormat(bytes);
      if (binary !== undefined) add({ kind: "native_in_pure", path, detail: `${path}: ${binary} binary in a wheel tagged pure Python (${tags.join(".")})` });
    }
    if (bytes.length > MAX_SCANNED_BYTES) continue;
    if (pth) {
      for (const line of pthCode(bytes.toString("utf8")))
        add({ kind: "pth_code", path, detail: `${path}: runs code at every interpreter start-up: ${quote(line)}` });
    }
    if (module) {
      const text = bytes.toString("utf8");
      const exec = ENCODED_EXEC.exec(text);
      if (exec !== null) add({ kind: "encoded_exec", path, detail: `${path}: module-level exec of decoded data: ${quote(lineAt(text, exec.index))}` });
      const run = BASE64_RUN.exec(text);
      if (run !== null) add({ kind: "base64_blob", path, detail: `${path}: a ${run[0].length}-character base64 literal` });
    }
  }
  return signals;
}

/** The lines of a .pth that site.py executes: those starting with `import` and a space or tab. */
export function pthCode(text: string): string[] {
  return text.split(/\r?\n/).filter((line) => line.startsWith("import ") || line.startsWith("import\t"));
}

/** ELF, Mach-O (thin or fat) or PE, by magic number; undefined for anything else. */
export function nativeFormat(bytes: Buffer): string | undefined {
  if (bytes.length < 4) return undefined;
  const magic = bytes.readUInt32BE(0);
  if (magic === 0x7f454c46) return "ELF";
  if ([0xfeedface, 0xfeedfacf, 0xcefaedfe, 0xcffaedfe].includes(magic)) return "Mach-O";
  // 0xcafebabe is also a Java class file; a fat Mach-O names few architectures, a class file's version is ≥ 45.
  if (magic === 0xcafebabe && bytes.length >= 8 && bytes.readUInt32BE(4) < 45) return "Mach-O (universal)";
  if (bytes[0] === 0x4d && bytes[1] === 0x5a && bytes.length >= 0x40) {
    const offset = bytes.readUInt32LE(0x3c);
    if (offset + 4 <= bytes.length && bytes.readUInt32BE(offset) === 0x50450000) return "PE";
  }
  return undefined;
}

function lineAt(text: string, index: number): string {
  const end = text.indexOf("\n", index);
  return text.slice(index, end === -1 ? undefined : end);
}

function quote(line: string): string {
  const flat = line.trim();
  return JSON.stringify(flat.length > 80 ? `${flat.slice(0, 77)}...` : flat);
}
