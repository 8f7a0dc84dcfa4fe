import { escapeHtml as esc } from "../audit/html.js";
import type { ConsoleDeps } from "./deps.js";
import { notice } from "./layout.js";

/**
 * The chain's state, checked on every view: intact with the head hash to publish (somewhere pipgate cannot
 * write, so a later truncation shows), or the first record that breaks it. A head published earlier can be
 * checked against the chain as it is now.
 */
export async function renderChain(deps: ConsoleDeps, publishedHead: string | undefined): Promise<string> {
  const result = await deps.audit.verify();
  const status = result.ok
    ? `<section class="chain ok" id="chain" aria-label="Chain status"><strong>Chain verified</strong>: ${result.count} records.<br>Head hash to publish: <code class="hash" id="head">${esc(result.head)}</code></section>`
    : `<section class="chain broken" id="chain" aria-label="Chain status" role="alert"><strong>Chain BROKEN</strong> at seq ${result.firstBad.seq}, record <a href="/records/${encodeURIComponent(result.firstBad.id)}">${esc(result.firstBad.id)}</a>: ${esc(result.firstBad.problem)}<br>${esc(result.firstBad.detail)}</section>`;
  let check = "";
  if (publishedHead !== undefined) {
    if (!/^[0-9a-f]{64}$/.test(publishedHead)) check = notice("error", "a head hash is 64 lower-case hex digits");
    else {
      const seq = await deps.audit.seqOfHash(publishedHead);
      check =
        seq === undefined
          ? notice("error", `${publishedHead} is not in the chain: records up to it were removed, or it was never this log's head`)
          : notice("ok", `${publishedHead} is record #${seq}; the chain still holds it and everything before it`);
    }
  }
  const form =
    `<form method="get" action="/chain" class="filters"><label>A head published earlier<input name="head" maxlength="64" size="70" value="${esc(publishedHead ?? "")}"></label>` +
    `<button type="submit">Check</button></form>`;
  return `${status}<p>The same check as <code>pipgate audit verify</code>: every record's hash recomputed and linked to the one before.</p>${form}${check}`;
}
