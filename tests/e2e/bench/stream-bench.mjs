#!/usr/bin/env node
// Streaming benchmark (issue 4, "Benchmark"): how fast does `sonance serve` + the MSE
// page in headless Debian Chromium start, seek and switch presets, compared with the
// naive approach of transcoding the whole file with ffmpeg first and then playing it
// in a plain <audio>?
//
//   node tests/e2e/bench/stream-bench.mjs [--runs 10] [--chunk-seconds 30] ...
//   (cd ui && npm run bench:stream -- --runs 10)
//
// Every run uses a FLAC the server has never rendered (one generated file per run,
// 3–5 min, 44.1 kHz stereo) and, in the same run, the reference on that same file.
// Prints a Markdown table (stdout), then the raw figures as JSON (stdout, and
// --json FILE). Progress goes to stderr. Loopback only; every wait has a cap and a
// global watchdog ends the process (and everything it started) after --max-minutes.
//
// Figures (all times are measured inside the page with performance.now(), except the
// transcode, timed in node around the ffmpeg process):
//   cold    click on the track's title button (capture-phase listener timestamp) → first
//           `playing` event, and → first moment `audio.currentTime > 0` (4 ms poll).
//   cached  same, same track, in a new tab (a reload): the server's cache holds chunk 0.
//   seek    on the cached tab while playing: set the "Seek" slider to a point ≥ 2 chunks
//           ahead of anything fetched (input+change, as a drag does) → currentTime > target
//           (4 ms poll); also → the `playing` event after the seek.
//   switch  on the same tab while playing: change "Intensity" 100 → 50 % (or the
//           "Preset" select when the server lists another available preset) → (a) the new
//           rendering's chunk response ends (Resource Timing responseEnd), (b) the page
//           logs the append of the new rendering (window.__sonance.state().appends — the
//           only "switch applied" signal the page exposes), (c) the playhead reaches the
//           switch point (the append window start), i.e. when the new sound is heard.
//           The intensity slider has a 150 ms debounce in the UI (main.ts); the figures
//           include it, and "excl. debounce" rows start at the player's fetch instead.
//   reference  `ffmpeg -i in.flac -ar 48000 -c:a libopus -b:a 160k -compression_level 10
//           -f webm out.webm` (wall time), then a plain <audio> page served by a tiny node
//           server on 127.0.0.1: click → (src=out.webm; play()) → `playing` / currentTime > 0.
//           Reference time to first audio = transcode + that, per run.
import { spawn, execFile } from 'node:child_process';
import { readFileSync, statSync, readdirSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join, extname, basename } from 'node:path';
import { promisify, parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { REPO, SONANCE_BIN, CHROMIUM, ffmpeg, launch, startServer, tempDir, trackButton, sleep } from '../helpers.mjs';
import { startReferenceServer, startIn, stats, cpuTicks } from './harness.mjs';

const run = promisify(execFile);

// ------------------------------------------------------------------ options
const { values: opt } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    'chunk-seconds': { type: 'string', default: '30' },
    preset: { type: 'string', default: 'bypass' },
    switch: { type: 'string', default: 'auto' }, // auto | intensity | preset
    'phase-timeout': { type: 'string', default: '45' }, // seconds, per measured phase
    'max-minutes': { type: 'string', default: '' }, // global watchdog; default from runs
    json: { type: 'string', default: '' },
    'no-warmup': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  allowPositionals: false,
});
if (opt.help) {
  process.stdout.write(
    [
      'usage: node tests/e2e/bench/stream-bench.mjs [options]',
      '  --runs N             measured runs per figure (default 10), each on a never-seen track',
      '  --chunk-seconds S    server chunk length (default 30, the product default)',
      '  --preset P           preset to start with (default bypass)',
      '  --switch MODE        auto | intensity | preset (auto: another available preset if any, else intensity)',
      '  --phase-timeout SEC  cap per measured phase (default 45)',
      '  --max-minutes M      global watchdog (default 3 + 2.5 per run)',
      '  --json FILE          also write the JSON there',
      '  --no-warmup          skip the unmeasured warm-up run',
      'env: SONANCE_BIN, CHROMIUM_BIN',
      '',
    ].join('\n'),
  );
  process.exit(0);
}
const RUNS = Math.max(1, Number(opt.runs) | 0);
const CHUNK = Number(opt['chunk-seconds']);
const START_PRESET = opt.preset;
const PHASE_MS = Number(opt['phase-timeout']) * 1000;
const MAX_MIN = opt['max-minutes'] ? Number(opt['max-minutes']) : 3 + 2.5 * RUNS;
if (!(CHUNK > 0) || !(PHASE_MS > 0) || !(MAX_MIN > 0)) throw new Error('bad numeric option');

const log = (...a) => process.stderr.write(`[bench ${((performance.now() - T0) / 1000).toFixed(1)}s] ${a.join(' ')}\n`);
const T0 = performance.now();

