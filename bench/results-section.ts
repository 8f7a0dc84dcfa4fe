/**
 * RESULTS.md holds the whole bench run (bench/run.ts rewrites it) and sections that stand-alone
 * benches write (bench/sessions.ts). A section sits between two markers, so each writer replaces only
 * its own and keeps the others.
 */
function markers(name: string): { begin: string; end: string } {
  return { begin: `<!-- bench:${name} -->`, end: `<!-- /bench:${name} -->` };
}

/** Pure: the section `name` of `text` with its markers, or undefined when there is none. */
export function sectionOf(text: string, name: string): string | undefined {
  const { begin, end } = markers(name);
  const from = text.indexOf(begin);
  const to = text.indexOf(end, from);
  return from < 0 || to < 0 ? undefined : text.slice(from, to + end.length);
}

/** Pure: `text` with section `name` replaced by `lines`, or with it appended when it had none. */
export function replaceSection(text: string, name: string, lines: readonly string[]): string {
  const { begin, end } = markers(name);
  const section = [begin, ...lines, end].join("\n");
  const old = sectionOf(text, name);
  if (old !== undefined) return text.replace(old, () => section);
  return `${text.trimEnd()}\n\n${section}\n`;
}
