import { escapeHtml as esc, shorten } from "./html.js";
import { KIND_LABEL, KINDS, type CountKind, type KindCounts } from "./report-data.js";

/** Colours chosen to stay apart for the common colour-vision deficiencies; every chart also says it in text. */
export const KIND_COLOUR: Readonly<Record<CountKind, string>> = {
  installed: "#1b7837",
  "already-satisfied": "#a6dba0",
  refused: "#b2182b",
  invalid: "#762a83",
  "rate-limited": "#de77ae",
  failed: "#e08214",
  approval: "#bf812d",
  gateway: "#2166ac",
  check: "#92c5de",
  other: "#5e6b7a",
};

/** The kinds with at least one count among the bars: what a legend needs to name. */
function usedKinds(all: KindCounts[]): CountKind[] {
  return KINDS.filter((kind) => all.some((counts) => counts[kind] > 0));
}

/** A round axis maximum (1, 2, 5 × 10ⁿ) at or above the largest value. */
function niceMax(value: number): number {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const factor of [1, 2, 5, 10]) if (factor * magnitude >= value) return factor * magnitude;
  return 10 * magnitude;
}

function describeCounts(counts: KindCounts): string {
  const kinds = KINDS.filter((kind) => counts[kind] > 0);
  return kinds.length === 0 ? "none" : kinds.map((kind) => `${counts[kind]} ${KIND_LABEL[kind]}`).join(", ");
}

/** One bar of a stacked chart: its axis label and the count per kind. */
export interface StackedBar {
  label: string;
  /** the short text under the bar; the label when absent */
  tick?: string;
  /** a link the bar opens (the console's log filtered to this period); none in the static report */
  href?: string;
  counts: KindCounts;
}