// ------------------------------------------------------------------ cleanup & watchdog
const cleanups = [];
let cleaning = null;
function cleanup() {
  if (!cleaning) {
    cleaning = (async () => {
      for (const f of cleanups.reverse()) {
        try {
          await Promise.race([f(), sleep(8000)]);
        } catch {}
      }
    })();
  }
  return cleaning;
}
const watchdog = setTimeout(async () => {
  log(`watchdog: still running after ${MAX_MIN} min — stopping`);
  await cleanup();
  process.exit(3);
}, MAX_MIN * 60_000);
watchdog.unref();
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    log(`${sig}: stopping`);
    await cleanup();
    process.exit(130);
  });
}

/** Reject after `ms` with a message. */
function capped(promise, ms, what) {
  let t;
  return Promise.race([promise, new Promise((_, rej) => (t = setTimeout(() => rej(new Error(`${what}: no result within ${ms} ms`)), ms)))]).finally(() =>
    clearTimeout(t),
  );
}

// ------------------------------------------------------------------ machine load
function loadavg() {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
}
function busyProcesses() {
  // Names of processes (not ours) currently using CPU time, for the caveats.
  const names = {};
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state !== 'R') continue;
      const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      names[comm] = (names[comm] ?? 0) + 1;
    } catch {}
  }
  return names;
}
/** Wait until the server process is idle (no background render still running). */
async function quiesce(pid, maxMs = 10_000) {
  const t0 = Date.now();
  let last = cpuTicks(pid);
  let calm = 0;
  while (Date.now() - t0 < maxMs) {
    await sleep(150);
    const now = cpuTicks(pid);
    calm = now - last <= 1 ? calm + 1 : 0;
    last = now;
    if (calm >= 2) return Date.now() - t0;
  }
  return Date.now() - t0;
}
const loadSamples = [];
const loadTimer = setInterval(() => loadSamples.push({ t: Math.round(performance.now() - T0), load1: loadavg()[0], busy: busyProcesses() }), 5000);
loadTimer.unref();

// ------------------------------------------------------------------ inputs
/** One distinct 3–5 min 44.1 kHz stereo FLAC per run (+ one for the warm-up). */
async function makeTrack(dir, i) {
  const title = i < 0 ? 'bench-warmup' : `bench-${String(i + 1).padStart(2, '0')}`;
  const seconds = 180 + ((Math.abs(i + 1) * 37) % 121); // 180..300 s
  const file = join(dir, `${title}.flac`);
  const kind = (i + 1) % 2 === 0 ? 'music' : 'pink';
  const meta = ['-map_metadata', '-1', '-metadata', `title=${title}`, '-metadata', 'artist=stream-bench', '-metadata', 'album=bench'];
  const out = ['-ar', '44100', '-ac', '2', '-sample_fmt', 's16', ...meta, file];
  if (kind === 'music') {
    // The demo track looped, pitched/sped (asetrate) and levelled differently per run.
    const rate = (1 + 0.013 * (i + 2)).toFixed(3);
    const vol = (0.55 + 0.04 * ((i + 2) % 9)).toFixed(2);
    await ffmpeg(['-stream_loop', '-1', '-i', join(REPO, 'assets/demo.flac'), '-t', String(seconds), '-af', `asetrate=44100*${rate},aresample=44100,volume=${vol}`, ...out]);
  } else {
    await ffmpeg(['-f', 'lavfi', '-i', `anoisesrc=color=pink:duration=${seconds}:amplitude=0.25:seed=${1000 + i}`, ...out]);
  }
  return { title, file, seconds, kind };
}

async function waitForBinary() {
  const t0 = Date.now();
  for (;;) {
    try {
      const st = statSync(SONANCE_BIN);
      if (st.isFile() && Date.now() - st.mtimeMs > 3000) return st;
    } catch {}
    if (Date.now() - t0 > 5 * 60_000) throw new Error(`${SONANCE_BIN} missing (waited 5 min)`);
    log(`waiting for ${SONANCE_BIN} (missing or being rebuilt)…`);
    await sleep(10_000);
  }
}

// ------------------------------------------------------------------ reference static server
const REF_HTML = `<!doctype html><html><head><meta charset="utf-8"><title>reference</title></head>
<body><button id="play" type="button">Play</button><audio id="a" preload="none"></audio>
<script>
const a = document.getElementById('a');
const src = new URLSearchParams(location.search).get('src');
document.getElementById('play').addEventListener('click', () => {
  a.src = src;
  a.play().catch((e) => { window.__playError = String(e); });
});
</script></body></html>`;

async function transcode(input, output) {
  // Exactly the reference command (plus -y and quiet logging), not niced.
  const args = ['-hide_banner', '-v', 'error', '-y', '-i', input, '-ar', '48000', '-c:a', 'libopus', '-b:a', '160k', '-compression_level', '10', '-f', 'webm', output];
  const t0 = performance.now();
  await new Promise((resolve, reject) => {
    const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const t = setTimeout(() => child.kill('SIGKILL'), PHASE_MS * 2);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(t);
      code === 0 ? resolve() : reject(new Error(`ffmpeg exited ${code}: ${err.slice(-500)}`));
    });
  });
  return performance.now() - t0;
}

