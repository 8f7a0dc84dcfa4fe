import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  checkArgumentsSchema,
  installArgumentsSchema,
  validateCheckArguments,
  validateInstallArguments,
  type ArgumentContext,
} from "../../src/validate/tool-arguments.js";

/**
 * validate*Arguments accept the well-formed call without running the schema; whatever they answer
 * must be what the schema answers: accepted with the same arguments, or refused (the refusal itself is
 * always the schema's, so its wording is tested elsewhere).
 */
const CONTEXTS: ArgumentContext[] = [
  { environments: ["default", "ml"], timeoutMax: 900 },
  { environments: ["ml", "web"], timeoutMax: 120 },
  { environments: [], timeoutMax: 60 },
];

const names = fc.oneof(
  fc.constantFrom(
    "requests",
    "numpy==1.26.4",
    "requests[socks]>=2.31",
    "Django>=4.2,<5",
    "name (>=1.0)",
    " pkg",
    "a",
    "-x",
    "x y",
    "x==",
    "./path",
    "git+https://h/x",
  ),
  fc.string({ maxLength: 12 }),
  fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,8}(\[[a-z]{1,4}\])?([<>=!~]=?[0-9.*]{1,5})?$/),
);
const environments = fc.constantFrom("default", "ml", "web", "../ml", "ml/x", "", "Default", "ml ");
const anyValue = fc.oneof(
  fc.boolean(),
  fc.integer({ min: -5, max: 2000 }),
  fc.double(),
  fc.string({ maxLength: 4 }),
  fc.constant(null),
  fc.constant([]),
  fc.constant({}),
);

function call(extraKeys: readonly string[]) {
  return fc.record(
    {
      package_name: fc.oneof({ weight: 4, arbitrary: names }, { weight: 1, arbitrary: anyValue }),
      environment: fc.oneof({ weight: 4, arbitrary: environments }, { weight: 1, arbitrary: anyValue }),
      ...Object.fromEntries(
        extraKeys.map((key) => [
          key,
          fc.oneof({ weight: 3, arbitrary: fc.boolean() }, { weight: 3, arbitrary: fc.integer({ min: -2, max: 1000 }) }, { weight: 1, arbitrary: anyValue }),
        ]),
      ),
      stray: anyValue,
    },
    { requiredKeys: [] },
  );
}

describe("argument validation's fast path agrees with the schema", () => {
  it("check_package: accepted alike, with the same arguments", () => {
    fc.assert(
      fc.property(fc.constantFrom(...CONTEXTS), call(["resolve"]), (ctx, raw) => {
        const fast = validateCheckArguments(raw, ctx);
        const schema = checkArgumentsSchema(ctx).safeParse(raw);
        expect(fast.ok).toBe(schema.success);
        if (fast.ok && schema.success)
          expect(fast.args).toEqual({ requirement: schema.data.package_name, environment: schema.data.environment, resolve: schema.data.resolve });
      }),
      { numRuns: 800 },
    );
  });

  it("install_package: accepted alike, with the same arguments", () => {
    fc.assert(
      fc.property(fc.constantFrom(...CONTEXTS), call(["upgrade", "timeout"]), (ctx, raw) => {
        const fast = validateInstallArguments(raw, ctx);
        const schema = installArgumentsSchema(ctx).safeParse(raw);
        expect(fast.ok).toBe(schema.success);
        if (fast.ok && schema.success)
          expect(fast.args).toEqual({
            requirement: schema.data.package_name,
            environment: schema.data.environment,
            upgrade: schema.data.upgrade,
            timeout: schema.data.timeout,
          });
      }),
      { numRuns: 800 },
    );
  });

  it("finds both answers among the generated calls (the property is not vacuous)", () => {
    const ctx = CONTEXTS[0] as ArgumentContext;
    expect(validateCheckArguments({ package_name: "requests" }, ctx)).toMatchObject({ ok: true, args: { environment: "default", resolve: false } });
    expect(validateInstallArguments({ package_name: "numpy==1.26.4", environment: "ml", timeout: 900 }, ctx)).toMatchObject({
      ok: true,
      args: { timeout: 900, upgrade: false },
    });
    expect(validateInstallArguments({ package_name: "numpy", timeout: 901 }, ctx).ok).toBe(false);
    expect(validateCheckArguments({ package_name: "requests", resolve: "true" }, ctx).ok).toBe(false);
    expect(validateCheckArguments({ package_name: "requests", environment: "../ml" }, ctx).ok).toBe(false);
    expect(validateCheckArguments({ package_name: "requests", timeout: 3 }, ctx).ok).toBe(false);
  });
});
