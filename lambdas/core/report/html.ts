/**
 * The report as one self-contained HTML file: the summary rendered here (tables and SVG
 * charts), the gallery rendered by the page's own script from the pairs embedded as JSON, one
 * page at a time, so that thousands of pairs never become thousands of elements at once.
 * Nothing is fetched at view time: styles, script, images and masks are all inline.
 */
import { ERROR_CODES } from '../errors.js';
import type { TaskMetrics } from '../evaluation.js';
import { renderChart } from './charts.js';
import type { GalleryCounts } from './gallery.js';
import { escapeHtml, scriptJson } from './html-escape.js';
import type { ReportPair, ReportSummary } from './report-model.js';

/** Overlay colours of the tasks that draw over the thumbnails, in manifest order (RGB). */
export const MASK_COLORS: readonly (readonly [number, number, number])[] = [
  [182, 255, 0],
  [0, 229, 255],
  [255, 64, 129],
  [255, 171, 0],
];
export const maskColor = (index: number) => MASK_COLORS[index % MASK_COLORS.length];

export const DEFAULT_PAGE_SIZE = 50;

/** Everything on the page but the gallery's pairs. */
export interface ReportHeader {
  readonly job: string;
  /** Model identities and engines that produced the records. */
  readonly models: readonly string[];
  readonly generatedAt: string;
  readonly truthFile?: string;
  readonly summary: ReportSummary;
  /** Tasks that draw over the thumbnails, with their colours and what each shows. */
  readonly overlayTasks: readonly {
    readonly task: string;
    readonly swatches: readonly { readonly color: string; readonly label?: string }[];
  }[];
  readonly pageSize?: number;
  /** When the gallery holds fewer pairs than the job: how they were chosen (gallery.ts). */
  readonly gallery?: GalleryCounts;
}

export interface ReportDocument extends ReportHeader {
  readonly pairs: readonly ReportPair[];
}

/** The page's stylesheet and script, inlined as they are. */
export interface ReportAssets {
  readonly css: string;
  readonly js: string;
}

const tile = (value: number, label: string, cls = '') =>
  `<div class="tile${cls ? ` ${cls}` : ''}" data-tile="${label}"><b>${value.toLocaleString('en-US')}</b> ${label}</div>`;

