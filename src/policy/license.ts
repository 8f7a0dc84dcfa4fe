import type { ReleaseInfo } from "../index/types.js";

/** Where a release's licence came from, and what it is as an SPDX expression. */
export interface DetectedLicense {
  expression: string;
  source: "license_expression" | "license" | "classifiers";
}

/**
 * Trove classifiers → SPDX. Ambiguous classifiers ("BSD License") become an AND of their readings, so
 * they pass only when every reading is allowed (fail closed).
 */
const CLASSIFIERS: Record<string, string> = {
  "MIT License": "MIT",
  "MIT No Attribution License (MIT-0)": "MIT-0",
  "BSD License": "BSD-2-Clause AND BSD-3-Clause",
  "Apache Software License": "Apache-2.0",
  "ISC License (ISCL)": "ISC",
  "Python Software Foundation License": "PSF-2.0",
  "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
  "The Unlicense (Unlicense)": "Unlicense",
  "Zope Public License": "ZPL-2.1",
  "Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
  "Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
  "Historical Permission Notice and Disclaimer (HPND)": "HPND",
  "GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
  "GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
  "GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
  "GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
  "GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
  "GNU Lesser General Public License v2 or later (LGPLv2+)": "LGPL-2.0-or-later",
  "GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
  "GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
  "GNU Affero General Public License v3": "AGPL-3.0-only",
  "GNU Affero General Public License v3 or later (AGPLv3+)": "AGPL-3.0-or-later",
};

/** Common free-text `license` values → SPDX, compared lower-cased with punctuation squeezed. */
const LICENSE_TEXT: Record<string, string> = {
  mit: "MIT",
  "mit license": "MIT",
  "the mit license": "MIT",
  "apache 2": "Apache-2.0",
  "apache 2.0": "Apache-2.0",
  "apache license 2.0": "Apache-2.0",
  "apache license version 2.0": "Apache-2.0",
  "apache software license": "Apache-2.0",
  "apache software license 2.0": "Apache-2.0",
  "asl 2": "Apache-2.0",
  bsd: "BSD-2-Clause AND BSD-3-Clause",
  "bsd license": "BSD-2-Clause AND BSD-3-Clause",
  "new bsd": "BSD-3-Clause",
  "new bsd license": "BSD-3-Clause",
  "3 clause bsd": "BSD-3-Clause",
  "bsd 3 clause": "BSD-3-Clause",
  "2 clause bsd": "BSD-2-Clause",
  "simplified bsd": "BSD-2-Clause",
  psf: "PSF-2.0",
  "psf license": "PSF-2.0",
  "python software foundation license": "PSF-2.0",
  isc: "ISC",
  "isc license": "ISC",
  "mpl 2.0": "MPL-2.0",
  gplv2: "GPL-2.0-only",
  "gplv2+": "GPL-2.0-or-later",
  gplv3: "GPL-3.0-only",
  "gplv3+": "GPL-3.0-or-later",
  lgplv3: "LGPL-3.0-only",
  "lgplv3+": "LGPL-3.0-or-later",
  unlicense: "Unlicense",
  "public domain": "Unlicense",
};

/** Phrases that identify a licence pasted in full into the `license` field. */
const LICENSE_BODIES: [RegExp, string][] = [
  [/permission is hereby granted, free of charge/i, "MIT"],
  [/apache license\s*,?\s*version 2\.0/i, "Apache-2.0"],
  [/redistribution and use in source and binary forms/i, "BSD-2-Clause AND BSD-3-Clause"],
];

const SPDX_EXPRESSION = /^[A-Za-z0-9.+\-() ]+$/;
const SPDX_OPERATORS = new Set(["AND", "OR", "WITH"]);

