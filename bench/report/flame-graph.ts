/**
 * A flame graph (icicle layout: callers on top) as SVG text from a
 * {@link FlameNode} tree. Widths are shares of the busy samples; frames too
 * narrow to read get no label but keep a <title> tooltip.
 *
 * @module
 */
import type { FlameNode } from '../lib/cpu-profile.js';
import { escapeXml } from './svg-chart.js';

const WIDTH = 1200;
const ROW = 17;
const MAX_DEPTH = 48;
const CHAR_WIDTH = 6.8;

/** A warm colour from the frame name, stable across runs so the same function keeps its colour. */
function colourFor(name: string): string {
  let hash = 0;
  for (let i = 0; i < name.length; i++) hash = (hash * 31 + name.charCodeAt(i)) | 0;
  const hue = 10 + (Math.abs(hash) % 45);
  const light = 55 + (Math.abs(hash >> 8) % 20);
  return `hsl(${hue},85%,${light}%)`;
}

export function renderFlameGraph(root: FlameNode, title: string): string {
  const rects: string[] = [];
  let maxDepth = 0;
  const scale = root.total > 0 ? WIDTH / root.total : 0;
  // Iterative walk: x offset and depth per frame.
  const stack: Array<{ node: FlameNode; x: number; depth: number }> = [{ node: root, x: 0, depth: 0 }];
  while (stack.length > 0) {
    const { node, x, depth } = stack.pop()!;
    const width = node.total * scale;
    if (width < 0.3 || depth > MAX_DEPTH) continue;
    maxDepth = Math.max(maxDepth, depth);
    const y = 40 + depth * ROW;
    const percent = root.total > 0 ? ((node.total / root.total) * 100).toFixed(1) : '0';
    const label = width > 40 ? escapeXml(node.name.slice(0, Math.floor((width - 6) / CHAR_WIDTH))) : '';
    rects.push(
      `<g><title>${escapeXml(node.name)}: ${percent}% (${node.total} samples)</title><rect x="${x.toFixed(2)}" y="${y}" width="${width.toFixed(2)}" height="${ROW - 1}" fill="${colourFor(node.name)}"/>` +
        (label ? `<text x="${(x + 3).toFixed(2)}" y="${y + 12}">${label}</text>` : '') +
        '</g>',
    );
    let childX = x;
    for (const child of node.children) {
      stack.push({ node: child, x: childX, depth: depth + 1 });
      childX += child.total * scale;
    }
  }
  const height = 40 + (maxDepth + 1) * ROW + 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="Menlo, Consolas, monospace" font-size="11">`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text x="4" y="18" font-size="14" font-family="Helvetica, Arial, sans-serif" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="4" y="33" font-size="11" font-family="Helvetica, Arial, sans-serif" fill="#555">Callers above callees; width = share of busy samples (idle removed). Hover a frame for its name and share.</text>`,
    ...rects,
    '</svg>',
    '',
  ].join('\n');
}
