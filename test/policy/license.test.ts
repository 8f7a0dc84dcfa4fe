import { describe, expect, it } from "vitest";
import type { ReleaseInfo } from "../../src/index/types.js";
import { detectLicense, licenseAllowed, parseExpression } from "../../src/policy/license.js";

function release(fields: Partial<ReleaseInfo>): ReleaseInfo {
  return {
    name: "demo",
    version: "1.0",
    license: undefined,
    licenseExpression: undefined,
    classifiers: [],
    requiresPython: undefined,
    vulnerabilities: [],
    uploadTime: undefined,
    ...fields,
  };
}

describe("licence detection", () => {
  it("prefers the SPDX expression, then the licence field, then classifiers", () => {
    expect(detectLicense(release({ licenseExpression: "Apache-2.0", license: "MIT", classifiers: ["License :: OSI Approved :: BSD License"] }))).toEqual({
      expression: "Apache-2.0",
      source: "license_expression",
    });
    expect(detectLicense(release({ license: "MIT License", classifiers: ["License :: OSI Approved :: BSD License"] }))?.expression).toBe("MIT");
    expect(detectLicense(release({ classifiers: ["License :: OSI Approved :: Apache Software License"] }))).toEqual({
      expression: "Apache-2.0",
      source: "classifiers",
    });
  });

  it("recognises a licence pasted in full", () => {
    const text = "Copyright (c) 2024 Someone\n\nPermission is hereby granted, free of charge, to any person obtaining a copy...";
    expect(detectLicense(release({ license: text }))?.expression).toBe("MIT");
  });

  it("says unknown when nothing identifies the licence", () => {
    expect(detectLicense(release({}))).toBeUndefined();
    expect(detectLicense(release({ license: "UNKNOWN" }))).toBeUndefined();
    expect(detectLicense(release({ license: "see the LICENSE file" }))).toBeUndefined();
    expect(detectLicense(undefined)).toBeUndefined();
  });

  it("treats several licence classifiers as a choice", () => {
    const detected = detectLicense(release({ classifiers: ["License :: OSI Approved :: MIT License", "License :: OSI Approved :: Apache Software License"] }));
    expect(detected?.expression).toBe("MIT OR Apache-2.0");
  });
});

describe("licence expressions against the allowed list", () => {
  it("OR needs one allowed side, AND needs both", () => {
    expect(licenseAllowed("MIT OR GPL-3.0-only", ["MIT"])).toBe(true);
    expect(licenseAllowed("MIT AND GPL-3.0-only", ["MIT"])).toBe(false);
    expect(licenseAllowed("(MIT AND BSD-3-Clause) OR GPL-3.0-only", ["mit", "bsd-3-clause"])).toBe(true);
    expect(licenseAllowed("GPL-2.0-or-later WITH Classpath-exception-2.0", ["GPL-2.0-or-later"])).toBe(true);
  });

  it("an ambiguous BSD classifier passes only when both readings are allowed", () => {
    expect(licenseAllowed("BSD-2-Clause AND BSD-3-Clause", ["BSD-3-Clause"])).toBe(false);
    expect(licenseAllowed("BSD-2-Clause AND BSD-3-Clause", ["BSD-3-Clause", "BSD-2-Clause"])).toBe(true);
  });

  it("refuses malformed expressions", () => {
    expect(parseExpression("MIT OR")).toBeUndefined();
    expect(parseExpression("(MIT")).toBeUndefined();
    expect(licenseAllowed("MIT AND", ["MIT"])).toBe(false);
  });
});
