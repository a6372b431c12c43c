/**
 * Bar charts as SVG text, drawn from the numbers (no browser, no dependency):
 * one panel per scenario, one horizontal bar per proxy at its median, a
 * whisker from min to max, and the value printed beside it. Each panel has its
 * own scale, since scenarios differ by orders of magnitude.
 *
 * @module
 */

export interface ChartBar {
  readonly label: string;
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** Printed after the bar (e.g. "41,200 (1.08x nginx)"). */
  readonly text: string;
  readonly color: string;
}

export interface ChartPanel {
  readonly title: string;
  readonly bars: readonly ChartBar[];
}

export interface ChartSpec {
  readonly title: string;
  /** Under the title: unit and which way is better. */
  readonly subtitle: string;
  readonly panels: readonly ChartPanel[];
}

const PANEL_WIDTH = 600;
const LABEL_WIDTH = 130;
const TEXT_WIDTH = 190;
const BAR_HEIGHT = 16;
const BAR_GAP = 6;
const PANEL_HEADER = 26;
const PANEL_GAP = 18;
const COLUMNS = 2;

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function panelHeight(panel: ChartPanel): number {
  return PANEL_HEADER + Math.max(1, panel.bars.length) * (BAR_HEIGHT + BAR_GAP) + 4;
}

function renderPanel(panel: ChartPanel, x: number, y: number): string {
  const plotWidth = PANEL_WIDTH - LABEL_WIDTH - TEXT_WIDTH;
  const finite = panel.bars.flatMap((b) => [b.max, b.median]).filter((v) => Number.isFinite(v));
  const scaleMax = finite.length > 0 ? Math.max(...finite) : 1;
  const scale = (v: number) => (Number.isFinite(v) && scaleMax > 0 ? (v / scaleMax) * plotWidth : 0);
  const out: string[] = [`<g transform="translate(${x},${y})">`];
  out.push(`<text x="0" y="16" class="panel">${escapeXml(panel.title)}</text>`);
  if (panel.bars.length === 0) out.push(`<text x="0" y="${PANEL_HEADER + 12}" class="label">no measurements</text>`);
  panel.bars.forEach((bar, i) => {
    const top = PANEL_HEADER + i * (BAR_HEIGHT + BAR_GAP);
    const mid = top + BAR_HEIGHT / 2;
    out.push(`<text x="${LABEL_WIDTH - 6}" y="${mid + 4}" class="label" text-anchor="end">${escapeXml(bar.label)}</text>`);
    out.push(`<rect x="${LABEL_WIDTH}" y="${top}" width="${scale(bar.median).toFixed(1)}" height="${BAR_HEIGHT}" fill="${bar.color}"/>`);
    if (Number.isFinite(bar.min) && Number.isFinite(bar.max) && bar.max > bar.min) {
      const x1 = (LABEL_WIDTH + scale(bar.min)).toFixed(1);
      const x2 = (LABEL_WIDTH + scale(bar.max)).toFixed(1);
      out.push(`<line x1="${x1}" y1="${mid}" x2="${x2}" y2="${mid}" class="whisker"/>`);
      out.push(`<line x1="${x1}" y1="${mid - 4}" x2="${x1}" y2="${mid + 4}" class="whisker"/>`);
      out.push(`<line x1="${x2}" y1="${mid - 4}" x2="${x2}" y2="${mid + 4}" class="whisker"/>`);
    }
    out.push(`<text x="${LABEL_WIDTH + plotWidth + 6}" y="${mid + 4}" class="value">${escapeXml(bar.text)}</text>`);
  });
  out.push('</g>');
  return out.join('\n');
}

export function renderChart(spec: ChartSpec): string {
  const rows: ChartPanel[][] = [];
  for (let i = 0; i < spec.panels.length; i += COLUMNS) rows.push(spec.panels.slice(i, i + COLUMNS));
  const width = COLUMNS * PANEL_WIDTH + (COLUMNS - 1) * PANEL_GAP + 20;
  let y = 56;
  const body: string[] = [];
  for (const row of rows) {
    row.forEach((panel, col) => body.push(renderPanel(panel, 10 + col * (PANEL_WIDTH + PANEL_GAP), y)));
    y += Math.max(...row.map(panelHeight)) + PANEL_GAP;
  }
  const height = y + 4;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    '<style>.title{font-size:17px;font-weight:bold}.subtitle{font-size:12px;fill:#555}.panel{font-size:13px;font-weight:bold}.label{font-size:12px}.value{font-size:11px;fill:#333}.whisker{stroke:#222;stroke-width:1.2}</style>',
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="10" y="24" class="title">${escapeXml(spec.title)}</text>`,
    `<text x="10" y="42" class="subtitle">${escapeXml(spec.subtitle)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
