// Start-up and first-audio times: the desktop app (WebKitGTK through tauri-driver) side by side
// with `sonance serve` in headless Chromium. Not a test; prints a Markdown table for
// BENCHMARKS.md.
//
//   xvfb-run -a dbus-run-session -- node tests/desktop/bench.mjs [RUNS]
//
// Desktop, per run and per transport (the app's loopback server, the default on Linux; the
// `sonance:` scheme, SONANCE_TRANSPORT=scheme), each with empty data/cache folders ("cold":
// nothing rendered yet) and then once more with the same folders ("cached": the fragment cache
// on disk has the chunks):
//   ready  = new-session request → the page has listed its tracks (the app's own log gives the
//            process-internal figure too: "window ready: … ms after start");
//   audio  = new-session request → the element's currentTime > 0, with the file given on the
//            command line (which plays at once).
// Chromium: a running `sonance serve` (fresh cache dir for cold, same for cached):
//   ready  = browser launch → the page has listed its tracks;
//   audio  = browser launch → currentTime > 0 after clicking the track as soon as it is listed.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';

import { REPO, launchApp, makeHome, tempDir, tone, sleep } from './driver.mjs';

const RUNS = Number(process.argv[2] || 3);
const CHUNK = 30;

async function desktopRun(file, home, transport) {
  const t0 = Date.now();
  const app = await launchApp({ home, files: [file], args: ['--chunk-seconds', String(CHUNK)], env: { SONANCE_TRANSPORT: transport } });
  try {
    const ready = await app.execAsync(async () => {
      while (!document.querySelector('#track-list tr[data-id]')) await new Promise((r) => setTimeout(r, 5));
      return Date.now();
    });
    const audio = await app.execAsync(async () => {
      const a = window.__sonance.audio;
      while (!(a.currentTime > 0)) await new Promise((r) => setTimeout(r, 5));
      return Date.now();
    });
    return { ready: ready - t0, audio: audio - t0 };
  } finally {
    await app.close();
  }
}

async function startServer(file, cacheDir) {
  const bin = process.env.SONANCE_BIN || join(REPO, 'target/release/sonance');
  const child = spawn(bin, ['serve', '--port', '0', '--chunk-seconds', String(CHUNK), '--cache-dir', cacheDir, file], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((res, rej) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const m = /listening on (http:\/\/\S+)/.exec(buf);
      if (m) res(m[1]);
    });
    child.once('exit', () => rej(new Error('server exited')));
  });
  return { url, stop: () => child.kill('SIGTERM') };
}

async function chromiumRun(url) {
  const requireUi = createRequire(join(REPO, 'ui/package.json'));
  const { chromium } = requireUi('playwright-core');
  const profile = await tempDir('sonance-bench-chromium-');
  const t0 = Date.now();
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--autoplay-policy=no-user-gesture-required'],
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(url);
    await page.waitForSelector('#track-list tr[data-id] button');
    const ready = Date.now();
    await page.click('#track-list tr[data-id] button');
    await page.waitForFunction(() => window.__sonance.audio.currentTime > 0, null, { polling: 5, timeout: 60_000 });
    return { ready: ready - t0, audio: Date.now() - t0 };
  } finally {
    await context.close();
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

const dir = await tempDir('sonance-bench-');
const file = await tone(join(dir, 'bench.flac'), { seconds: 180, title: 'Bench' });
const rows = { desktopCold: [], desktopCached: [], schemeCold: [], schemeCached: [], chromeCold: [], chromeCached: [] };
for (let i = 0; i < RUNS; i++) {
  for (const [transport, cold, cached] of [['loopback', 'desktopCold', 'desktopCached'], ['scheme', 'schemeCold', 'schemeCached']]) {
    const home = await makeHome();
    rows[cold].push(await desktopRun(file, home, transport));
    rows[cached].push(await desktopRun(file, home, transport));
  }
  const cache = await tempDir('sonance-bench-cache-');
  const server = await startServer(file, cache);
  try {
    rows.chromeCold.push(await chromiumRun(server.url));
    rows.chromeCached.push(await chromiumRun(server.url));
  } finally {
    server.stop();
  }
  await sleep(500);
}
const fmt = (r, k) => `${median(r.map((x) => x[k]))} ms`;
// First audio counted from the list being shown: the part the transport decides.
const after = (r) => `${median(r.map((x) => x.audio - x.ready))} ms`;
console.log(`| ${RUNS} runs, median, ${CHUNK} s chunks, 3-min FLAC | start-up → track list shown | start-up → first audio, cold | start-up → first audio, cached | list → first audio, cold | list → first audio, cached |`);
console.log('|---|---|---|---|---|---|');
const line = (name, cold, cached) => console.log(`| ${name} | ${fmt(cold, 'ready')} | ${fmt(cold, 'audio')} | ${fmt(cached, 'audio')} | ${after(cold)} | ${after(cached)} |`);
line('desktop app (WebKitGTK), its loopback server', rows.desktopCold, rows.desktopCached);
line('desktop app (WebKitGTK), `sonance:` scheme', rows.schemeCold, rows.schemeCached);
line('sonance serve + Chromium (loopback HTTP; includes the click)', rows.chromeCold, rows.chromeCached);
console.log(JSON.stringify(rows));
