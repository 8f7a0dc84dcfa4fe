import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ACCEPTED_FORM, formatRequirement, normalizeName, parseRequirement } from "../../src/requirement/index.js";
import { PACKAGE_NAME_PATTERN } from "../../src/validate/tool-arguments.js";
import { askPackaging } from "./pep440-oracle.js";

const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const word = fc.stringMatching(/^[a-z0-9]{1,12}$/);
const name = fc.stringMatching(/^[A-Za-z0-9]([A-Za-z0-9._-]{0,30}[A-Za-z0-9])?$/);

const release = fc.array(fc.nat({ max: 30 }), { minLength: 1, maxLength: 4 }).map((parts) => parts.join("."));
const version = fc
  .record({
    epoch: fc.option(fc.nat({ max: 3 }), { nil: undefined }),
    release,
    pre: fc.option(fc.tuple(fc.constantFrom("a", "b", "rc"), fc.nat({ max: 9 })), { nil: undefined }),
    post: fc.option(fc.nat({ max: 9 }), { nil: undefined }),
    dev: fc.option(fc.nat({ max: 9 }), { nil: undefined }),
  })
  .map(({ epoch, release: r, pre, post, dev }) =>
    [
      epoch === undefined ? "" : `${epoch}!`,
      r,
      pre ? `${pre[0]}${pre[1]}` : "",
      post === undefined ? "" : `.post${post}`,
      dev === undefined ? "" : `.dev${dev}`,
    ].join(""),
  );
const clause = fc.oneof(
  fc.tuple(fc.constantFrom(">=", "<=", "<", ">", "==", "!="), version).map(([op, v]) => `${op}${v}`),
  fc.tuple(fc.constantFrom("==", "!="), release).map(([op, r]) => `${op}${r}.*`),
  fc.tuple(release, fc.nat({ max: 9 })).map(([r, n]) => `~=${r}.${n}`),
  fc.tuple(fc.constantFrom("==", "!="), release, word).map(([op, r, local]) => `${op}${r}+${local}`),
);
const spaces = fc.constantFrom("", " ", "  ");
const specifierSet = fc.oneof(
  fc.array(fc.tuple(spaces, clause, spaces), { maxLength: 3 }).map((clauses) => clauses.map((parts) => parts.join("")).join(",")),
  release.map((r) => `===${r}`),
);
const extras = fc.option(
  fc.array(name, { maxLength: 3 }).map((list) => `[${list.join(",")}]`),
  { nil: "" },
);
const validRequirement = fc
  .record({ name, space: spaces, extras, specifier: specifierSet, parenthesised: fc.boolean() })
  .map((r) => ({
    ...r,
    text: `${r.name}${r.space}${r.extras}${r.space}${r.parenthesised && /^[^=]/.test(r.specifier) ? `(${r.specifier})` : r.specifier}`,
  }))
  .filter((r) => r.text.length <= 200);

/** Hostile strings by construction: every one must be refused. */
const controlChar = fc
  .oneof(
    fc.integer({ min: 0, max: 0x1f }),
    fc.integer({ min: 0x7f, max: 0x9f }),
    fc.constantFrom(0x200b, 0x200c, 0x200d, 0x200e, 0x202e, 0x2066, 0x2028, 0x2029, 0xfeff),
  )
  .map((c) => String.fromCodePoint(c));
const nonAsciiChar = fc
  .integer({ min: 0xa0, max: 0x10ffff })
  .filter((c) => c < 0xd800 || c > 0xdfff)
  .map((c) => String.fromCodePoint(c));
const insertInto = (base: fc.Arbitrary<string>, char: fc.Arbitrary<string>) =>
  fc.tuple(base, char, fc.nat()).map(([text, c, at]) => {
    const i = at % (text.length + 1);
    return text.slice(0, i) + c + text.slice(i);
  });
