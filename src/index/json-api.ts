import { z } from "zod";
import type { Result } from "../errors.js";
import { formatIssues } from "../config/issues.js";
import { normalizeName } from "../requirement/name.js";
import type { ReleaseInfo } from "./types.js";

const nullableText = z
  .string()
  .nullish()
  .transform((value) => (value === null || value === undefined || value.trim() === "" ? undefined : value));

/** The JSON API's release document (`/pypi/NAME/VERSION/json`): strict on what pipgate reads, lenient to the rest. */
export const ReleaseJsonSchema = z.object({
  info: z.object({
    name: z.string().min(1),
    version: z.string().min(1),
    license: nullableText.describe("free text, often an SPDX id, sometimes the whole licence"),
    license_expression: nullableText.describe("PEP 639 SPDX expression"),
    classifiers: z
      .array(z.string())
      .nullish()
      .transform((value) => value ?? []),
    requires_python: nullableText,
  }),
  urls: z
    .array(z.object({ filename: z.string(), upload_time_iso_8601: z.string().nullish() }))
    .nullish()
    .transform((value) => value ?? []),
  vulnerabilities: z
    .array(
      z.object({
        id: z.string().min(1),
        aliases: z
          .array(z.string())
          .nullish()
          .transform((value) => value ?? []),
        details: z.string().nullish(),
        fixed_in: z
          .array(z.string())
          .nullish()
          .transform((value) => value ?? []),
        withdrawn: z.string().nullish(),
      }),
    )
    .nullish()
    .transform((value) => value ?? []),
});

/** Where the JSON API lives for a simple index: `http://h/simple/` → `http://h/pypi/`, else the origin's `/pypi/`. */
export function jsonApiBase(simpleUrl: string): string {
  const url = new URL(simpleUrl);
  url.search = "";
  url.hash = "";
  url.username = "";
  url.password = "";
  const path = url.pathname.replace(/\/+$/, "");
  url.pathname = path.endsWith("/simple") ? `${path.slice(0, -"simple".length)}pypi/` : "/pypi/";
  return url.toString();
}

/** Validates a release document and turns it into ReleaseInfo. */
export function parseReleaseJson(body: string): Result<ReleaseInfo, string> {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    return { ok: false, error: "the index's release metadata is not valid JSON" };
  }
  const parsed = ReleaseJsonSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, error: `unexpected release metadata: ${formatIssues(parsed.error).join("; ")}` };
  const { info, urls, vulnerabilities } = parsed.data;
  const times = urls
    .map((file) => (file.upload_time_iso_8601 ? new Date(file.upload_time_iso_8601).getTime() : Number.NaN))
    .filter((time) => !Number.isNaN(time));
  return {
    ok: true,
    value: {
      name: normalizeName(info.name),
      version: info.version,
      license: info.license,
      licenseExpression: info.license_expression,
      classifiers: info.classifiers,
      requiresPython: info.requires_python,
      vulnerabilities: vulnerabilities.map((v) => ({
        id: v.id,
        aliases: v.aliases,
        details: v.details ?? undefined,
        fixedIn: v.fixed_in,
        withdrawn: v.withdrawn ?? undefined,
      })),
      uploadTime: times.length === 0 ? undefined : new Date(Math.min(...times)),
    },
  };
}
