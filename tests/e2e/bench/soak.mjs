#!/usr/bin/env node
// Soak (issue 12): one long track played at 16× in headless Chromium through the real page
// and `sonance serve`, sampling every --interval seconds:
//   rss      the `sonance serve` process's resident set (/proc/PID/status VmRSS)
//   cpu      its CPU time since the last sample (/proc/PID/stat utime+stime)
//   heap     the page's JS heap after a GC (CDP Runtime.getHeapUsage, usedSize)
//   buffered the SourceBuffer's buffered total (sum of window.__sonance.state().buffered)
// All should stay flat however long the track is. Prints a Markdown table, an ASCII plot of
// each series, and a summary (first vs last third, after a warm-up) — figures, not a verdict
// of a timed test.
//
//   node tests/e2e/bench/soak.mjs                   # a 3-hour track: ~11 min of wall time
//   node tests/e2e/bench/soak.mjs --minutes 2       # a short run: 2 min of wall time (32 min of track)
//
// The track is made here with ffmpeg (an independent tool, bench only): a 441 Hz sine, mono,
// 22.05 kHz FLAC (a 50-sample period, so 3 h is ~75 MB on disk); the engine resamples it to
// 48 kHz stereo like any other file. Every wait has a cap; a watchdog ends the run.
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { harness } from './harness.mjs';
import { ffmpeg, launch, openApp, sleep, startServer, tempDir, trackButton } from '../helpers.mjs';