// ------------------------------------------------------------------ in-page probes
/**
 * Installed before the click: timestamps the click (capture phase, first listener to
 * run), the first `playing` after it and the first currentTime > 0 (4 ms poll + timeupdate).
 */
function installStartProbe() {
  const a = window.__sonance?.audio ?? document.querySelector('audio');
  const r = (window.__benchStart = { clickAt: null, clickStamp: null, playingAt: null, advancedAt: null, advancedCt: null, waiting: 0 });
  const poll = () => {
    if (r.clickAt !== null && r.advancedAt === null && a.currentTime > 0) {
      r.advancedAt = performance.now();
      r.advancedCt = a.currentTime;
    }
  };
  window.addEventListener(
    'click',
    (e) => {
      if (r.clickAt !== null) return;
      r.clickAt = performance.now();
      r.clickStamp = e.timeStamp;
      const id = setInterval(() => {
        poll();
        if (r.advancedAt !== null || performance.now() - r.clickAt > 120_000) clearInterval(id);
      }, 4);
    },
    { capture: true },
  );
  a.addEventListener('playing', () => {
    if (r.clickAt !== null && r.playingAt === null) r.playingAt = performance.now();
  });
  a.addEventListener('waiting', () => r.clickAt !== null && r.waiting++);
  a.addEventListener('timeupdate', poll);
}

/** Resource Timing entries (page time base) whose URL contains `part`, started at or after `since`. */
function resourcesIn([part, since]) {
  return performance
    .getEntriesByType('resource')
    .filter((e) => e.name.includes(part) && e.startTime >= since - 1)
    .map((e) => ({ url: e.name, startTime: e.startTime, responseStart: e.responseStart, responseEnd: e.responseEnd }));
}

/** Seek via the "Seek" slider the way a drag ends (input + change) and time the restart. */
function seekProbe(target) {
  const a = window.__sonance.audio;
  const input = document.getElementById('seek');
  const r = (window.__benchSeek = { target, at: null, advancedAt: null, playingAt: null, seekedAt: null, waiting: 0 });
  a.addEventListener('playing', () => r.at !== null && r.playingAt === null && (r.playingAt = performance.now()));
  a.addEventListener('seeked', () => r.at !== null && r.seekedAt === null && (r.seekedAt = performance.now()));
  a.addEventListener('waiting', () => r.at !== null && r.waiting++);
  r.at = performance.now();
  input.value = String(target);
  input.dispatchEvent(new Event('input', { bubbles: true }));
  input.dispatchEvent(new Event('change', { bubbles: true }));
  const id = setInterval(() => {
    if (!a.seeking && a.currentTime > target + 0.002) {
      r.advancedAt = performance.now();
      r.advancedCt = a.currentTime;
    }
    if (r.advancedAt !== null || performance.now() - r.at > 120_000) clearInterval(id);
  }, 4);
}

/**
 * Change intensity (or preset) and time: the append of the new rendering (from the
 * player's log), the SourceBuffer's updateend after it (best effort, via the player's
 * MediaSource), and the playhead reaching the switch point (4 ms poll).
 */
function switchProbe(plan) {
  const s = window.__sonance;
  const a = s.audio;
  const before = s.state();
  const r = (window.__benchSwitch = { plan, oldKey: before.key, epochBefore: before.epoch, at: null, append: null, fetch: null, updateEndAt: null, reachedAt: null, waiting: 0 });
  a.addEventListener('waiting', () => r.at !== null && r.waiting++);
  try {
    const sb = s.player.sink?.mediaSource?.sourceBuffers?.[0];
    sb?.addEventListener('updateend', () => {
      if (r.append && r.updateEndAt === null && performance.now() >= r.append.at) r.updateEndAt = performance.now();
    });
  } catch {}
  let nextLog = 0;
  const id = setInterval(() => {
    const now = performance.now();
    if (!r.append && now >= nextLog) {
      nextLog = now + 15;
      const st = s.state();
      const ap = st.appends.find((x) => x.at >= r.at && x.key !== r.oldKey);
      if (ap) {
        r.append = ap;
        r.fetch = st.fetches.find((f) => f.at >= r.at && f.key === ap.key) ?? null;
        r.newKey = ap.key;
      }
    }
    if (r.append && r.reachedAt === null && a.currentTime >= r.append.windowStart) {
      r.reachedAt = now;
      r.reachedCt = a.currentTime;
    }
    if (r.reachedAt !== null || now - r.at > 120_000) clearInterval(id);
  }, 4);
  // Focus first, as a pointer or keyboard user does: the page re-renders an unfocused
  // Intensity slider from the player's state, which would undo the change during the
  // UI's 150 ms debounce.
  const el = document.getElementById(plan.kind === 'preset' ? 'preset' : 'intensity');
  el.focus();
  r.at = performance.now();
  if (plan.kind === 'preset') {
    const sel = el;
    sel.value = plan.value;
    sel.dispatchEvent(new Event('input', { bubbles: true }));
    sel.dispatchEvent(new Event('change', { bubbles: true }));
  } else {
    const inp = el;
    inp.value = String(plan.value);
    inp.dispatchEvent(new Event('input', { bubbles: true }));
    inp.dispatchEvent(new Event('change', { bubbles: true }));
  }
}

