#!/usr/bin/env node
// Cancelled work stops using CPU (issue 12): does `sonance serve` stop rendering what the
// page no longer wants? In headless Chromium on the real page, on a long never-rendered track:
//
//   idle       nothing playing: the server's CPU over the window (the floor).
//   reference  one seek to a never-rendered point (with a preset change before it): the work
//              the last choice needs — the span under the target, the rest of its chunk, the
//              buffer goal ahead.
//   burst      --ops seeks and preset changes as fast as a user can click (--gap ms apart),
//              each to a never-rendered point, the last one like the reference: if the
//              abandoned renders were not cancelled, the window after the last op would also
//              pay for them (each costs about as much as the reference).
//
// The figure is the `sonance serve` process's CPU time (/proc/PID/stat utime+stime) over
// --window seconds after the last operation, second by second, per run. Progress on stderr,
// a Markdown table on stdout. Every wait has a cap; a watchdog ends the run.
//
//   node tests/e2e/bench/cancel-cpu.mjs [--runs 3] [--ops 20] [--gap 80] [--window 10]
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { harness } from './harness.mjs';
import { ffmpeg, launch, openApp, sleep, startServer, tempDir, trackButton } from '../helpers.mjs';

const { values: opt } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    ops: { type: 'string', default: '20' },
    gap: { type: 'string', default: '80' },
    window: { type: 'string', default: '10' },
    'track-minutes': { type: 'string', default: '60' },
    'chunk-seconds': { type: 'string', default: '30' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opt.help) {
  process.stdout.write(
    'usage: node tests/e2e/bench/cancel-cpu.mjs [--runs 3] [--ops 20] [--gap 80] [--window 10] [--track-minutes 60] [--chunk-seconds 30]\n',
  );
  process.exit(0);
}
const RUNS = Math.max(1, Number(opt.runs) | 0);
const OPS = Math.max(2, Number(opt.ops) | 0);
const GAP = Number(opt.gap);
const WINDOW = Number(opt.window);
const TRACK_S = Number(opt['track-minutes']) * 60;
const CHUNK = Number(opt['chunk-seconds']);
const PRESETS = ['warm', 'bright', 'punchy', 'gentle'];

const { log, cleanups, cleanup } = harness('cancel', (4 + RUNS * (3 * WINDOW + 60) / 60) * 60_000);

const TICK_HZ = 100;
function cpu(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK_HZ;
}
const load1 = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

/** CPU seconds of `pid` in each second of the next `seconds`. */
async function measure(pid, seconds) {
  const per = [];
  let last = cpu(pid);
  let at = performance.now();
  for (let i = 0; i < seconds; i++) {
    const until = at + 1000;
    await sleep(Math.max(0, until - performance.now()));
    const now = cpu(pid);
    per.push(now - last);
    last = now;
    at = until;
  }
  return per;
}

/** Wait until the server has used ≤ 1 tick in each of 3 consecutive 300 ms windows (cap 30 s). */
async function quiesce(pid) {
  const t0 = Date.now();
  let last = cpu(pid);
  let calm = 0;
  while (Date.now() - t0 < 30_000) {
    await sleep(300);
    const now = cpu(pid);
    calm = now - last <= 0.011 ? calm + 1 : 0;
    last = now;
    if (calm >= 3) return true;
  }
  return false;
}