const hostile = fc.oneof(
  fc.tuple(fc.constantFrom("", "numpy ", "requests==2.0 "), fc.constantFrom("-", "--"), printable).map((parts) => parts.join("")),
  fc.tuple(fc.constantFrom("http", "https", "file", "git+https", "git+ssh", "svn+http", "ftp"), printable).map(([scheme, rest]) => `${scheme}://${rest}`),
  fc.tuple(fc.constantFrom("./", "../", "/", "C:\\", "\\\\", "~/", "%2e%2e/"), printable).map((parts) => parts.join("")),
  fc.tuple(name, fc.constantFrom(" @ ", "@"), printable).map((parts) => parts.join("")),
  fc.tuple(name, spaces, fc.constantFrom(";"), printable).map((parts) => parts.join("")),
  insertInto(
    validRequirement.map((r) => r.text),
    controlChar,
  ),
  insertInto(
    validRequirement.map((r) => r.text),
    nonAsciiChar,
  ),
  insertInto(printable, fc.constantFrom(";", "@", "/", "\\", ":", "$", "`")),
  fc.tuple(name, fc.constantFrom(" ", ", ", ","), name).map(([a, sep, b]) => `${a}${sep}${b}`),
  fc.string({ minLength: 201, maxLength: 400 }),
);

function expectActionableRefusal(raw: string): void {
  const result = parseRequirement(raw);
  expect(result.ok, `accepted ${JSON.stringify(raw)}`).toBe(false);
  if (result.ok) return;
  expect(result.message.length).toBeGreaterThan(0);
  expect(result.message.length).toBeLessThanOrEqual(1000);
  expect(result.message).toMatch(/^[\x20-\x7e]+$/);
  expect(result.message).toContain(ACCEPTED_FORM);
}

describe("properties of parseRequirement", () => {
  it("refuses every generated hostile string with an actionable, single-line message", () => {
    fc.assert(fc.property(hostile, expectActionableRefusal), { numRuns: 2000 });
  });

  it("never throws, and anything it accepts fits the advertised pattern; everything else gets an actionable refusal", () => {
    const anything = fc.oneof(printable, fc.string({ unit: "binary", maxLength: 60 }), fc.string({ unit: "grapheme", maxLength: 30 }));
    fc.assert(
      fc.property(anything, (raw) => {
        const result = parseRequirement(raw);
        if (result.ok) expect(raw).toMatch(new RegExp(PACKAGE_NAME_PATTERN));
        else expectActionableRefusal(raw);
      }),
      { numRuns: 3000 },
    );
  });

  it("accepts every generated valid requirement and round-trips it to the same normalised name", () => {
    fc.assert(
      fc.property(validRequirement, (generated) => {
        const result = parseRequirement(generated.text);
        expect(result.ok, JSON.stringify(result)).toBe(true);
        if (!result.ok) return;
        expect(result.requirement.normalized).toBe(normalizeName(generated.name));
        expect(generated.text).toMatch(new RegExp(PACKAGE_NAME_PATTERN));
        const again = parseRequirement(formatRequirement(result.requirement));
        expect(again.ok && again.requirement).toMatchObject({
          normalized: result.requirement.normalized,
          extras: result.requirement.extras,
          specifier: result.requirement.specifier,
        });
      }),
      { numRuns: 1000 },
    );
  });

  it("reads every generated valid requirement, and its formatted form, exactly as pip's packaging does", async () => {
    const generated = fc.sample(validRequirement, { numRuns: 500, seed: 508 }).map((r) => r.text);
    // What pipgate hands on (formatRequirement) must read the same as what the agent wrote.
    const samples = generated.flatMap((text) => {
      const ours = parseRequirement(text);
      return ours.ok ? [text, formatRequirement(ours.requirement)] : [text];
    });
    const answers = await askPackaging(samples.map((requirement) => ({ op: "parse", requirement })));
    const disagreements = samples.flatMap((text, index) => {
      const ours = parseRequirement(text);
      const theirs = answers[index];
      const mine = ours.ok
        ? {
            name: ours.requirement.normalized,
            extras: [...ours.requirement.extras].sort(),
            specifier: ours.requirement.specifier === "" ? [] : ours.requirement.specifier.split(",").sort(),
            url: null,
            marker: null,
          }
        : { refused: ours.kind };
      return JSON.stringify(mine) === JSON.stringify(theirs) ? [] : [{ text, mine, theirs }];
    });
    expect(disagreements).toEqual([]);
  });
});