/**
 * Wait (capped) until a Resource Timing entry for `part` started at or after `since` exists:
 * the entry appears when the response ends, which with a streamed chunk is after playback
 * started.
 */
async function settleResource(page, part, since) {
  await page
    .waitForFunction(([p, t]) => performance.getEntriesByType('resource').some((e) => e.name.includes(p) && e.startTime >= t - 1), [part, since], {
      timeout: PHASE_MS,
      polling: 50,
    })
    .catch(() => log(`no response end for ${part} within the phase timeout`));
}

// ------------------------------------------------------------------ sonance phases
async function openSonance(context, url) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await page.goto(url);
  await page.waitForFunction(
    () => window.__sonance !== undefined && document.querySelectorAll('#track-list tr').length > 0 && document.querySelectorAll('#preset option').length > 0,
    null,
    { timeout: PHASE_MS },
  );
  await page.waitForTimeout(300); // let the page settle (AudioContext, first paints)
  return { page, errors };
}

async function measureStart(page, title, trackId) {
  await page.evaluate(installStartProbe);
  await trackButton(page, title).click({ timeout: PHASE_MS });
  await page.waitForFunction(() => window.__benchStart.advancedAt !== null && window.__benchStart.playingAt !== null, null, {
    timeout: PHASE_MS,
    polling: 50,
  });
  const r = await page.evaluate(() => window.__benchStart);
  const c = r.clickAt;
  await settleResource(page, '/chunks/', c);
  const res = await page.evaluate(resourcesIn, [`/api/tracks/${trackId}/`, c]);
  const st = await page.evaluate(() => window.__sonance.state());
  const ch = res.find((e) => /\/chunks\/\d+\.webm/.test(e.url));
  const init = res.find((e) => e.url.includes('/init.webm'));
  const ap = st.appends.find((x) => x.at >= c);
  return {
    playingMs: r.playingAt - c,
    advancedMs: r.advancedAt - c,
    firstCurrentTime: r.advancedCt,
    clickEventStampLagMs: c - r.clickStamp,
    chunkRequestStartMs: ch ? ch.startTime - c : null,
    chunkResponseEndMs: ch ? ch.responseEnd - c : null,
    chunkFetchMs: ch ? ch.responseEnd - ch.startTime : null,
    chunkFirstByteMs: ch ? ch.responseStart - ch.startTime : null,
    chunk0Appends: st.appends.filter((x) => x.at >= c && x.chunk === (ap ? ap.chunk : 0)).length,
    initResponseEndMs: init ? init.responseEnd - c : null,
    appendMs: ap ? ap.at - c : null,
    waitingAfterPlaying: r.waiting,
  };
}

async function measureSeek(page, duration) {
  const st = await page.evaluate(() => window.__sonance.state());
  const ct = st.currentTime;
  const maxFetched = Math.max(-1, ...st.fetches.map((f) => f.chunk));
  const maxBuffered = Math.max(0, ...st.buffered.map(([, b]) => b));
  let m = Math.max(Math.floor(ct / CHUNK) + 3, maxFetched + 2, Math.ceil(maxBuffered / CHUNK) + 1);
  const target = Math.round((m * CHUNK + 0.37 * CHUNK) * 10) / 10;
  if (target >= duration - 2) throw new Error(`track too short for a seek ≥ 2 chunks ahead (target ${target} s, duration ${duration} s)`);
  await page.evaluate(seekProbe, target);
  await page.waitForFunction(() => window.__benchSeek.advancedAt !== null, null, { timeout: PHASE_MS, polling: 50 });
  const r = await page.evaluate(() => window.__benchSeek);
  await settleResource(page, `/chunks/${m}.webm`, r.at);
  const res = await page.evaluate(resourcesIn, [`/chunks/${m}.webm`, r.at]);
  const after = await page.evaluate(() => window.__sonance.state());
  const ap = after.appends.find((x) => x.at >= r.at && x.chunk === m);
  return {
    from: Math.round(ct * 100) / 100,
    target,
    chunk: m,
    bufferedBefore: st.buffered,
    fetchedBefore: [...new Set(st.fetches.map((f) => f.chunk))],
    advancedMs: r.advancedAt - r.at,
    playingMs: r.playingAt !== null ? r.playingAt - r.at : null,
    seekedMs: r.seekedAt !== null ? r.seekedAt - r.at : null,
    chunkFetchMs: res[0] ? res[0].responseEnd - res[0].startTime : null,
    chunkFirstByteMs: res[0] ? res[0].responseStart - res[0].startTime : null,
    chunkResponseEndMs: res[0] ? res[0].responseEnd - r.at : null,
    appendMs: ap ? ap.at - r.at : null,
    waitingEvents: r.waiting,
  };
}

