import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeXml, renderChart } from '../../bench/report/svg-chart.js';

test('bars are drawn to scale within their panel, with whiskers and labels', () => {
  const svg = renderChart({
    title: 'Throughput <req/s>',
    subtitle: 'a & b',
    panels: [
      {
        title: 'small',
        bars: [
          { label: 'nginx', median: 50, min: 40, max: 60, text: '50', color: '#0f0' },
          { label: 'warpdrive', median: 100, min: 100, max: 100, text: '100', color: '#f00' },
        ],
      },
      { title: 'empty', bars: [] },
    ],
  });
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.ok(svg.trimEnd().endsWith('</svg>'));
  assert.match(svg, /Throughput &lt;req\/s&gt;/);
  assert.match(svg, /a &amp; b/);
  const widths = [...svg.matchAll(/<rect x="130" y="\d+" width="([\d.]+)"/g)].map((m) => Number(m[1]));
  assert.equal(widths.length, 2);
  // 60 is the panel's largest value, so 50 is 5/6 of 100's bar... of the 60-scale: 50/60 and 100/100 of the plot.
  assert.ok(Math.abs(widths[0]! / widths[1]! - 0.5) < 0.01);
  assert.equal((svg.match(/class="whisker"/g) ?? []).length, 3, 'one whisker (3 lines) for the bar whose min differs from max');
  assert.match(svg, /no measurements/);
});

test('escapeXml covers the five characters that break SVG text', () => {
  assert.equal(escapeXml('<a href="x">&</a>'), '&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;');
});
