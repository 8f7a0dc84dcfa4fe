/** PEP 508's name rule (case-insensitive): ASCII letters and digits, with ".", "-", "_" only inside. */
export const NAME_PATTERN = /^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$/i;

/** Whether a project or extra name obeys PEP 508; everything else is refused before any lookup. */
export function isValidName(name: string): boolean {
  return NAME_PATTERN.test(name);
}

/** PEP 503 normalisation, so that "Zope.Interface" and "zope-interface" are one project everywhere. */
export function normalizeName(name: string): string {
  return name.replace(/[-_.]+/g, "-").toLowerCase();
}