async function measureSwitch(page, plan) {
  await page.evaluate(switchProbe, plan);
  await page.waitForFunction(() => window.__benchSwitch.reachedAt !== null, null, { timeout: PHASE_MS, polling: 50 });
  const r = await page.evaluate(() => window.__benchSwitch);
  const ap = r.append;
  await settleResource(page, `/chunks/${ap.chunk}.webm`, r.at);
  const res = await page.evaluate(resourcesIn, [`/chunks/${ap.chunk}.webm`, r.at]);
  const [preset, intensity] = [r.newKey.slice(0, r.newKey.lastIndexOf('@')), r.newKey.slice(r.newKey.lastIndexOf('@') + 1)];
  const mine = res.find((e) => {
    const u = new URL(e.url);
    return u.searchParams.get('preset') === preset && u.searchParams.get('intensity') === intensity;
  });
  const st = await page.evaluate(() => window.__sonance.state());
  return {
    plan,
    oldKey: r.oldKey,
    newKey: r.newKey,
    chunk: ap.chunk,
    switchPoint: ap.windowStart,
    currentTimeAtAppend: ap.currentTime,
    fetchIssuedMs: r.fetch ? r.fetch.at - r.at : null, // = the UI debounce (intensity) + policy
    responseEndMs: mine ? mine.responseEnd - r.at : null,
    chunkFetchMs: mine ? mine.responseEnd - mine.startTime : null,
    appendMs: ap.at - r.at,
    updateEndMs: r.updateEndAt !== null ? r.updateEndAt - r.at : null,
    heardMs: r.reachedAt - r.at,
    appendExclDebounceMs: r.fetch ? ap.at - r.fetch.at : null,
    heardExclDebounceMs: r.fetch ? r.reachedAt - r.fetch.at : null,
    waitingEvents: r.waiting,
    error: st.error,
  };
}

/** Seek the reference page's plain <audio> to `target` and time → `playing` and → currentTime > target. */
function refSeekProbe(target) {
  const a = document.getElementById('a');
  const r = (window.__refSeek = { target, at: null, advancedAt: null, playingAt: null, seekedAt: null });
  a.addEventListener('playing', () => r.at !== null && r.playingAt === null && (r.playingAt = performance.now()));
  a.addEventListener('seeked', () => r.at !== null && r.seekedAt === null && (r.seekedAt = performance.now()));
  r.at = performance.now();
  a.currentTime = target;
  const id = setInterval(() => {
    if (r.advancedAt === null && !a.seeking && a.currentTime > target + 0.002) r.advancedAt = performance.now();
    if (r.advancedAt !== null || performance.now() - r.at > 120_000) clearInterval(id);
  }, 4);
}

async function measureReference(context, refUrl, input, outDir, tag, seekTarget = null) {
  const out = join(outDir, `${tag}.webm`);
  const transcodeMs = await transcode(input, out);
  const page = await context.newPage();
  try {
    await page.goto(`${refUrl}ref.html?src=${encodeURIComponent(basename(out))}`);
    await page.waitForTimeout(300);
    await page.evaluate(installStartProbe);
    await page.locator('#play').click({ timeout: PHASE_MS });
    await page.waitForFunction(() => window.__playError || (window.__benchStart.advancedAt !== null && window.__benchStart.playingAt !== null), null, {
      timeout: PHASE_MS,
      polling: 50,
    });
    const r = await page.evaluate(() => ({ ...window.__benchStart, err: window.__playError ?? null }));
    if (r.err) throw new Error(`reference play(): ${r.err}`);
    // The seek reference: the same target as Sonance's seek, in the plain <audio> on the
    // local Opus file (Cues + a range request), once it has played a second.
    let seek = null;
    if (seekTarget != null) {
      await page.waitForFunction(() => document.getElementById('a').currentTime >= 1, null, { timeout: PHASE_MS, polling: 50 });
      await page.evaluate(refSeekProbe, seekTarget);
      await page.waitForFunction(() => window.__refSeek.advancedAt !== null && window.__refSeek.playingAt !== null, null, { timeout: PHASE_MS, polling: 50 });
      const s = await page.evaluate(() => window.__refSeek);
      seek = { target: seekTarget, advancedMs: s.advancedAt - s.at, playingMs: s.playingAt - s.at, seekedMs: s.seekedAt !== null ? s.seekedAt - s.at : null };
    }
    return {
      seek,
      transcodeMs,
      webmBytes: statSync(out).size,
      playingMs: r.playingAt - r.clickAt,
      advancedMs: r.advancedAt - r.clickAt,
      totalPlayingMs: transcodeMs + (r.playingAt - r.clickAt),
      totalAdvancedMs: transcodeMs + (r.advancedAt - r.clickAt),
    };
  } finally {
    await page.close().catch(() => {});
    await rm(out, { force: true });
  }
}