async function main() {
  const dir = await tempDir('sonance-cancel-');
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const title = 'cancel-long';
  const file = join(dir, `${title}.flac`);
  log(`generating a ${TRACK_S / 60} min pink-noise track (mono 22.05 kHz, to keep the file small)…`);
  await ffmpeg(['-f', 'lavfi', '-i', `anoisesrc=color=pink:duration=${TRACK_S}:amplitude=0.25:seed=11:sample_rate=22050`, '-ac', '1', '-sample_fmt', 's16', '-metadata', `title=${title}`, file]);
  const server = await startServer([file], { chunkSeconds: CHUNK });
  cleanups.push(() => server.stop());
  const pid = server.child.pid;
  const browser = await launch();
  cleanups.push(() => browser.close());
  const { page, consoleErrors } = await openApp(browser.context, server.url, { preset: 'bypass' });
  // Chunk requests the page starts and abandons (a request the page aborts is a client gone away).
  const net = { started: 0, failed: 0 };
  page.on('request', (r) => r.url().includes('/chunks/') && net.started++);
  page.on('requestfailed', (r) => r.url().includes('/chunks/') && net.failed++);
  await trackButton(page, title).click();
  await page.waitForFunction(() => window.__sonance.audio.currentTime > 0.5, null, { timeout: 30_000 });

  // Never-rendered points: distinct chunks, far apart, each used once.
  const nChunks = Math.floor(TRACK_S / CHUNK);
  const free = [];
  for (let c = 4; c < nChunks - 2; c += 2) free.push(c);
  let k = 0;
  const freshPoint = () => {
    if (free.length === 0) throw new Error('the track is too short for this many operations: --track-minutes');
    const c = free[(k++ * 7919) % free.length];
    free.splice(free.indexOf(c), 1);
    return c * CHUNK + 7.3;
  };
  let presetTurn = 0;
  const nextPreset = () => PRESETS[presetTurn++ % PRESETS.length];

  const seek = (t) =>
    page.evaluate((x) => {
      const input = document.getElementById('seek');
      input.value = String(x);
      input.dispatchEvent(new Event('input', { bubbles: true }));
      input.dispatchEvent(new Event('change', { bubbles: true }));
    }, t);
  const setPreset = (p) => page.getByRole('combobox', { name: 'Preset' }).selectOption(p);
  const pause = async () => {
    await page.evaluate(() => window.__sonance.core.send({ type: 'pause' }));
    await page.waitForFunction(() => window.__sonance.audio.paused, null, { timeout: 10_000 });
  };
  const play = async () => {
    await page.evaluate(() => window.__sonance.core.send({ type: 'play' }));
    await page.waitForFunction(() => !window.__sonance.audio.paused, null, { timeout: 10_000 });
  };
  const playingAt = (t) => page.waitForFunction((x) => window.__sonance.audio.currentTime > x && !window.__sonance.audio.paused, t, { timeout: 30_000, polling: 50 });

  const rows = [];
  for (let r = 0; r < RUNS; r++) {
    // idle
    await pause();
    if (!(await quiesce(pid))) log('warning: the server did not go quiet within 30 s');
    const idle = await measure(pid, WINDOW);
    rows.push({ run: r + 1, what: 'idle', per: idle, load: load1() });
    log(`run ${r + 1} idle: ${sum(idle).toFixed(2)} s`);

    // reference: one preset change + one seek, then the window
    await play();
    const pRef = nextPreset();
    await setPreset(pRef);
    const tRef = freshPoint();
    await seek(tRef);
    const ref = await measure(pid, WINDOW);
    await playingAt(tRef).catch(() => log('warning: reference did not play'));
    rows.push({ run: r + 1, what: 'reference (1 seek)', per: ref, load: load1() });
    log(`run ${r + 1} reference: ${sum(ref).toFixed(2)} s`);
    await pause();
    await quiesce(pid);

    // burst
    await play();
    const c0 = cpu(pid);
    const n0 = { ...net };
    const b0 = performance.now();
    let last = 0;
    for (let i = 0; i < OPS - 1; i++) {
      if (i % 3 === 2) await setPreset(nextPreset());
      else await seek(freshPoint());
      await sleep(GAP);
    }
    await setPreset(nextPreset());
    last = freshPoint();
    await seek(last);
    const during = cpu(pid) - c0;
    const burstMs = performance.now() - b0;
    const burst = await measure(pid, WINDOW);
    const reqs = `${net.started - n0.started} chunk requests, ${net.failed - n0.failed} abandoned`;
    await playingAt(last).catch(() => log('warning: the burst\'s last seek did not play'));
    rows.push({ run: r + 1, what: `burst (${OPS} ops, ${GAP} ms apart; ${reqs}; ${during.toFixed(2)} CPU s during its ${(burstMs / 1000).toFixed(1)} s)`, per: burst, load: load1() });
    log(`run ${r + 1} burst: ${sum(burst).toFixed(2)} s`);
  }
  const err = await page.evaluate(() => window.__sonance.state().error);

  const out = [];
  out.push(`# cancelled work: \`sonance serve\` CPU seconds in the ${WINDOW} s after the last operation (${TRACK_S / 60} min pink noise, ${CHUNK} s chunks)`);
  out.push('');
  out.push(`| run | what | total CPU s | per second | load1 |`);
  out.push('|---|---|---|---|---|');
  for (const row of rows) out.push(`| ${row.run} | ${row.what} | ${sum(row.per).toFixed(2)} | ${row.per.map((x) => x.toFixed(2)).join(' ')} | ${row.load.toFixed(2)} |`);
  out.push('');
  const avg = (what) => {
    const xs = rows.filter((x) => x.what.startsWith(what)).map((x) => sum(x.per));
    return xs.reduce((a, b) => a + b, 0) / xs.length;
  };
  out.push(`mean: idle ${avg('idle').toFixed(2)} s, reference ${avg('reference').toFixed(2)} s, burst ${avg('burst').toFixed(2)} s (burst / reference ${(avg('burst') / avg('reference')).toFixed(2)})`);
  out.push(`player error: ${err ?? 'none'}; console errors: ${consoleErrors.length}`);
  process.stdout.write(out.join('\n') + '\n');
}

function sum(xs) {
  return xs.reduce((a, b) => a + b, 0);
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