/** The release's licence: PEP 639 expression first, then the `license` field, then classifiers; undefined = unknown. */
export function detectLicense(release: ReleaseInfo | undefined): DetectedLicense | undefined {
  if (release === undefined) return undefined;
  if (release.licenseExpression !== undefined && parseExpression(release.licenseExpression) !== undefined) {
    return { expression: release.licenseExpression.trim(), source: "license_expression" };
  }
  const fromText = release.license === undefined ? undefined : licenseFromText(release.license);
  if (fromText !== undefined) return { expression: fromText, source: "license" };
  const mapped = release.classifiers
    .filter((classifier) => classifier.startsWith("License ::"))
    .map((classifier) => CLASSIFIERS[classifier.split("::").at(-1)?.trim() ?? ""])
    .filter((spdx): spdx is string => spdx !== undefined);
  const unique = [...new Set(mapped)];
  // Several licence classifiers conventionally mean the user may choose (dual licensing).
  if (unique.length > 0) return { expression: unique.map((e) => (unique.length > 1 && e.includes(" ") ? `(${e})` : e)).join(" OR "), source: "classifiers" };
  return undefined;
}

function licenseFromText(text: string): string | undefined {
  const trimmed = text.trim();
  if (trimmed === "" || /^unknown$/i.test(trimmed)) return undefined;
  if (!trimmed.includes("\n") && trimmed.length <= 120) {
    const key = trimmed.toLowerCase().replace(/[,_]/g, " ").replace(/-/g, " ").replace(/\s+/g, " ").replace(/\.$/, "");
    const known = LICENSE_TEXT[key];
    if (known !== undefined) return known;
    if (looksLikeSpdx(trimmed)) return trimmed;
    return undefined;
  }
  return LICENSE_BODIES.find(([pattern]) => pattern.test(trimmed))?.[1];
}

/** An SPDX-looking expression: identifiers with hyphens or digits (MIT, Apache-2.0), joined by AND/OR/WITH. */
function looksLikeSpdx(text: string): boolean {
  if (!SPDX_EXPRESSION.test(text)) return false;
  const ids = text
    .replace(/[()]/g, " ")
    .split(/\s+/)
    .filter((token) => token !== "" && !SPDX_OPERATORS.has(token));
  return ids.length > 0 && ids.every((id) => /^(MIT|ISC|Unlicense|[A-Za-z0-9.+]+-[A-Za-z0-9.+-]+)$/.test(id)) && parseExpression(text) !== undefined;
}

type Expr = { id: string } | { op: "AND" | "OR"; left: Expr; right: Expr };

/** Parses an SPDX expression (AND binds tighter than OR; `X WITH exception` counts as X); undefined if malformed. */
export function parseExpression(text: string): Expr | undefined {
  const tokens = text.match(/\(|\)|[^\s()]+/g) ?? [];
  let position = 0;
  const peek = () => tokens[position];
  function primary(): Expr | undefined {
    const token = tokens[position++];
    if (token === undefined) return undefined;
    if (token === "(") {
      const inner = or();
      if (tokens[position++] !== ")") return undefined;
      return inner;
    }
    if (token === ")" || SPDX_OPERATORS.has(token.toUpperCase())) return undefined;
    if (peek()?.toUpperCase() === "WITH") {
      position += 1;
      if (tokens[position++] === undefined) return undefined;
    }
    return { id: token };
  }
  function and(): Expr | undefined {
    let left = primary();
    while (left !== undefined && peek()?.toUpperCase() === "AND") {
      position += 1;
      const right = primary();
      left = right === undefined ? undefined : { op: "AND", left, right };
    }
    return left;
  }
  function or(): Expr | undefined {
    let left = and();
    while (left !== undefined && peek()?.toUpperCase() === "OR") {
      position += 1;
      const right = and();
      left = right === undefined ? undefined : { op: "OR", left, right };
    }
    return left;
  }
  const expr = or();
  return expr !== undefined && position === tokens.length ? expr : undefined;
}

/** Whether an SPDX expression is satisfied by the allowed identifiers (case-insensitive). */
export function licenseAllowed(expression: string, allowed: readonly string[]): boolean {
  const expr = parseExpression(expression);
  if (expr === undefined) return false;
  const set = new Set(allowed.map((id) => id.toLowerCase()));
  const check = (e: Expr): boolean => {
    if ("id" in e) return set.has(e.id.toLowerCase());
    return e.op === "AND" ? check(e.left) && check(e.right) : check(e.left) || check(e.right);
  };
  return check(expr);
}