// ------------------------------------------------------------------ one run
async function oneRun(ctx, track, label) {
  const { context, server, refUrl, refDir, switchPlan, trackIds, durations } = ctx;
  const id = trackIds[track.title];
  const result = { label, track: track.title, kind: track.kind, seconds: durations[track.title] };
  const phase = async (name, f) => {
    try {
      result[name] = await capped(f(), PHASE_MS * 2.5, name);
    } catch (e) {
      result[name] = { error: String(e?.message ?? e).split('\n')[0] };
      log(`${label} ${name} failed: ${result[name].error}`);
    }
  };

  // cold: a tab that has never played this track, a track the server never rendered.
  await quiesce(server.child.pid);
  let tab = await openSonance(context, server.url);
  await phase('cold', () => measureStart(tab.page, track.title, id));
  await tab.page.close().catch(() => {});

  // cached: a new tab (= reload), same track: chunk 0 is in the server's cache.
  await quiesce(server.child.pid);
  tab = await openSonance(context, server.url);
  await phase('cached', () => measureStart(tab.page, track.title, id));

  // seek into uncached time, on the same tab while it plays.
  if (!result.cached.error) {
    await phase('seek', async () => {
      await tab.page.waitForFunction(() => window.__sonance.audio.currentTime >= 1, null, { timeout: PHASE_MS, polling: 50 });
      return measureSeek(tab.page, result.seconds);
    });
  }
  // preset/intensity switch while playing (≥ 1 s after the seek resumed).
  if (result.seek && !result.seek.error) {
    await phase('switch', async () => {
      const t = result.seek.target + 1;
      await tab.page.waitForFunction((x) => window.__sonance.audio.currentTime >= x, t, { timeout: PHASE_MS, polling: 50 });
      return measureSwitch(tab.page, switchPlan);
    });
  }
  result.pageErrors = tab.errors.slice(0, 5);
  await tab.page.close().catch(() => {});

  // reference on the same file (the server is idle first).
  await quiesce(server.child.pid);
  await phase('reference', () => measureReference(context, refUrl, track.file, refDir, track.title, result.seek?.target ?? null));
  result.load1 = loadavg()[0];
  return result;
}

// ------------------------------------------------------------------ statistics & report
const ROWS = [
  // [id, figure, definition, target ms or null, getter]
  ['cold.advanced', 'Time to first audio, cold', 'click → currentTime > 0', 100, (r) => r.cold?.advancedMs],
  ['cold.playing', 'Time to first audio, cold', 'click → `playing`', 100, (r) => r.cold?.playingMs],
  ['cold.toRequest', '  of which: before the request', 'click → chunk 0 request start (track detail, MediaSource open)', null, (r) => r.cold?.chunkRequestStartMs],
  ['cold.fetch', '  of which: chunk 0 request', 'request start → response end (server render + transfer)', null, (r) => r.cold?.chunkFetchMs],
  ['cold.firstByte', '  of which: chunk 0 first byte', 'request start → response start (headers + first Cluster when the server streams)', null, (r) => r.cold?.chunkFirstByteMs],
  ['cold.append', '  first append of chunk 0', 'click → first append (page log; the chunk streams in parts)', null, (r) => r.cold?.appendMs],
  ['cold.tail', '  of which: after the response', 'response end → currentTime > 0 (negative: playing before the download ended)', null, (r) => (r.cold?.advancedMs != null && r.cold?.chunkResponseEndMs != null ? r.cold.advancedMs - r.cold.chunkResponseEndMs : null)],
  ['cached.advanced', 'Time to first audio, cached', 'click → currentTime > 0', 50, (r) => r.cached?.advancedMs],
  ['cached.playing', 'Time to first audio, cached', 'click → `playing`', 50, (r) => r.cached?.playingMs],
  ['cached.overRef', '  cached over the reference', '(click → `playing`) − the plain <audio>\'s, same run (issue 13: ≤ 10)', 10, (r) => (r.cached?.playingMs != null && r.reference?.playingMs != null ? r.cached.playingMs - r.reference.playingMs : null)],
  ['cached.toRequest', '  of which: before the request', 'click → chunk 0 request start', null, (r) => r.cached?.chunkRequestStartMs],
  ['cached.fetch', '  of which: chunk 0 request', 'request start → response end', null, (r) => r.cached?.chunkFetchMs],
  ['cached.tail', '  of which: after the response', 'response end → currentTime > 0', null, (r) => (r.cached?.advancedMs != null && r.cached?.chunkResponseEndMs != null ? r.cached.advancedMs - r.cached.chunkResponseEndMs : null)],
  ['seek.advanced', 'Seek into uncached time', 'seek → currentTime > target', 100, (r) => r.seek?.advancedMs],
  ['seek.playing', 'Seek into uncached time', 'seek → `playing`', 100, (r) => r.seek?.playingMs],
  ['seek.fetch', '  of which: target chunk request', 'request start → response end', null, (r) => r.seek?.chunkFetchMs],
  ['seek.firstByte', '  of which: target chunk first byte', 'request start → response start', null, (r) => r.seek?.chunkFirstByteMs],
  ['seek.tail', '  of which: after the response', 'response end → currentTime > target (negative: before the download ended)', null, (r) => (r.seek?.advancedMs != null && r.seek?.chunkResponseEndMs != null ? r.seek.advancedMs - r.seek.chunkResponseEndMs : null)],
  ['switch.response', 'Preset switch', 'change → new chunk response end', null, (r) => r.switch?.responseEndMs],
  ['switch.append', 'Preset switch', 'change → new rendering appended (page log)', 150, (r) => r.switch?.appendMs],
  ['switch.heard', 'Preset switch', 'change → playhead at switch point (heard)', null, (r) => r.switch?.heardMs],
  ['switch.appendExcl', 'Preset switch, excl. UI debounce', 'player fetch issued → appended', 150, (r) => r.switch?.appendExclDebounceMs],
  ['switch.heardExcl', 'Preset switch, excl. UI debounce', 'player fetch issued → playhead at switch point', null, (r) => r.switch?.heardExclDebounceMs],
  ['ref.seekPlaying', 'Reference: plain <audio> seek', 'seek to the same target on the local Opus file → `playing`', null, (r) => r.reference?.seek?.playingMs],
  ['ref.seekAdvanced', 'Reference: plain <audio> seek', 'seek → currentTime > target', null, (r) => r.reference?.seek?.advancedMs],
  ['ref.transcode', 'Reference: ffmpeg transcode', 'whole file → out.webm (wall)', null, (r) => r.reference?.transcodeMs],
  ['ref.playing', 'Reference: plain <audio>', 'click (src + play()) → `playing`', null, (r) => r.reference?.playingMs],
  ['ref.advanced', 'Reference: plain <audio>', 'click (src + play()) → currentTime > 0', null, (r) => r.reference?.advancedMs],
  ['ref.totalPlaying', 'Reference: time to first audio', 'transcode + (click → `playing`)', null, (r) => r.reference?.totalPlayingMs],
  ['ref.totalAdvanced', 'Reference: time to first audio', 'transcode + (click → currentTime > 0)', null, (r) => r.reference?.totalAdvancedMs],
];

