// Plots of a bench/run.ts report: vega-lite specs rendered to SVG by vega (headless), then to PNG
// by resvg.   node bench/plot.mjs bench/results/latest.json bench/plots
import { Resvg } from '@resvg/resvg-js';
import { mkdirSync, readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import * as vega from 'vega';
import * as vl from 'vega-lite';

const [input = 'bench/results/latest.json', out = 'bench/plots'] = process.argv.slice(2);
const report = JSON.parse(readFileSync(input, 'utf8'));
const runs = [...report.runs.raw, ...report.runs.im];
mkdirSync(out, { recursive: true });

async function plot(name, spec) {
  const compiled = vl.compile({ $schema: 'https://vega.github.io/schema/vega-lite/v6.json', width: 480, height: 300, background: 'white', ...spec }).spec;
  const svg = await new vega.View(vega.parse(compiled), { renderer: 'none' }).toSVG();
  const png = new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' }, background: 'white' }).render().asPng();
  writeFileSync(join(out, `${name}.png`), png);
}

const target = { field: 'target', type: 'nominal', title: 'server' };

// throughput vs in-flight window (1:1 sends), every round a point, the median a line
const sends = runs.filter((r) => r.scenario === 'send').map((r) => ({ target: r.target, window: r.params.window, rate: r.rate, round: r.round }));
await plot('throughput-window', {
  title: '1:1 durable sends: throughput vs requests in flight per socket',
  data: { values: sends },
  layer: [
    { mark: { type: 'point', opacity: 0.5 }, encoding: { x: { field: 'window', type: 'quantitative', scale: { type: 'log', base: 2 }, title: 'in flight per socket' }, y: { field: 'rate', type: 'quantitative', title: 'messages/s' }, color: target } },
    { mark: 'line', encoding: { x: { field: 'window', type: 'quantitative' }, y: { aggregate: 'median', field: 'rate', type: 'quantitative' }, color: target } },
  ],
});

// latency CDF of the sends at the middle window (median CDF over the rounds)
const windows = [...new Set(sends.map((s) => s.window))].sort((a, b) => a - b);
const mid = windows[Math.floor(windows.length / 2)];
const cdf = runs
  .filter((r) => r.scenario === 'send' && r.params.window === mid)
  .flatMap((r) => r.cdf.map((ms, i) => ({ target: r.target, round: r.round, ms: Math.max(ms, 0.01), p: (i + 1) / 100 })));
await plot('latency-cdf', {
  title: `1:1 sends (window ${mid}): latency CDF, request → sendResult`,
  data: { values: cdf },
  mark: 'line',
  encoding: {
    x: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'ms' },
    y: { field: 'p', type: 'quantitative', title: 'fraction of requests' },
    color: target,
    detail: { field: 'round', type: 'nominal' },
  },
});

// server RSS vs open connections
const rss = runs.filter((r) => r.scenario === 'connect' && r.rssSeries).flatMap((r) => r.rssSeries.map(([n, bytes]) => ({ target: r.target, round: r.round, connections: n, mib: bytes / 2 ** 20 })));
await plot('rss-connections', {
  title: 'server RSS vs open authenticated connections',
  data: { values: rss },
  mark: { type: 'line', point: true },
  encoding: { x: { field: 'connections', type: 'quantitative' }, y: { field: 'mib', type: 'quantitative', title: 'RSS MiB' }, color: target, detail: { field: 'round', type: 'nominal' } },
});

// connects/s per round
const connects = runs.filter((r) => r.scenario === 'connect').map((r) => ({ target: r.target, round: `round ${r.round}`, rate: r.rate, p99: r.p99 }));
await plot('connects', {
  title: 'connect storm: connects/s (to the first frame)',
  data: { values: connects },
  mark: 'bar',
  encoding: { x: { field: 'round', type: 'nominal', title: null }, xOffset: { field: 'target' }, y: { field: 'rate', type: 'quantitative', title: 'connects/s' }, color: target },
});
console.log(`plots written to ${out}`);
