import { z } from "zod";
import { valid } from "@renovatebot/pep440";
import type { Result } from "../errors.js";
import { formatIssues } from "../config/issues.js";
import { normalizeName } from "../requirement/name.js";
import { parseDistFilename } from "./filename.js";
import type { IndexFile, ProjectInfo } from "./types.js";

/** PEP 691 JSON project page: strict on the fields pipgate reads, lenient to everything else. */
export const SimpleJsonSchema = z.object({
  meta: z.object({ "api-version": z.string().describe("PEP 629 API version, 1.x") }),
  name: z.string().min(1),
  versions: z.array(z.string()).optional().describe("PEP 700: every version, including ones without files"),
  files: z.array(
    z.object({
      filename: z.string().min(1),
      url: z.string().min(1),
      hashes: z.record(z.string(), z.string()).describe("hash name → hex digest"),
      "requires-python": z.string().nullish(),
      yanked: z.union([z.boolean(), z.string()]).optional().describe("PEP 592: true, or the reason"),
      "upload-time": z.string().nullish().describe("PEP 700: ISO 8601 UTC"),
      "core-metadata": z.unknown().optional().describe("PEP 714: true, false, or hash name → hex digest of the .metadata file"),
      "dist-info-metadata": z.unknown().optional().describe("PEP 658's original name for core-metadata"),
      provenance: z.string().max(4096).nullish().describe("PEP 740: the Integrity API URL of the file's provenance, or null"),
    }),
  ),
});
export type SimpleJson = z.infer<typeof SimpleJsonSchema>;

/** The Accept header pip sends: JSON preferred, HTML as the fallback every PEP 503 index speaks. */
export const SIMPLE_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

/** Turns a project page (JSON or HTML, by content type) into ProjectInfo; pageUrl resolves relative links. */
export function parseSimplePage(body: string, contentType: string, pageUrl: string, project: string): Result<ProjectInfo, string> {
  if (contentType.includes("json")) return parseSimpleJson(body, pageUrl, project);
  if (contentType.includes("html")) return parseSimpleHtml(body, pageUrl, project);
  return { ok: false, error: `the index answered with an unexpected content type: ${contentType || "(none)"}` };
}

function parseSimpleJson(body: string, pageUrl: string, project: string): Result<ProjectInfo, string> {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    return { ok: false, error: "the index's project page is not valid JSON" };
  }
  const parsed = SimpleJsonSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, error: `unexpected project page: ${formatIssues(parsed.error).join("; ")}` };
  const page = parsed.data;
  if (!page.meta["api-version"].startsWith("1.")) {
    return { ok: false, error: `unsupported simple API version ${page.meta["api-version"]}` };
  }
  const files: IndexFile[] = [];
  for (const file of page.files) {
    const built = buildFile(project, pageUrl, {
      filename: file.filename,
      href: file.url,
      sha256: file.hashes.sha256,
      requiresPython: file["requires-python"] ?? undefined,
      yanked: file.yanked === undefined || file.yanked === false ? false : file.yanked === true ? "" : file.yanked,
      uploadTime: file["upload-time"] ?? undefined,
      metadataSha256: metadataHashJson(file["core-metadata"] ?? file["dist-info-metadata"]),
      provenance: file.provenance ?? undefined,
    });
    if (built !== undefined) files.push(built);
  }
  return { ok: true, value: { name: normalizeName(page.name), versions: versionsOf(page.versions, files), files } };
}