function errorsTable(summary: ReportSummary): string {
  if (!summary.errorsByCode.length) return '';
  const rows = summary.errorsByCode.map(
    (e) =>
      `<tr><td><code>${escapeHtml(e.code)}</code></td><td class="num">${e.count}</td>` +
      `<td>${escapeHtml(ERROR_CODES[e.code as keyof typeof ERROR_CODES] ?? '')}</td></tr>`,
  );
  return `<h2>Errors by code</h2><table class="errors"><thead><tr><th>code</th><th>pairs</th><th>meaning</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function metricsTable(metrics: readonly TaskMetrics[] | undefined, truthFile: string | undefined): string {
  if (!metrics) return '';
  const rows = metrics.map((m) => {
    const value = m.fraction ? `${(100 * m.value).toFixed(2)} %` : m.value.toFixed(4);
    return (
      `<tr data-task="${escapeHtml(m.task)}"><td>${escapeHtml(m.task)}</td><td>${m.kind}</td><td>${escapeHtml(m.label)}</td>` +
      `<td class="num">${value}</td><td class="num">${m.pairs}</td><td>${escapeHtml(m.note ?? '')}</td></tr>`
    );
  });
  return (
    `<h2>Against the ground truth</h2><p class="meta">${escapeHtml(truthFile ?? '')}</p>` +
    '<table class="metrics"><thead><tr><th>task</th><th>kind</th><th>metric</th><th>value</th><th>pairs</th><th></th></tr></thead>' +
    `<tbody>${rows.join('')}</tbody></table>`
  );
}

const count = (n: number) => n.toLocaleString('en-US');

/** A line under the gallery's title when it holds only some of the job's pairs. */
function galleryNote(gallery: GalleryCounts | undefined, truth: boolean): string {
  if (!gallery || gallery.shown === gallery.pairs) return '';
  if (gallery.shown === 0)
    return '<p class="meta" id="gallery-note">No gallery: the report was written with --gallery 0.</p>';
  const flagged = truth ? 'errors and wrong pairs' : 'errors';
  return (
    `<p class="meta" id="gallery-note">${count(gallery.shown)} of ${count(gallery.pairs)} pairs: ` +
    `${count(gallery.flaggedShown)} of the ${count(gallery.flagged)} ${flagged}, and a sample of the others ` +
    '(chosen by a hash of the pair id, so the same job gives the same sample). The summary above counts every pair.</p>'
  );
}

/**
 * The page up to the gallery's pairs, which follow as JSON values separated by commas
 * (reportPairJson), then reportClosing: the file is written as it goes, never held whole.
 */
export function reportOpening(doc: ReportHeader, assets: ReportAssets): string {
  const { summary } = doc;
  const title = `fusebatch report: ${doc.job}`;
  const tiles = [
    tile(summary.pairs, 'pairs'),
    tile(summary.ok, 'results'),
    tile(summary.errors, 'errors', summary.errors ? 'bad' : ''),
    ...(summary.wrong !== undefined ? [tile(summary.wrong, 'wrong', summary.wrong ? 'bad' : '')] : []),
  ];
  const legend = doc.overlayTasks
    .map(
      (m) =>
        `<span class="legend" data-task="${escapeHtml(m.task)}">${escapeHtml(m.task)}${m.swatches
          .map((w) => ` <i style="background:${w.color}"></i>${w.label ? escapeHtml(w.label) : ''}`)
          .join('')}</span>`,
    )
    .join(' ');
  const data = { pageSize: doc.pageSize ?? DEFAULT_PAGE_SIZE, truth: doc.truthFile !== undefined };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
${assets.css}
</style>
</head>
<body>
<header>
<h1>${escapeHtml(title)}</h1>
<p class="meta">${doc.models.map(escapeHtml).join('<br>')}<br>generated ${escapeHtml(doc.generatedAt)}</p>
</header>
<main>
<section id="summary">
<div class="tiles">${tiles.join('')}</div>
${errorsTable(summary)}
${metricsTable(summary.metrics, doc.truthFile)}
<h2>Predictions</h2>
<div class="charts">${summary.charts.map(renderChart).join('\n')}</div>
</section>
<section id="gallery">
<h2>Pairs</h2>
${galleryNote(doc.gallery, data.truth)}
<div class="controls">
<label>show <select id="filter"><option value="all">all pairs</option><option value="error">errors</option>${data.truth ? '<option value="wrong">wrong</option>' : ''}</select></label>
<input id="search" type="search" placeholder="search id or caption" aria-label="search id or caption">
<label><input type="checkbox" id="show-masks" checked> masks</label> ${legend}
<span class="pager"><button id="prev" type="button" aria-label="previous page">‹</button> <span id="page-info"></span> <button id="next" type="button" aria-label="next page">›</button></span>
</div>
<div id="cards" class="cards"></div>
</section>
</main>
<script type="application/json" id="report-data">${scriptJson(data).slice(0, -1)},"pairs":[`;
}

/** One pair of the gallery, as the page's data holds it (escaped for a <script> element). */
export const reportPairJson = (pair: ReportPair) => scriptJson(pair);

export function reportClosing(assets: ReportAssets): string {
  return `]}</script>
<script>
${assets.js}
</script>
</body>
</html>
`;
}

/** The whole page as one string (for a gallery already in memory). */
export function renderReport(doc: ReportDocument, assets: ReportAssets): string {
  return reportOpening(doc, assets) + doc.pairs.map(reportPairJson).join(',') + reportClosing(assets);
}
