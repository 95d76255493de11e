/**
 * The report's charts as inline SVG (no script, no library): horizontal bars for counts by
 * label, vertical bars for histograms. Every bar carries a <title> with its exact count.
 */
import type { Histogram } from './histogram.js';
import { escapeHtml } from './html-escape.js';

export type ChartSpec =
  | {
      readonly kind: 'bars';
      readonly task: string | null;
      readonly title: string;
      readonly bars: readonly { readonly label: string; readonly count: number }[];
    }
  | {
      readonly kind: 'histogram';
      readonly task: string | null;
      readonly title: string;
      readonly histogram: Histogram;
      /** What the x axis measures, e.g. 'top score'. */
      readonly axis: string;
    };

/** A kind's charts, drawn from its results one at a time (a job's results are never all held). */
export interface ChartTally<R> {
  add(result: R): void;
  charts(): ChartSpec[];
}

/** Counts by label, for bar charts: every label of the task, in the task's order, even at 0. */
export class LabelCounts {
  private readonly counts = new Map<string, number>();
  constructor(private readonly labels: readonly string[]) {}
  add(label: string): void {
    this.counts.set(label, (this.counts.get(label) ?? 0) + 1);
  }
  bars(): { label: string; count: number }[] {
    return this.labels.map((label) => ({ label, count: this.counts.get(label) ?? 0 }));
  }
}

const WIDTH = 360;
const fmt = (x: number) => (Number.isInteger(x) ? String(x) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2));

function barsSvg(bars: readonly { label: string; count: number }[]): string {
  const row = 18;
  const labelWidth = 96;
  const plot = WIDTH - labelWidth - 44;
  const top = Math.max(1, ...bars.map((b) => b.count));
  const height = bars.length * row + 4;
  const rows = bars.map((b, i) => {
    const y = 2 + i * row;
    const w = (plot * b.count) / top;
    const label = escapeHtml(b.label);
    return (
      `<text x="${labelWidth - 6}" y="${y + 12}" text-anchor="end">${label}</text>` +
      `<rect x="${labelWidth}" y="${y + 2}" width="${w.toFixed(1)}" height="${row - 5}"><title>${label}: ${b.count}</title></rect>` +
      `<text x="${(labelWidth + w + 4).toFixed(1)}" y="${y + 12}" class="n">${b.count}</text>`
    );
  });
  return `<svg viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img">${rows.join('')}</svg>`;
}

function histogramSvg(h: Histogram, axis: string): string {
  const [left, right, top, bottom] = [34, 8, 8, 30];
  const height = 150;
  const plotW = WIDTH - left - right;
  const plotH = height - top - bottom;
  const peak = Math.max(1, ...h.counts);
  const bw = plotW / h.counts.length;
  const step = (h.max - h.min) / h.counts.length;
  const bars = h.counts.map((c, i) => {
    const bh = (plotH * c) / peak;
    const lo = h.min + i * step;
    const range = `${fmt(lo)}–${fmt(lo + step)}`;
    return (
      `<rect x="${(left + i * bw + 0.5).toFixed(1)}" y="${(top + plotH - bh).toFixed(1)}" ` +
      `width="${Math.max(0.5, bw - 1).toFixed(1)}" height="${bh.toFixed(1)}"><title>${range}: ${c}</title></rect>`
    );
  });
  const base = top + plotH;
  return (
    `<svg viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img">` +
    `<line x1="${left}" y1="${base}" x2="${WIDTH - right}" y2="${base}" class="axis"/>` +
    bars.join('') +
    `<text x="${left - 4}" y="${top + 9}" text-anchor="end" class="n">${peak}</text>` +
    `<text x="${left - 4}" y="${base}" text-anchor="end" class="n">0</text>` +
    `<text x="${left}" y="${base + 13}" class="n">${fmt(h.min)}</text>` +
    `<text x="${WIDTH - right}" y="${base + 13}" text-anchor="end" class="n">${fmt(h.max)}</text>` +
    `<text x="${left + plotW / 2}" y="${base + 26}" text-anchor="middle">${escapeHtml(axis)}</text>` +
    '</svg>'
  );
}

/** One chart as a <figure>: its caption and its SVG. */
export function renderChart(chart: ChartSpec): string {
  const svg = chart.kind === 'bars' ? barsSvg(chart.bars) : histogramSvg(chart.histogram, chart.axis);
  const task = chart.task ? ` data-task="${escapeHtml(chart.task)}"` : '';
  return `<figure class="chart" data-kind="${chart.kind}"${task}><figcaption>${escapeHtml(chart.title)}</figcaption>${svg}</figure>`;
}
