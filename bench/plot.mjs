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
const sends = runs.filter((r) => r.scenario === 'send').map((r) => ({ target: r.target, window: r.params.window, rate: r.rate, round: `${r.run ?? 1}-${r.round}` }));
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
  .flatMap((r) => r.cdf.map((ms, i) => ({ target: r.target, round: `${r.run ?? 1}-${r.round}`, ms: Math.max(ms, 0.01), p: (i + 1) / 100 })));
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

// a measurement's label: run and round (older reports have rounds only)
const label = (r) => (r.run === undefined ? `round ${r.round}` : `run ${r.run}` + (report.rounds > 1 ? ` round ${r.round}` : ''));

// server RSS growth vs open connections, on the fresh servers of the connect storms (RSS above the
// reading just before the storm, so the IM and raw curves compare per connection)
const rss = runs
  .filter((r) => r.scenario === 'connect' && r.rssSeries)
  .flatMap((r) => r.rssSeries.map(([n, bytes]) => ({ target: r.target, measurement: label(r), connections: n, mib: (bytes - r.rssSeries[0][1]) / 2 ** 20 })));
await plot('rss-connections', {
  title: 'connect storm on a fresh server: RSS growth vs open authenticated connections',
  data: { values: rss },
  mark: { type: 'line', point: true },
  encoding: {
    x: { field: 'connections', type: 'quantitative' },
    y: { field: 'mib', type: 'quantitative', title: 'RSS above the pre-storm reading, MiB' },
    color: target,
    detail: { field: 'measurement', type: 'nominal' },
  },
});

// RSS per held connection, each measurement (fresh servers)
const perConnection = runs
  .filter((r) => r.scenario === 'connect' && r.rssPerConnection !== undefined)
  .map((r) => ({ target: r.target, measurement: label(r), kib: r.rssPerConnection / 1024 }));
await plot('rss-per-connection', {
  title: 'RSS per held connection (fresh server per measurement)',
  data: { values: perConnection },
  mark: 'bar',
  encoding: { x: { field: 'measurement', type: 'nominal', title: null }, xOffset: { field: 'target' }, y: { field: 'kib', type: 'quantitative', title: 'KiB per connection' }, color: target },
});

// connects/s per measurement
const connects = runs.filter((r) => r.scenario === 'connect').map((r) => ({ target: r.target, measurement: label(r), rate: r.rate, p99: r.p99 }));
await plot('connects', {
  title: 'connect storm: connects/s (to the first frame)',
  data: { values: connects },
  mark: 'bar',
  encoding: { x: { field: 'measurement', type: 'nominal', title: null }, xOffset: { field: 'target' }, y: { field: 'rate', type: 'quantitative', title: 'connects/s' }, color: target },
});

// sync: latency CDF of (a) open → sync frame, (b) the sync action, (c) the bare SQL, every run
const kinds = { open: '(a) open → sync frame', action: '(b) sync action', bare: '(c) bare SQL' };
const syncPoints = (report.sync ?? []).flatMap((s) =>
  Object.entries(kinds).flatMap(([field, what]) => {
    const sorted = [...s[field]].sort((x, y) => x - y);
    return sorted.map((ms, i) => ({ what, run: `run ${s.run}`, ms: Math.max(ms, 0.01), p: (i + 1) / sorted.length }));
  }),
);
if (syncPoints.length) {
  await plot('sync-latency', {
    title: `sync of the user with ${report.sync[0].conversations} unread conversations: latency CDF`,
    data: { values: syncPoints },
    mark: 'line',
    encoding: {
      x: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'ms' },
      y: { field: 'p', type: 'quantitative', title: 'fraction of samples' },
      color: { field: 'what', type: 'nominal', title: null, legend: { labelLimit: 300 } },
      detail: { field: 'run', type: 'nominal' },
    },
  });
}
console.log(`plots written to ${out}`);