function fmt(x) {
  if (x === null || x === undefined) return '—';
  return x >= 10_000 ? `${(x / 1000).toFixed(2)} s` : `${Math.round(x)}`;
}

function report(runs) {
  const summary = {};
  const lines = [
    '| figure | definition | target (ms) | median (ms) | min | max | n |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const [id, figure, def, target, get] of ROWS) {
    const s = stats(runs.map(get));
    summary[id] = { figure, definition: def, targetMs: target, ...s };
    const tgt = target === null ? '' : `≤ ${target}`;
    const verdict = target !== null && s.median !== null ? (s.median <= target ? ' ✓' : ' ✗') : '';
    lines.push(`| ${figure} | ${def} | ${tgt} | ${fmt(s.median)}${verdict} | ${fmt(s.min)} | ${fmt(s.max)} | ${s.n}/${runs.length} |`);
  }
  return { table: lines.join('\n'), summary };
}

// ------------------------------------------------------------------ main
async function main() {
  const bin = await waitForBinary();
  const dir = await tempDir('sonance-bench-');
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const refDir = join(dir, 'ref');
  const cacheDir = join(dir, 'cache'); // fresh: nothing rendered before this process
  await run('mkdir', ['-p', refDir, cacheDir]);

  const startLoad = loadavg();
  const startBusy = busyProcesses();
  log(`load ${startLoad.join(' ')}; running now: ${JSON.stringify(startBusy)}`);
  log(`generating ${RUNS + (opt['no-warmup'] ? 0 : 1)} never-seen tracks in ${dir} …`);
  const tracks = [];
  if (!opt['no-warmup']) tracks.push(await makeTrack(dir, -1));
  for (let i = 0; i < RUNS; i++) tracks.push(await makeTrack(dir, i));

  const server = await startServer(
    tracks.map((t) => t.file),
    { chunkSeconds: CHUNK, cacheDir, timeoutMs: 60_000 },
  );
  cleanups.push(() => server.stop());
  log(`sonance serve at ${server.url} (pid ${server.child.pid}, chunk ${CHUNK} s)`);
  const list = await (await fetch(new URL('api/tracks', server.url))).json();
  const trackIds = {};
  const durations = {};
  for (const t of tracks) {
    const hit = list.find((x) => x.title === t.title) ?? list.find((x) => String(x.title).includes(t.title));
    if (!hit) throw new Error(`server does not list ${t.title}: ${JSON.stringify(list.map((x) => x.title))}`);
    trackIds[t.title] = hit.id;
    durations[t.title] = hit.duration_s;
  }
  const presets = await (await fetch(new URL('api/presets', server.url))).json();
  const available = presets.filter((p) => p.available !== false).map((p) => p.name);
  if (!available.includes(START_PRESET)) throw new Error(`preset ${START_PRESET} is not available (available: ${available.join(', ')})`);
  const other = available.find((p) => p !== START_PRESET);
  let switchPlan;
  if (opt.switch === 'preset' || (opt.switch === 'auto' && other)) {
    if (!other) throw new Error('--switch preset: no other preset is available');
    switchPlan = { kind: 'preset', value: other, from: START_PRESET };
  } else {
    switchPlan = { kind: 'intensity', value: 50, from: 100, preset: START_PRESET };
  }
  log(`presets available: ${available.join(', ')}; switch plan: ${JSON.stringify(switchPlan)}`);

  const ref = await startReferenceServer(refDir, REF_HTML);
  cleanups.push(() => ref.close());
  const browser = await launch();
  cleanups.push(() => browser.close());
  const context = browser.context;
  // Every new tab starts with the bench's preset at 100 % intensity (the switch stores 50 %).
  await startIn(context, START_PRESET);
  // The e2e launcher opens one blank tab; keep it (closing the last tab ends the context).

  const ctx = { context, server, refUrl: ref.url, refDir, switchPlan, trackIds, durations };
  let warmup = null;
  const runs = [];
  for (const t of tracks) {
    const label = t.title === 'bench-warmup' ? 'warm-up' : `run ${runs.length + 1}/${RUNS}`;
    const r = await oneRun(ctx, t, label);
    const brief = (x) => (typeof x === 'number' ? Math.round(x) : '×');
    log(
      `${label} ${t.title} (${t.kind}, ${r.seconds} s): cold ${brief(r.cold?.advancedMs)}/${brief(r.cold?.playingMs)} ms, cached ${brief(r.cached?.advancedMs)}/${brief(
        r.cached?.playingMs,
      )}, seek ${brief(r.seek?.advancedMs)}, switch appended ${brief(r.switch?.appendMs)} heard ${brief(r.switch?.heardMs)}, reference ${brief(r.reference?.transcodeMs)} + ${brief(
        r.reference?.playingMs,
      )} ms; load ${r.load1}`,
    );
    if (label === 'warm-up') warmup = r;
    else runs.push(r);
  }

  const { table, summary } = report(runs);
  const endLoad = loadavg();
  const load1 = loadSamples.map((s) => s.load1);
  const busyUnion = {};
  for (const s of loadSamples) for (const [k, v] of Object.entries(s.busy)) busyUnion[k] = Math.max(busyUnion[k] ?? 0, v);
  let chromiumVersion = '';
  try {
    chromiumVersion = (await run(CHROMIUM, ['--version'])).stdout.trim();
  } catch {}
  const ffmpegVersion = (await run('ffmpeg', ['-version'])).stdout.split('\n')[0];
  let gitHead = '';
  try {
    gitHead = (await run('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'])).stdout.trim();
  } catch {}
  const env = {
    date: new Date().toISOString(),
    runs: RUNS,
    chunkSeconds: CHUNK,
    startPreset: START_PRESET,
    switchPlan,
    presetsAvailable: available,
    sonanceBin: SONANCE_BIN,
    sonanceBinMtime: new Date(bin.mtimeMs).toISOString(),
    gitHead,
    chromium: chromiumVersion,
    ffmpeg: ffmpegVersion,
    node: process.version,
    cpus: (await import('node:os')).cpus().length,
    loadavgStart: startLoad,
    loadavgEnd: endLoad,
    load1During: Object.fromEntries(Object.entries(stats(load1)).map(([k, v]) => [k, typeof v === "number" && k !== "n" ? Math.round(v * 100) / 100 : v])),
    runningProcessesAtStart: startBusy,
    runningProcessesSeen: busyUnion,
    wallSeconds: Math.round((performance.now() - T0) / 1000),
  };

  const out = [];
  out.push(`## Streaming benchmark — ${RUNS} runs, ${CHUNK} s chunks, start preset \`${START_PRESET}\`, switch: ${switchPlan.kind === 'preset' ? `preset → \`${switchPlan.value}\`` : 'intensity 100 % → 50 %'}`);
  out.push('');
  out.push(table);
  out.push('');
  out.push(
    `Medians over runs on never-seen tracks (one generated 3–5 min 44.1 kHz FLAC per run; reference on the same file in the same run). ` +
      `Times in ms. ${chromiumVersion}, headless; ${ffmpegVersion.replace(/ Copyright.*/, '')}; ${env.cpus} CPUs; ` +
      `load average (1 min) during the run: median ${env.load1During.median ?? '?'} (min ${env.load1During.min ?? '?'}, max ${env.load1During.max ?? '?'}); ` +
      `start ${startLoad.join(' ')}, end ${endLoad.join(' ')}.`,
  );
  out.push('');
  out.push('```json');
  out.push(JSON.stringify({ env, summary, warmup, runs }, null, 2));
  out.push('```');
  process.stdout.write(out.join('\n') + '\n');
  if (opt.json) await writeFile(opt.json, JSON.stringify({ env, summary, warmup, runs }, null, 2));
}

main()
  .then(async () => {
    await cleanup();
    clearTimeout(watchdog);
    process.exit(0);
  })
  .catch(async (e) => {
    log(`failed: ${e?.stack ?? e}`);
    await cleanup();
    process.exit(1);
  });