const ANCHOR = /<a\s([^>]*)>([^<]*)<\/a>/gi;
const ATTRIBUTE = /([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g;

function parseSimpleHtml(body: string, pageUrl: string, project: string): Result<ProjectInfo, string> {
  const files: IndexFile[] = [];
  for (const anchor of body.matchAll(ANCHOR)) {
    const attributes = new Map<string, string>();
    for (const attribute of (anchor[1] ?? "").matchAll(ATTRIBUTE)) {
      const name = attribute[1];
      if (name !== undefined) attributes.set(name.toLowerCase(), decodeEntities(attribute[2] ?? attribute[3] ?? attribute[4] ?? ""));
    }
    const href = attributes.get("href");
    if (href === undefined) continue;
    const fragment = /#sha256=([0-9a-fA-F]{64})$/.exec(href);
    const yanked = attributes.get("data-yanked");
    const built = buildFile(project, pageUrl, {
      filename: decodeEntities((anchor[2] ?? "").trim()),
      href,
      sha256: fragment?.[1]?.toLowerCase(),
      requiresPython: attributes.get("data-requires-python"),
      yanked: yanked === undefined ? false : yanked,
      uploadTime: undefined,
      metadataSha256: metadataHashHtml(attributes.get("data-core-metadata") ?? attributes.get("data-dist-info-metadata")),
      provenance: attributes.get("data-provenance"),
    });
    if (built !== undefined) files.push(built);
  }
  return { ok: true, value: { name: normalizeName(project), versions: versionsOf(undefined, files), files } };
}

interface RawFile {
  filename: string;
  href: string;
  sha256: string | undefined;
  requiresPython: string | undefined;
  yanked: false | string;
  uploadTime: string | undefined;
  metadataSha256: string | undefined;
  provenance: string | undefined;
}

const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

/** PEP 691/714: `{ "sha256": "…" }` (or the string "sha256=…" old pip reads) is a hash; true, false or anything else is no usable metadata. */
function metadataHashJson(value: unknown): string | undefined {
  if (typeof value === "string") return metadataHashHtml(value);
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const sha256: unknown = (value as Record<string, unknown>)["sha256"];
  return typeof sha256 === "string" && SHA256_HEX.test(sha256) ? sha256.toLowerCase() : undefined;
}

/** PEP 658/714 in HTML: `data-core-metadata="sha256=…"`; "true" carries no hash and is not used. */
function metadataHashHtml(value: string | undefined): string | undefined {
  const match = value === undefined ? null : /^sha256=([0-9a-fA-F]{64})$/.exec(value.trim());
  return match?.[1]?.toLowerCase();
}

function buildFile(project: string, pageUrl: string, raw: RawFile): IndexFile | undefined {
  const parsed = parseDistFilename(raw.filename, project);
  if (parsed === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw.href, pageUrl);
  } catch {
    return undefined;
  }
  url.hash = "";
  url.username = "";
  url.password = "";
  const uploadTime = raw.uploadTime === undefined ? undefined : new Date(raw.uploadTime);
  const provenanceUrl = resolveProvenance(raw.provenance, pageUrl);
  return {
    filename: raw.filename,
    url: url.toString(),
    sha256: raw.sha256?.toLowerCase(),
    requiresPython: raw.requiresPython === undefined || raw.requiresPython.trim() === "" ? undefined : raw.requiresPython,
    yanked: raw.yanked,
    uploadTime: uploadTime === undefined || Number.isNaN(uploadTime.getTime()) ? undefined : uploadTime,
    kind: parsed.kind,
    version: parsed.version,
    ...(raw.metadataSha256 === undefined || parsed.kind !== "wheel" ? {} : { metadataSha256: raw.metadataSha256 }),
    ...(provenanceUrl === undefined ? {} : { provenanceUrl }),
  };
}

/** PEP 740's provenance URL, absolute; an unusable one counts as none (the provenance rule then says so). */
function resolveProvenance(value: string | undefined, pageUrl: string): string | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  try {
    const url = new URL(value, pageUrl);
    url.hash = "";
    url.username = "";
    url.password = "";
    return url.protocol === "http:" || url.protocol === "https:" ? url.toString() : undefined;
  } catch {
    return undefined;
  }
}

function versionsOf(listed: string[] | undefined, files: IndexFile[]): string[] {
  const versions = listed ?? [...new Set(files.map((file) => file.version))];
  return versions.filter((version) => valid(version) !== null);
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (match, entity: string) => {
    if (entity.startsWith("#x")) return String.fromCodePoint(Number.parseInt(entity.slice(2), 16));
    if (entity.startsWith("#")) return String.fromCodePoint(Number.parseInt(entity.slice(1), 10));
    return ENTITIES[entity.toLowerCase()] ?? match;
  });
}