/** Stacked vertical bars, one per time bucket, segments per outcome kind; each bar has a title with its numbers. */
export function stackedBarChart(bars: StackedBar[], opts: { id: string; title: string; desc: string }): string {
  const width = 960;
  const kinds = usedKinds(bars.map((b) => b.counts));
  const legendRows = Math.max(1, Math.ceil(kinds.length / 5));
  const height = 262 + 18 * legendRows;
  const margin = { top: 16, right: 16, bottom: 40 + legendRows * 18, left: 48 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const max = niceMax(Math.max(0, ...bars.map((b) => KINDS.reduce((n, k) => n + b.counts[k], 0))));
  const slot = bars.length === 0 ? plotW : plotW / bars.length;
  const barW = Math.max(1, Math.min(48, slot * 0.8));
  const labelEvery = Math.max(1, Math.ceil(bars.length / 12));
  const y = (value: number) => margin.top + plotH - (value / max) * plotH;

  const parts = [5, 4, 2, 1].find((n) => Number.isInteger(max / n)) ?? 1;
  const ticks = Array.from({ length: parts + 1 }, (_, i) => (max / parts) * i)
    .map(
      (v) =>
        `<line class="grid" x1="${margin.left}" x2="${width - margin.right}" y1="${y(v)}" y2="${y(v)}"/>` +
        `<text class="tick" x="${margin.left - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text>`,
    )
    .join("");

  const barMarks = bars
    .map((bar, i) => {
      const x = margin.left + i * slot + (slot - barW) / 2;
      let base = 0;
      const segments = KINDS.map((kind) => {
        const count = bar.counts[kind];
        if (count === 0) return "";
        const top = y(base + count);
        const rect = `<rect class="seg k-${kind}" x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${barW.toFixed(1)}" height="${(y(base) - top).toFixed(1)}" fill="${KIND_COLOUR[kind]}"/>`;
        base += count;
        return rect;
      }).join("");
      const label =
        i % labelEvery === 0
          ? `<text class="tick" x="${(x + barW / 2).toFixed(1)}" y="${height - margin.bottom + 16}" text-anchor="middle">${esc(shorten(bar.tick ?? bar.label, 16))}</text>`
          : "";
      const mark = `<g class="bar" data-label="${esc(bar.label)}"><title>${esc(bar.label)}: ${describeCounts(bar.counts)}</title>${segments}${label}</g>`;
      return bar.href === undefined ? mark : `<a href="${esc(bar.href)}">${mark}</a>`;
    })
    .join("");

  return svg(opts, width, height, `${ticks}${barMarks}${legend(kinds, margin.left, height - 18 * legendRows)}`);
}

/** One row of a ranked chart; with counts the bar is split by kind, else drawn in one colour. */
export interface HorizontalBar {
  label: string;
  value: number;
  counts?: KindCounts;
  title?: string;
}

/** Horizontal bars for ranked categories (refusal kinds, packages); labels left, counts right. */
export function horizontalBarChart(bars: HorizontalBar[], opts: { id: string; title: string; desc: string; colour?: string; legend?: boolean }): string {
  const width = 960;
  const rowH = 26;
  const labelW = 320;
  const top = 8;
  const kinds = usedKinds(bars.flatMap((b) => (b.counts === undefined ? [] : [b.counts])));
  const legendH = opts.legend === true ? 10 + 18 * Math.max(1, Math.ceil(kinds.length / 5)) : 0;
  const height = top + Math.max(1, bars.length) * rowH + 8 + legendH;
  const plotW = width - labelW - 70;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const rows = bars
    .map((bar, i) => {
      const y = top + i * rowH;
      const w = Math.max(2, (bar.value / max) * plotW);
      let fill: string;
      if (bar.counts === undefined) {
        fill = `<rect class="hseg" x="${labelW}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${opts.colour ?? KIND_COLOUR.refused}"/>`;
      } else {
        let x = labelW;
        const counts = bar.counts;
        fill = KINDS.map((kind) => {
          if (counts[kind] === 0) return "";
          const segW = (counts[kind] / max) * plotW;
          const rect = `<rect class="hseg k-${kind}" x="${x.toFixed(1)}" y="${y + 4}" width="${segW.toFixed(1)}" height="${rowH - 8}" fill="${KIND_COLOUR[kind]}"/>`;
          x += segW;
          return rect;
        }).join("");
      }
      const title = bar.title ?? `${bar.label}: ${bar.value}`;
      return (
        `<g class="hbar"><title>${esc(title)}</title>` +
        `<text class="label" x="${labelW - 8}" y="${y + rowH / 2 + 4}" text-anchor="end">${esc(shorten(bar.label, 44))}</text>` +
        fill +
        `<text class="value" x="${(labelW + w + 6).toFixed(1)}" y="${y + rowH / 2 + 4}">${bar.value}</text></g>`
      );
    })
    .join("");
  const empty = bars.length === 0 ? `<text class="label" x="${width / 2}" y="${top + 18}" text-anchor="middle">none</text>` : "";
  return svg(opts, width, height, rows + empty + (opts.legend === true ? legend(kinds, 16, height - legendH + 24) : ""));
}

/** The kinds drawn, five to a row, each with its colour and its words. */
function legend(kinds: readonly CountKind[], x: number, y: number): string {
  return `<g class="legend">${kinds
    .map((kind, i) => {
      const left = x + (i % 5) * 180;
      const top = y + Math.floor(i / 5) * 18;
      return `<rect x="${left}" y="${top - 10}" width="12" height="12" fill="${KIND_COLOUR[kind]}"/><text class="tick" x="${left + 18}" y="${top}">${KIND_LABEL[kind]}</text>`;
    })
    .join("")}</g>`;
}

function svg(opts: { id: string; title: string; desc: string }, width: number, height: number, body: string): string {
  return (
    `<svg id="${esc(opts.id)}" class="chart" viewBox="0 0 ${width} ${height}" width="100%" role="img" ` +
    `aria-labelledby="${esc(opts.id)}-title ${esc(opts.id)}-desc">` +
    `<title id="${esc(opts.id)}-title">${esc(opts.title)}</title><desc id="${esc(opts.id)}-desc">${esc(opts.desc)}</desc>` +
    `${body}</svg>`
  );
}
