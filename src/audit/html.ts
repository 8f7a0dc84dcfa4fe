/**
 * Escapes text for HTML and SVG, in element content and in quoted attributes alike. Record fields are
 * attacker-controlled (a package name can be `<script>…`), so every string from a record passes through here.
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** Cuts a label to a length a chart can show; the full text goes in the element's title. */
export function shorten(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join("")}…`;
}
