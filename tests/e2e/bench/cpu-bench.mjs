#!/usr/bin/env node
// The cost of listening (issue 13): CPU seconds per minute of playback, Sonance (the
// `sonance serve` process + every Chromium process) against a plain <audio> playing a
// pre-made Opus file of the same track in the same browser.
//
//   npm --prefix ui run build && node tests/e2e/bench/cpu-bench.mjs [--runs 3] [--seconds 120] [--preset adaptive]
//
// Per run: one never-seen 5-minute 44.1 kHz stereo FLAC (pink noise or the demo track,
// pitched), and its reference made beforehand with ffmpeg (libopus 160 kb/s in WebM, the
// engine's bitrate). Sonance: a new tab, click the track's title (preset --preset at 100 %),
// play --seconds; the reference: a new tab in the same browser, Play, the same seconds. Each
// window starts at the click (so Sonance's start — analysis, first chunks — is counted) and
// ends --seconds later; CPU = utime + stime from /proc/<pid>/stat of the server and of every
// process descended from this script (Chromium's browser, GPU, utility and renderer
// processes), read at both ends. Minutes of playback = the element's advance over the window.
// Processes that start and end inside a window are not seen (the tabs stay open throughout).
import { readFileSync, readdirSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO, ffmpeg, launch, startServer, tempDir, trackButton, sleep } from '../helpers.mjs';
import { harness, startReferenceServer, startIn, stats } from './harness.mjs';

const { values: opt } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '120' },
    preset: { type: 'string', default: 'adaptive' },
  },
});
const RUNS = Math.max(1, Number(opt.runs) | 0);
const SECONDS = Math.max(10, Number(opt.seconds));
const TRACK_S = Math.max(300, SECONDS + 30);
const { log, cleanups, run } = harness('cpu', (4 + RUNS * (2 * SECONDS + 60) / 60) * 60_000);
const HZ = 100; // getconf CLK_TCK on Linux

const loadavg = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
const loads = [];
setInterval(() => loads.push(loadavg()), 5000).unref();

/** pid → { ppid, ticks, comm } of every process. */
function processes() {
  const out = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, 'utf8');
      const close = s.lastIndexOf(')');
      const f = s.slice(close + 2).split(' ');
      out.set(Number(d), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), comm: s.slice(s.indexOf('(') + 1, close) });
    } catch {}
  }
  return out;
}

/** CPU ticks of the server and of every other descendant of this script (the browser). */
function snapshot(serverPid) {
  const ps = processes();
  const mine = new Set([process.pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, p] of ps) {
      if (!mine.has(pid) && mine.has(p.ppid)) {
        mine.add(pid);
        grew = true;
      }
    }
  }
  const perPid = {};
  let browser = 0;
  for (const pid of mine) {
    if (pid === process.pid || pid === serverPid) continue;
    const p = ps.get(pid);
    perPid[pid] = p.ticks;
    browser += p.ticks;
  }
  return { server: ps.get(serverPid)?.ticks ?? 0, browser, perPid, at: performance.now() };
}

/** What a Chromium process is: its --type (renderer, gpu-process, utility: audio, network…) or "browser". */
function kind(pid) {
  try {
    // Chromium rewrites its command line (one string, spaces between arguments).
    const line = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    const type = /--type=(\S+)/.exec(line)?.[1];
    const sub = /--utility-sub-type=(\S+)/.exec(line)?.[1];
    const client = /--renderer-client-id=(\d+)/.exec(line)?.[1];
    if (!type) return 'browser';
    if (sub) return `${type}:${sub.split('.').slice(-2).join('.')}`;
    return client ? `${type}#${client}` : type;
  } catch {
    return '?';
  }
}

/** Ticks used between two snapshots: per pid, so processes that ended are not counted negative. */
function used(a, b) {
  let browser = 0;
  const byKind = {};
  for (const [pid, t] of Object.entries(b.perPid)) {
    const d = t - (a.perPid[pid] ?? 0);
    browser += d;
    const k = kind(pid);
    byKind[k] = Math.round(((byKind[k] ?? 0) + d / HZ) * 100) / 100;
  }
  return { server: (b.server - a.server) / HZ, browser: browser / HZ, wall: (b.at - a.at) / 1000, byKind };
}

async function makeTrack(dir, i) {
  const title = `cpu-${String(i + 1).padStart(2, '0')}`;
  const file = join(dir, `${title}.flac`);
  const meta = ['-map_metadata', '-1', '-metadata', `title=${title}`, '-metadata', 'artist=cpu-bench', '-metadata', 'album=cpu-bench'];
  const out = ['-ar', '44100', '-ac', '2', '-sample_fmt', 's16', ...meta, file];
  if (i % 2 === 0) {
    const rate = (1 + 0.017 * (i + 1)).toFixed(3);
    await ffmpeg(['-stream_loop', '-1', '-i', join(REPO, 'assets/demo.flac'), '-t', String(TRACK_S), '-af', `asetrate=44100*${rate},aresample=44100,volume=0.7`, ...out]);
  } else {
    await ffmpeg(['-f', 'lavfi', '-i', `anoisesrc=color=pink:duration=${TRACK_S}:amplitude=0.25:seed=${3000 + i}`, ...out]);
  }
  return { title, file };
}

const REF_HTML = `<!doctype html><meta charset="utf-8"><title>reference</title>
<button id="play" type="button">Play</button><audio id="a" preload="none"></audio>
<script>
const a = document.getElementById('a');
document.getElementById('play').addEventListener('click', () => { a.src = new URLSearchParams(location.search).get('src'); a.play().catch((e) => (window.__playError = String(e))); });
</script>`;

