/**
 * Renders docs/grafana-dashboard.png: the panels of deploy/grafana/im-server.json, plotted from a real
 * run (Grafana cannot run here). Starts the server, drives a short scripted load (chats, bad requests,
 * 429s, connection churn, refused upgrades, admin calls), scrapes /metrics every second, evaluates each
 * panel's PromQL over the scrapes (the subset the dashboard uses: selectors with = and !=, rate,
 * sum [by], histogram_quantile; $__rate_interval = RATE_WINDOW_S) and draws them with Chart.js in
 * headless Chromium. Usage: npm run dashboard:render (CHROMIUM_PATH, DATABASE_URL optional).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { chromium } from 'playwright-core';
import { WebSocket } from 'ws';
import { loadConfig } from '../src/config/app-config';
import { startServer } from '../src/server';

const ROOT = join(__dirname, '..');
const RUN_S = Number(process.env.RUN_SECONDS ?? 45);
const RATE_WINDOW_S = 10;
const ADMIN = 'dashboard-render-admin-token';

type Labels = Record<string, string>;
interface Sample {
  labels: Labels;
  value: number;
}
interface Scrape {
  t: number;
  samples: Sample[];
}

function parseScrape(text: string, t: number): Scrape {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels: Labels = { __name__: match[1] };
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2];
    samples.push({ labels, value: Number(match[3]) });
  }
  return { t, samples };
}

// ------------------------------------------------------------- the PromQL subset of the dashboard

type Node =
  | { kind: 'selector'; name: string; matchers: Array<{ label: string; op: '=' | '!='; value: string }> }
  | { kind: 'rate'; selector: Node & { kind: 'selector' }; windowS: number }
  | { kind: 'sum'; by: string[]; arg: Node }
  | { kind: 'quantile'; q: number; arg: Node };

function parse(expr: string): Node {
  const e = expr.replace(/\$__rate_interval/g, `${RATE_WINDOW_S}s`).trim();
  let m = /^histogram_quantile\(\s*([\d.]+)\s*,\s*([\s\S]+)\)$/.exec(e);
  if (m) return { kind: 'quantile', q: Number(m[1]), arg: parse(m[2]) };
  m = /^sum(?:\s+by\s*\(([^)]*)\))?\s*\(([\s\S]+)\)$/.exec(e);
  if (m) return { kind: 'sum', by: (m[1] ?? '').split(',').map((s) => s.trim()).filter(Boolean), arg: parse(m[2]) };
  m = /^rate\(\s*([\s\S]+)\[(\d+)s\]\s*\)$/.exec(e);
  if (m) return { kind: 'rate', selector: parse(m[1]) as Node & { kind: 'selector' }, windowS: Number(m[2]) };
  m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?$/.exec(e);
  if (m) {
    const matchers = [...(m[2] ?? '').matchAll(/(\w+)\s*(!=|=)\s*"([^"]*)"/g)].map((x) => ({ label: x[1], op: x[2] as '=' | '!=', value: x[3] }));
    return { kind: 'selector', name: m[1], matchers };
  }
  throw new Error(`unsupported expression: ${expr}`);
}

const key = (labels: Labels) => JSON.stringify(Object.entries(labels).sort());

function select(node: Node & { kind: 'selector' }, scrape: Scrape): Sample[] {
  return scrape.samples.filter(
    (s) => s.labels.__name__ === node.name && node.matchers.every((mt) => (mt.op === '=' ? s.labels[mt.label] === mt.value : s.labels[mt.label] !== mt.value)),
  );
}

function evaluate(node: Node, scrapes: Scrape[], i: number): Sample[] {
  switch (node.kind) {
    case 'selector':
      return select(node, scrapes[i]).map((s) => ({ labels: withoutName(s.labels), value: s.value }));
    case 'rate': {
      const now = scrapes[i];
      let j = i;
      while (j > 0 && now.t - scrapes[j - 1].t <= node.windowS * 1000) j--;
      if (j === i) return [];
      const before = new Map(select(node.selector, scrapes[j]).map((s) => [key(s.labels), s.value]));
      const seconds = (now.t - scrapes[j].t) / 1000;
      return select(node.selector, now).map((s) => ({ labels: withoutName(s.labels), value: Math.max(0, s.value - (before.get(key(s.labels)) ?? 0)) / seconds }));
    }
    case 'sum': {
      const groups = new Map<string, Sample>();
      for (const s of evaluate(node.arg, scrapes, i)) {
        const labels: Labels = {};
        for (const l of node.by) if (s.labels[l] !== undefined) labels[l] = s.labels[l];
        const k = key(labels);
        const group = groups.get(k) ?? { labels, value: 0 };
        group.value += s.value;
        groups.set(k, group);
      }
      return [...groups.values()];
    }
    case 'quantile': {
      const byRest = new Map<string, { labels: Labels; buckets: Array<[number, number]> }>();
      for (const s of evaluate(node.arg, scrapes, i)) {
        const { le, ...rest } = s.labels;
        const k = key(rest);
        const entry = byRest.get(k) ?? { labels: rest, buckets: [] };
        entry.buckets.push([le === '+Inf' ? Infinity : Number(le), s.value]);
        byRest.set(k, entry);
      }
      const out: Sample[] = [];
      for (const { labels, buckets } of byRest.values()) {
        buckets.sort((a, b) => a[0] - b[0]);
        const total = buckets[buckets.length - 1]?.[1] ?? 0;
        if (total <= 0) continue; // no observations in the window: no point (Grafana shows a gap too)
        const rank = node.q * total;
        let prevLe = 0;
        let prevCount = 0;
        let value = NaN;
        for (const [le, count] of buckets) {
          if (count >= rank) {
            value = le === Infinity ? prevLe : prevLe + ((le - prevLe) * (rank - prevCount)) / Math.max(count - prevCount, 1e-12);
            break;
          }
          prevLe = le;
          prevCount = count;
        }
        out.push({ labels, value });
      }
      return out;
    }
  }
}

function withoutName(labels: Labels): Labels {
  const { __name__, ...rest } = labels;
  return rest;
}

const legend = (format: string, labels: Labels) => format.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, l) => labels[l] ?? '');

// ------------------------------------------------------------- the scripted load

function open(port: number, token?: string): Promise<WebSocket | undefined> {
  return new Promise((resolve) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/${token ? `?token=${encodeURIComponent(token)}` : ''}`);
    socket.once('open', () => resolve(socket));
    socket.once('error', () => resolve(undefined));
    socket.once('unexpected-response', () => resolve(undefined));
  });
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'im-dashboard-'));
  const server = await startServer(
    loadConfig({ PORT: '0', ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'warn', LOG_FORMAT: 'json', RATE_LIMIT_PER_SEC: '20', RATE_LIMIT_BURST: '20', ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : { DATA_DIR: dataDir }) }),
  );
  const base = `http://127.0.0.1:${server.port}`;
  const admin = (method: string, path: string, body?: unknown) =>
    fetch(base + path, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const users = Array.from({ length: 12 }, (_, i) => `dash-${i}`);
  const tokens: string[] = [];
  for (const user of users) {
    await admin('PUT', `/admin/users/${user}`, { nickname: user });
    tokens.push(((await (await admin('POST', `/admin/users/${user}/tokens`, {})).json()) as { token: string }).token);
  }
  // each socket with the index of its user (a chat goes to the next user, never to oneself)
  let sockets: Array<{ socket: WebSocket; user: number }> = [];
  for (const [user, token] of tokens.entries()) {
    const socket = await open(server.port, token);
    if (socket) sockets.push({ socket, user });
  }
  const scrapes: Scrape[] = [];
  const started = Date.now();
  let tick = 0;
  while (Date.now() - started < RUN_S * 1000) {
    tick++;
    const phase = (Date.now() - started) / (RUN_S * 1000);
    // chats at a rate that rises and falls over the run
    const perSocket = Math.round(2 + 6 * Math.sin(Math.PI * phase));
    sockets.forEach(({ socket, user }, i) => {
      const peer = users[(user + 1) % users.length];
      for (let k = 0; k < perSocket; k++) {
        socket.send(JSON.stringify({ action: 'chat', nonce: `n${started}x${tick}x${i}x${k}`, type: 1, content: `hello ${tick}`, app_user_ids: peer }));
      }
      if (tick % 3 === 0) socket.send(JSON.stringify({ action: 'chat', nonce: `b${started}x${tick}x${i}`, type: 1, content: 'x', app_user_ids: 'dash-nobody' }));
      if (tick % 5 === 0) socket.send(JSON.stringify({ action: 'history', nonce: `h${started}x${tick}x${i}`, app_user_ids: peer }));
    });
    // a burst past the rate limit now and then: 429s
    if (tick % 10 === 5) for (let k = 0; k < 40; k++) sockets[0]?.socket.send(JSON.stringify({ action: 'ping', nonce: `p${started}x${tick}x${k}` }));
    // connection churn and refused upgrades
    if (tick % 4 === 0 && sockets.length > 0) {
      const index = tick % sockets.length;
      const { socket, user } = sockets[index];
      socket.close(1000);
      const again = await open(server.port, tokens[user]);
      sockets = sockets.filter((_, i) => i !== index).concat(again ? [{ socket: again, user }] : []);
    }
    if (tick % 6 === 0) await open(server.port, 'forged-token');
    if (tick % 7 === 0) await fetch(`${base}/admin/users/dash-0`, { headers: { authorization: 'Bearer wrong-token-wrong-token' } });
    await admin('GET', `/admin/conversations/${users[tick % users.length]}`);
    await fetch(`${base}/health`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    scrapes.push(parseScrape(await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text(), Date.now()));
  }
  for (const { socket } of sockets) socket.close(1000);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  scrapes.push(parseScrape(await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text(), Date.now()));
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });

  // ------------------------------------------------------------- the panels
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/im-server.json'), 'utf8')) as {
    title: string;
    panels: Array<{ title: string; gridPos: { x: number; y: number; w: number; h: number }; fieldConfig: { defaults: { unit?: string } }; targets: Array<{ expr: string; legendFormat: string }> }>;
  };
  const t0 = scrapes[0].t;
  const panels = dashboard.panels.map((panel) => {
    const series = new Map<string, Array<{ x: number; y: number | null }>>();
    for (const target of panel.targets) {
      const node = parse(target.expr);
      scrapes.forEach((scrape, i) => {
        for (const sample of evaluate(node, scrapes, i)) {
          const name = legend(target.legendFormat, sample.labels);
          if (!series.has(name)) series.set(name, []);
          if (Number.isFinite(sample.value)) series.get(name)!.push({ x: (scrape.t - t0) / 1000, y: sample.value });
        }
      });
    }
    return { title: panel.title, unit: panel.fieldConfig.defaults.unit ?? '', gridPos: panel.gridPos, series: [...series].map(([name, points]) => ({ name, points })) };
  });

  const chartJs = readFileSync(join(ROOT, 'node_modules/chart.js/dist/chart.umd.js'), 'utf8');
  const rows = Math.max(...panels.map((p) => p.gridPos.y + p.gridPos.h)) / 8;
  const html = `<!doctype html><html><head><style>
    body { margin: 0; background: #111217; color: #ccccdc; font-family: 'DejaVu Sans', sans-serif; }
    h1 { font-size: 18px; font-weight: normal; margin: 12px 16px 4px; }
    .note { font-size: 11px; color: #8e8e9e; margin: 0 16px 8px; }
    .grid { display: grid; grid-template-columns: repeat(24, 1fr); grid-auto-rows: 30px; gap: 8px; padding: 0 16px 16px; }
    .panel { background: #181b1f; border: 1px solid #2c3235; border-radius: 2px; padding: 6px 8px; display: flex; flex-direction: column; }
    .panel h2 { font-size: 13px; font-weight: 500; margin: 0 0 4px; }
    .panel div { flex: 1; position: relative; }
  </style><script>${chartJs}</script></head><body>
  <h1>${dashboard.title}</h1>
  <p class="note">deploy/grafana/im-server.json, each panel's queries evaluated over a ${RUN_S} s scripted run's /metrics scrapes (scripts/render-dashboard.ts); x axis: seconds into the run</p>
  <div class="grid">${panels
    .map((p, i) => `<section class="panel" style="grid-column: ${p.gridPos.x + 1} / span ${p.gridPos.w}; grid-row: ${(p.gridPos.y / 8) * 8 + 1} / span 8"><h2>${p.title}</h2><div><canvas id="c${i}"></canvas></div></section>`)
    .join('')}</div>
  <script>
    const PANELS = ${JSON.stringify(panels)};
    const COLORS = ['#73bf69', '#f2cc0c', '#8ab8ff', '#ff780a', '#f2495c', '#5794f2', '#b877d9', '#705da0', '#37872d', '#fade2a', '#ff9830', '#c4162a'];
    Chart.defaults.color = '#ccccdc';
    Chart.defaults.font.size = 10;
    Chart.defaults.animation = false;
    PANELS.forEach((panel, i) => new Chart(document.getElementById('c' + i), {
      type: 'line',
      data: { datasets: panel.series.map((s, j) => ({ label: s.name, data: s.points, borderColor: COLORS[j % COLORS.length], backgroundColor: COLORS[j % COLORS.length] + '33', borderWidth: 1.5, pointRadius: 0, fill: panel.series.length === 1 })) },
      options: {
        maintainAspectRatio: false,
        scales: {
          x: { type: 'linear', grid: { color: '#2c3235' } },
          y: { beginAtZero: true, grid: { color: '#2c3235' }, title: { display: true, text: panel.unit === 's' ? 'seconds' : panel.unit === 'reqps' ? 'requests/s' : panel.unit === 'ops' ? 'per second' : '' } },
        },
        plugins: { legend: { position: 'bottom', labels: { boxWidth: 10, boxHeight: 2 } } },
      },
    }));
    window.rendered = true;
  </script></body></html>`;
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1600, height: 60 + rows * (8 * 38) }, deviceScaleFactor: 1 });
    await page.setContent(html);
    await page.waitForFunction(() => (window as unknown as { rendered?: boolean }).rendered === true);
    const out = join(ROOT, 'docs/grafana-dashboard.png');
    writeFileSync(out, await page.screenshot({ fullPage: true }));
    console.log(`wrote ${out} (${panels.length} panels, ${scrapes.length} scrapes)`);
  } finally {
    await browser.close();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