const { values: opt } = parseArgs({
  options: {
    minutes: { type: 'string', default: '' }, // wall minutes; the track is minutes × rate long
    'track-minutes': { type: 'string', default: '180' },
    rate: { type: 'string', default: '16' },
    interval: { type: 'string', default: '10' },
    'chunk-seconds': { type: 'string', default: '30' },
    preset: { type: 'string', default: 'bypass' },
    'cache-memory-mb': { type: 'string', default: '' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opt.help) {
  process.stdout.write(
    [
      'usage: node tests/e2e/bench/soak.mjs [options]',
      '  --track-minutes M   length of the generated track (default 180)',
      '  --minutes W         wall minutes instead: the track is W × rate minutes long',
      '  --rate R            playbackRate (default 16)',
      '  --interval S        seconds between samples (default 10)',
      '  --chunk-seconds S   server chunk length (default 30, the product default)',
      '  --preset P          preset (default bypass)',
      "  --cache-memory-mb M the server's in-memory fragment cache (default: the server's, 256 MB);",
      '                      its RSS grows by the fragments played until this budget is full',
      'env: SONANCE_BIN, CHROMIUM_BIN',
      '',
    ].join('\n'),
  );
  process.exit(0);
}
const RATE = Number(opt.rate);
const TRACK_S = Math.round((opt.minutes ? Number(opt.minutes) * RATE : Number(opt['track-minutes'])) * 60);
const INTERVAL_MS = Number(opt.interval) * 1000;
if (!(RATE > 0 && RATE <= 16) || !(TRACK_S >= 60) || !(INTERVAL_MS >= 1000)) throw new Error('bad numeric option');
const WALL_S = TRACK_S / RATE;
const MAX_MS = (WALL_S * 2 + 180) * 1000;

const { log, cleanups, cleanup } = harness('soak', MAX_MS, 0);

function rssMb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
const TICK_HZ = 100; // USER_HZ on Linux
function cpuSeconds(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK_HZ;
}
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ')[0];

async function main() {
  const dir = await tempDir('sonance-soak-');
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const title = `soak-${TRACK_S}s`;
  const file = join(dir, `${title}.flac`);
  log(`generating a ${(TRACK_S / 3600).toFixed(2)} h track…`);
  await ffmpeg(['-f', 'lavfi', '-i', `sine=frequency=441:sample_rate=22050:duration=${TRACK_S}`, '-ac', '1', '-c:a', 'flac', '-metadata', `title=${title}`, file]);

  const extraArgs = opt['cache-memory-mb'] ? ['--cache-memory-mb', opt['cache-memory-mb']] : [];
  const server = await startServer([file], { chunkSeconds: Number(opt['chunk-seconds']), extraArgs });
  cleanups.push(() => server.stop());
  const pid = server.child.pid;
  const browser = await launch();
  cleanups.push(() => browser.close());
  const { page, consoleErrors } = await openApp(browser.context, server.url, { preset: opt.preset });
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Runtime.enable');

  await trackButton(page, title).click();
  await page.waitForFunction(() => window.__events.some((e) => e.ev === 'playing'), null, { timeout: 30_000 });
  await page.evaluate((r) => {
    window.__sonance.audio.playbackRate = r;
  }, RATE);
  log(`playing at ${RATE}× (${(WALL_S / 60).toFixed(1)} min of wall time expected)`);

  const samples = [];
  let lastCpu = cpuSeconds(pid);
  let lastAt = performance.now();
  const t0 = performance.now();
  for (;;) {
    await sleep(INTERVAL_MS);
    await cdp.send('HeapProfiler.collectGarbage').catch(() => {});
    const heap = await cdp.send('Runtime.getHeapUsage');
    const p = await page.evaluate(() => {
      const s = window.__sonance.state();
      return {
        t: s.currentTime,
        ended: window.__sonance.audio.ended,
        paused: window.__sonance.audio.paused,
        buffered: s.buffered.reduce((sum, [a, b]) => sum + b - a, 0),
        waiting: window.__events.filter((e) => e.ev === 'waiting').length,
        error: s.error,
        rate: window.__sonance.audio.playbackRate,
      };
    });
    const now = performance.now();
    const cpu = cpuSeconds(pid);
    const s = {
      wall: (now - t0) / 1000,
      track: p.t,
      rss: rssMb(pid),
      cpu: (cpu - lastCpu) / ((now - lastAt) / 1000),
      heap: heap.usedSize / 1e6,
      buffered: p.buffered,
      waiting: p.waiting,
      load: loadavg(),
    };
    lastCpu = cpu;
    lastAt = now;
    samples.push(s);
    log(`track ${fmtT(s.track)}  rss ${s.rss.toFixed(1)} MB  heap ${s.heap.toFixed(2)} MB  buffered ${s.buffered.toFixed(1)} s  cpu ${(s.cpu * 100).toFixed(0)} %  waiting ${s.waiting}  load ${s.load}`);
    if (p.error) log(`player error: ${p.error}`);
    if (p.ended || p.t >= TRACK_S - 0.5) break;
    if (p.rate !== RATE) {
      // A track change or a reload resets the rate: put it back (and say so).
      log(`playbackRate was ${p.rate}: set again`);
      await page.evaluate((r) => (window.__sonance.audio.playbackRate = r), RATE);
    }
    if (p.paused && !p.ended) log('paused?');
  }
  const st = await page.evaluate(() => ({ error: window.__sonance.state().error, fetches: window.__sonance.state().fetches.length }));
  await cdp.detach().catch(() => {});
  report(samples, { consoleErrors, error: st.error });
}

function fmtT(s) {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h}:${String(m).padStart(2, '0')}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
}

function plot(name, values, unit, width = 60, height = 8) {
  // Columns are time (each the mean of its bucket), rows the value between min and max.
  const cols = Math.min(width, values.length);
  const buckets = [];
  for (let c = 0; c < cols; c++) {
    const a = Math.floor((c * values.length) / cols);
    const b = Math.max(a + 1, Math.floor(((c + 1) * values.length) / cols));
    const part = values.slice(a, b);
    buckets.push(part.reduce((x, y) => x + y, 0) / part.length);
  }
  let lo = Math.min(...buckets);
  let hi = Math.max(...buckets);
  if (hi - lo < 1e-9) hi = lo + 1;
  const lines = [];
  for (let r = height - 1; r >= 0; r--) {
    const v = lo + ((r + 0.5) / height) * (hi - lo);
    const row = buckets.map((x) => (Math.round(((x - lo) / (hi - lo)) * (height - 1)) === r ? '*' : ' ')).join('');
    lines.push(`${v.toFixed(1).padStart(8)} |${row}`);
  }
  lines.push(`${''.padStart(8)} +${'-'.repeat(cols)}> wall time`);
  return `${name} (${unit}), ${lo.toFixed(2)} … ${hi.toFixed(2)}\n${lines.join('\n')}`;
}

function report(samples, { consoleErrors, error }) {
  const out = [];
  out.push(`# soak: ${fmtT(TRACK_S)} track at ${RATE}×, preset ${opt.preset}, chunks of ${opt['chunk-seconds']} s, memory cache ${opt['cache-memory-mb'] || 'default'} MB, a sample every ${INTERVAL_MS / 1000} s`);
  out.push('');
  out.push('| wall s | track | engine RSS MB | engine CPU % | page heap MB | buffered s | waiting | load |');
  out.push('|---|---|---|---|---|---|---|---|');
  for (const s of samples) {
    out.push(`| ${s.wall.toFixed(0)} | ${fmtT(s.track)} | ${s.rss.toFixed(1)} | ${(s.cpu * 100).toFixed(0)} | ${s.heap.toFixed(2)} | ${s.buffered.toFixed(1)} | ${s.waiting} | ${s.load} |`);
  }
  out.push('');
  // Flatness: skip the first minute of wall time (warm-up: caches, JIT), compare thirds.
  const warm = samples.filter((s) => s.wall >= 60);
  const use = warm.length >= 6 ? warm : samples;
  const third = Math.max(1, Math.floor(use.length / 3));
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  for (const [k, unit] of [
    ['rss', 'MB'],
    ['heap', 'MB'],
    ['buffered', 's'],
  ]) {
    const first = mean(use.slice(0, third).map((s) => s[k]));
    const last = mean(use.slice(-third).map((s) => s[k]));
    const max = Math.max(...use.map((s) => s[k]));
    out.push(`${k}: first third ${first.toFixed(2)} ${unit}, last third ${last.toFixed(2)} ${unit} (${last - first >= 0 ? '+' : ''}${(last - first).toFixed(2)}), max ${max.toFixed(2)} ${unit}`);
  }
  out.push(`waiting events: ${samples.at(-1)?.waiting ?? 0}; player error: ${error ?? 'none'}; console errors: ${consoleErrors.length}${consoleErrors.length ? ' — ' + consoleErrors.slice(0, 3).join(' | ') : ''}`);
  out.push('');
  out.push('```');
  out.push(plot('engine RSS', samples.map((s) => s.rss), 'MB'));
  out.push('');
  out.push(plot('page heap', samples.map((s) => s.heap), 'MB'));
  out.push('');
  out.push(plot('buffered', samples.map((s) => s.buffered), 's'));
  out.push('```');
  process.stdout.write(out.join('\n') + '\n');
}

try {
  await main();
  await cleanup();
  process.exit(0);
} catch (e) {
  log(`failed: ${e?.stack ?? e}`);
  await cleanup();
  process.exit(1);
}
