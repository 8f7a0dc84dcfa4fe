/** How much of a refused input a message quotes: enough to recognise it, never a wall of text. */
export const ECHO_LIMIT = 60;

/**
 * Quotes untrusted input for a message: truncated, JSON-escaped, and every character outside
 * printable ASCII shown as \uXXXX, so control characters, bidi overrides and look-alike letters
 * are visible instead of acting on the reader's terminal or fooling the eye.
 */
export function echo(input: string, limit: number = ECHO_LIMIT): string {
  const truncated = input.length > limit ? `${input.slice(0, limit)}...` : input;
  return escapeNonAscii(JSON.stringify(truncated));
}

/** One character as a message shows it, e.g. "\u0455" or "\n". */
export function showChar(char: string): string {
  return escapeNonAscii(JSON.stringify(char)).slice(1, -1);
}

function escapeNonAscii(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