/** Play for SECONDS from the click on `clickable`; CPU used over that window. */
async function window_(page, serverPid, click, positionOf) {
  const a = snapshot(serverPid);
  await click();
  const t0 = Date.now();
  await page.waitForFunction(positionOf, null, { timeout: 30_000, polling: 50 }); // it plays
  const p0 = 0;
  await sleep(Math.max(0, SECONDS * 1000 - (Date.now() - t0)));
  const b = snapshot(serverPid);
  const p1 = await page.evaluate(positionOf);
  const u = used(a, b);
  const minutes = (p1 - p0) / 60;
  return { ...u, played_s: p1 - p0, cpuPerMinute: (u.server + u.browser) / minutes, serverPerMinute: u.server / minutes, browserPerMinute: u.browser / minutes };
}

async function main() {
  const dir = await tempDir('sonance-cpu-bench-');
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const refDir = join(dir, 'ref');
  const cacheDir = join(dir, 'cache');
  await mkdir(refDir);
  await mkdir(cacheDir);
  log(`load ${readFileSync('/proc/loadavg', 'utf8').trim()}; ${RUNS} tracks of ${TRACK_S} s, windows of ${SECONDS} s`);
  const tracks = [];
  for (let i = 0; i < RUNS; i++) {
    const t = await makeTrack(dir, i);
    await ffmpeg(['-i', t.file, '-ar', '48000', '-c:a', 'libopus', '-b:a', '160k', '-f', 'webm', join(refDir, `${t.title}.webm`)]);
    tracks.push(t);
  }
  const server = await startServer(
    tracks.map((t) => t.file),
    { chunkSeconds: 30, cacheDir, timeoutMs: 60_000 },
  );
  cleanups.push(() => server.stop());
  const ref = await startReferenceServer(refDir, REF_HTML);
  cleanups.push(() => ref.close());
  const browser = await launch();
  cleanups.push(() => browser.close());
  const context = browser.context;
  await startIn(context, opt.preset);
  await sleep(3000); // the library scan and the browser's start-up settle

  const runs = [];
  for (const t of tracks) {
    const r = { track: t.title };
    // Sonance.
    let page = await context.newPage();
    await page.goto(server.url);
    await page.waitForFunction(() => window.__sonance !== undefined && document.querySelectorAll('#track-list tr').length > 0, null, { timeout: 30_000 });
    await sleep(1000);
    r.sonance = await window_(page, server.child.pid, () => trackButton(page, t.title).click({ timeout: 30_000 }), () => window.__sonance.player.currentTime);
    r.sonance.waiting = (await page.evaluate(() => window.__sonance.state().waiting)) ?? null;
    await page.close();
    await sleep(2000);
    // Reference: same browser, a new tab.
    page = await context.newPage();
    await page.goto(`${ref.url}ref.html?src=${t.title}.webm`);
    await sleep(1000);
    r.reference = await window_(page, server.child.pid, () => page.locator('#play').click({ timeout: 30_000 }), () => document.getElementById('a').currentTime);
    await page.close();
    r.ratio = r.sonance.cpuPerMinute / r.reference.cpuPerMinute;
    r.load1 = loadavg();
    const f = (x) => x.toFixed(2);
    log(
      `${t.title}: Sonance ${f(r.sonance.cpuPerMinute)} CPU s/min (server ${f(r.sonance.serverPerMinute)}, browser ${f(r.sonance.browserPerMinute)}), ` +
        `reference ${f(r.reference.cpuPerMinute)} (server ${f(r.reference.serverPerMinute)}); ratio ${f(r.ratio)}; load ${r.load1}`,
    );
    log(`  Chromium CPU s by process over the window: Sonance ${JSON.stringify(r.sonance.byKind)}; reference ${JSON.stringify(r.reference.byKind)}`);
    runs.push(r);
    await sleep(2000);
  }
  const rows = [
    ['Sonance: server + browser', (r) => r.sonance.cpuPerMinute],
    ['  of which: `sonance serve`', (r) => r.sonance.serverPerMinute],
    ['  of which: Chromium', (r) => r.sonance.browserPerMinute],
    ['Reference: plain <audio>, pre-made Opus (browser)', (r) => r.reference.browserPerMinute],
    ['Reference: server + browser (the server idle)', (r) => r.reference.cpuPerMinute],
    ['Ratio Sonance / reference (goal ≤ 1.5)', (r) => r.ratio],
  ];
  const lines = ['| figure (CPU s per minute played) | median | min | max | n |', '| --- | ---: | ---: | ---: | ---: |'];
  for (const [name, get] of rows) {
    const s = stats(runs.map(get));
    const f = (x) => (x === null ? '—' : x.toFixed(2));
    lines.push(`| ${name} | ${f(s.median)} | ${f(s.min)} | ${f(s.max)} | ${s.n}/${runs.length} |`);
  }
  const l = Object.fromEntries(Object.entries(stats(loads)).map(([k, v]) => [k, typeof v === 'number' && k !== 'n' ? Math.round(v * 100) / 100 : v]));
  process.stdout.write(
    `## Cost of listening — ${RUNS} runs, ${SECONDS} s from the click, preset \`${opt.preset}\`\n\n${lines.join('\n')}\n\nload average (1 min): median ${l.median} (min ${l.min}, max ${l.max}).\n\n` +
      '```json\n' +
      JSON.stringify({ date: new Date().toISOString(), seconds: SECONDS, preset: opt.preset, load: l, runs }, null, 2) +
      '\n```\n',
  );
}

run(main);
