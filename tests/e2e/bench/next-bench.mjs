#!/usr/bin/env node
// Next → sound of the next track (issue 11), on the real page with the player core that
// `sonance serve` hosts, against the same click in a plain <audio>.
//
//   npm --prefix ui run build && node tests/e2e/bench/next-bench.mjs [--runs 10] [--preset adaptive]
//
// Each run has two never-seen tracks, A and B (one album, tracks 1 and 2, 60–90 s, 44.1 kHz
// FLAC; pink noise or the demo track pitched). Phases, each in a new tab:
//   cold    click A's title (the queue becomes the Songs view, B after A); once A has played
//           1 s, click the Next button → B sounds: the first 4 ms poll at which the player's
//           track is B and its position > 0 while playing (also → the `playing` event of B).
//           B was never rendered.
//   cached  the same in a new tab: A and B's first chunk are in the server's cache.
//   reference  a plain <audio> page (tiny node server on 127.0.0.1) with A and B transcoded
//           by ffmpeg to Opus/WebM beforehand: Play → A; after 1 s a "Next" button sets
//           src = B and play() → `playing` / currentTime > 0.
// Prints a Markdown table and the raw figures as JSON (stdout); progress on stderr. Every
// wait is capped; a watchdog ends everything after --max-minutes.
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO, ffmpeg, launch, startServer, tempDir, trackButton, sleep } from '../helpers.mjs';
import { harness, startReferenceServer, startIn, stats, cpuTicks } from './harness.mjs';

const { values: opt } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    preset: { type: 'string', default: 'adaptive' },
    'phase-timeout': { type: 'string', default: '30' },
    'max-minutes': { type: 'string', default: '' },
  },
});
const RUNS = Math.max(1, Number(opt.runs) | 0);
const PHASE_MS = Number(opt['phase-timeout']) * 1000;
const MAX_MIN = opt['max-minutes'] ? Number(opt['max-minutes']) : 3 + 1.5 * RUNS;
const { log, cleanups, run } = harness('next', MAX_MIN * 60_000);

const loadavg = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
const loads = [];
setInterval(() => loads.push(loadavg()), 5000).unref();

/** Wait (≤ 10 s) until the server has used no CPU for 300 ms (no render left running). */
async function quiesce(pid) {
  let last = cpuTicks(pid);
  let calm = 0;
  for (const t0 = Date.now(); Date.now() - t0 < 10_000; ) {
    await sleep(150);
    const now = cpuTicks(pid);
    calm = now - last <= 1 ? calm + 1 : 0;
    last = now;
    if (calm >= 2) return;
  }
}

async function makePair(dir, i) {
  const tag = i < 0 ? 'nb-warm' : `nb-${String(i + 1).padStart(2, '0')}`;
  const out = [];
  for (const [k, side] of [
    [1, 'a'],
    [2, 'b'],
  ]) {
    const title = `${tag}-${side}`;
    const file = join(dir, `${title}.flac`);
    const seconds = 60 + ((Math.abs(i + 2) * 13 + k * 7) % 31);
    const meta = ['-map_metadata', '-1', '-metadata', `title=${title}`, '-metadata', `artist=${tag}`, '-metadata', `album=${tag}`, '-metadata', `track=${k}`];
    const enc = ['-ar', '44100', '-ac', '2', '-sample_fmt', 's16', ...meta, file];
    if ((i + k) % 2 === 0) {
      const rate = (1 + 0.011 * (i + 2 + k)).toFixed(3);
      await ffmpeg(['-stream_loop', '-1', '-i', join(REPO, 'assets/demo.flac'), '-t', String(seconds), '-af', `asetrate=44100*${rate},aresample=44100,volume=0.7`, ...enc]);
    } else {
      await ffmpeg(['-f', 'lavfi', '-i', `anoisesrc=color=pink:duration=${seconds}:amplitude=0.25:seed=${2000 + 2 * i + k}`, ...enc]);
    }
    out.push({ title, file });
  }
  return { tag, a: out[0], b: out[1] };
}

// ------------------------------------------------------------------ reference page
const REF_HTML = `<!doctype html><meta charset="utf-8"><title>reference</title>
<button id="play" type="button">Play</button><button id="next" type="button">Next</button><audio id="a" preload="none"></audio>
<script>
const a = document.getElementById('a');
const q = new URLSearchParams(location.search);
document.getElementById('play').addEventListener('click', () => { a.src = q.get('a'); a.play().catch((e) => (window.__playError = String(e))); });
document.getElementById('next').addEventListener('click', () => { a.src = q.get('b'); a.play().catch((e) => (window.__playError = String(e))); });
</script>`;

// ------------------------------------------------------------------ in-page probes
/** Timestamps the click on #next (capture phase), then B's `playing` and B's first advance. */
function nextProbe(bId) {
  const s = window.__sonance;
  const a = s.audio;
  const r = (window.__benchNext = { clickAt: null, trackAt: null, playingAt: null, soundAt: null });
  const isB = () => String(s.player.state().trackId) === bId;
  window.addEventListener(
    'click',
    (e) => {
      if (r.clickAt !== null || !e.target.closest?.('#next')) return;
      r.clickAt = performance.now();
      const id = setInterval(() => {
        const now = performance.now();
        if (r.trackAt === null && s.player.track && String(s.player.track.id) === bId) r.trackAt = now;
        if (r.trackAt !== null && r.soundAt === null && !a.paused && s.player.currentTime > 0.002) r.soundAt = now;
        if (r.soundAt !== null || now - r.clickAt > 60_000) clearInterval(id);
      }, 4);
    },
    { capture: true },
  );
  a.addEventListener('playing', () => {
    if (r.clickAt !== null && r.playingAt === null && isB()) r.playingAt = performance.now();
  });
}

/** The reference page's probe: click on #next → `playing` and currentTime > 0 of B. */
function refNextProbe() {
  const a = document.getElementById('a');
  const r = (window.__benchNext = { clickAt: null, playingAt: null, soundAt: null });
  window.addEventListener(
    'click',
    (e) => {
      if (r.clickAt !== null || e.target.id !== 'next') return;
      r.clickAt = performance.now();
      const id = setInterval(() => {
        if (r.soundAt === null && a.src.includes('-b.webm') && !a.paused && a.currentTime > 0) r.soundAt = performance.now();
        if (r.soundAt !== null || performance.now() - r.clickAt > 60_000) clearInterval(id);
      }, 4);
    },
    { capture: true },
  );
  a.addEventListener('playing', () => r.clickAt !== null && r.playingAt === null && (r.playingAt = performance.now()));
}

// ------------------------------------------------------------------ phases
async function sonanceNext(context, server, pair, ids) {
  const page = await context.newPage();
  try {
    await page.goto(server.url);
    await page.waitForFunction(() => window.__sonance !== undefined && document.querySelectorAll('#track-list tr').length > 0, null, { timeout: PHASE_MS });
    await page.waitForTimeout(300);
    await trackButton(page, pair.a.title).click({ timeout: PHASE_MS });
    await page.waitForFunction((a) => String(window.__sonance.player.state().trackId) === a && window.__sonance.player.currentTime >= 1, ids.a, { timeout: PHASE_MS, polling: 50 });
    // The queue the click made must have B next (the Songs view's order).
    const core = await page.evaluate(() => window.__sonance.core?.state());
    const next = core && core.index !== null ? core.tracks[core.index + 1] : undefined;
    if (String(next) !== ids.b) throw new Error(`the track after ${pair.a.title} in the queue is ${next}, not ${ids.b}`);
    await page.waitForFunction(() => !document.getElementById('next').disabled, null, { timeout: PHASE_MS });
    await page.evaluate(nextProbe, ids.b);
    await page.locator('#next').click({ timeout: PHASE_MS });
    await page.waitForFunction(() => window.__benchNext.soundAt !== null, null, { timeout: PHASE_MS, polling: 50 });
    await page.waitForTimeout(100);
    const r = await page.evaluate(() => window.__benchNext);
    const st = await page.evaluate(() => window.__sonance.state());
    // A Resource Timing entry appears when the response ends (a streamed chunk: after B sounds).
    const req = await page
      .waitForFunction(
        ([b, t]) => performance.getEntriesByType('resource').find((e) => e.name.includes(`/api/tracks/${b}/chunks/`) && e.startTime >= t - 1)?.toJSON(),
        [ids.b, r.clickAt],
        { timeout: 10_000, polling: 50 },
      )
      .then((h) => h.jsonValue())
      .catch(() => null);
    return {
      soundMs: r.soundAt - r.clickAt,
      playingMs: r.playingAt !== null ? r.playingAt - r.clickAt : null,
      trackMs: r.trackAt !== null ? r.trackAt - r.clickAt : null,
      chunkRequestMs: req ? req.startTime - r.clickAt : null,
      chunkFirstByteMs: req && req.responseStart > 0 ? req.responseStart - req.startTime : null,
      gaplessAdvances: st.advances.length,
      error: st.error,
    };
  } finally {
    await page.close().catch(() => {});
  }
}

async function referenceNext(context, refUrl) {
  const page = await context.newPage();
  try {
    await page.goto(refUrl);
    await page.waitForTimeout(300);
    await page.locator('#play').click({ timeout: PHASE_MS });
    await page.waitForFunction(() => window.__playError || document.getElementById('a').currentTime >= 1, null, { timeout: PHASE_MS, polling: 50 });
    await page.evaluate(refNextProbe);
    await page.locator('#next').click({ timeout: PHASE_MS });
    await page.waitForFunction(() => window.__playError || (window.__benchNext.soundAt !== null && window.__benchNext.playingAt !== null), null, { timeout: PHASE_MS, polling: 50 });
    const r = await page.evaluate(() => ({ ...window.__benchNext, err: window.__playError ?? null }));
    if (r.err) throw new Error(`reference play(): ${r.err}`);
    return { soundMs: r.soundAt - r.clickAt, playingMs: r.playingAt - r.clickAt };
  } finally {
    await page.close().catch(() => {});
  }
}

async function main() {
  const dir = await tempDir('sonance-next-bench-');
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const refDir = join(dir, 'ref');
  const cacheDir = join(dir, 'cache');
  await ffmpeg(['-version']).catch(() => {});
  await import('node:fs/promises').then((f) => Promise.all([f.mkdir(refDir), f.mkdir(cacheDir)]));
  log(`load ${readFileSync('/proc/loadavg', 'utf8').trim()}; generating ${RUNS + 1} pairs…`);
  const pairs = [await makePair(dir, -1)];
  for (let i = 0; i < RUNS; i++) pairs.push(await makePair(dir, i));
  for (const p of pairs) {
    for (const t of [p.a, p.b]) {
      await ffmpeg(['-i', t.file, '-ar', '48000', '-c:a', 'libopus', '-b:a', '160k', '-f', 'webm', join(refDir, `${t.title}.webm`)]);
    }
  }
  const files = pairs.flatMap((p) => [p.a.file, p.b.file]);
  const server = await startServer(files, { chunkSeconds: 30, cacheDir, timeoutMs: 60_000 });
  cleanups.push(() => server.stop());
  const list = await (await fetch(new URL('api/tracks', server.url))).json();
  const idOf = (title) => {
    const hit = list.find((x) => x.title === title);
    if (!hit) throw new Error(`server does not list ${title}`);
    return String(hit.id);
  };
  const ref = await startReferenceServer(refDir, REF_HTML);
  cleanups.push(() => ref.close());
  const browser = await launch();
  cleanups.push(() => browser.close());
  const context = browser.context;
  await startIn(context, opt.preset);

  const runs = [];
  for (const [k, pair] of pairs.entries()) {
    const label = k === 0 ? 'warm-up' : `run ${k}/${RUNS}`;
    const ids = { a: idOf(pair.a.title), b: idOf(pair.b.title) };
    const r = { label, pair: pair.tag };
    for (const [name, f] of [
      ['cold', () => sonanceNext(context, server, pair, ids)],
      ['cached', () => sonanceNext(context, server, pair, ids)],
      ['reference', () => referenceNext(context, `${ref.url}ref.html?a=${pair.a.title}.webm&b=${pair.b.title}.webm`)],
    ]) {
      await quiesce(server.child.pid);
      try {
        r[name] = await f();
      } catch (e) {
        r[name] = { error: String(e?.message ?? e).split('\n')[0] };
        log(`${label} ${name} failed: ${r[name].error}`);
      }
    }
    r.load1 = loadavg();
    const b = (x) => (typeof x === 'number' ? Math.round(x) : '×');
    log(`${label}: Next → sound cold ${b(r.cold?.soundMs)} ms, cached ${b(r.cached?.soundMs)} ms, reference ${b(r.reference?.soundMs)} ms; load ${r.load1}`);
    if (k > 0) runs.push(r);
  }

  const rows = [
    ['Next → sound, cold', 'click on Next → B playing with position > 0 (B never rendered)', (r) => r.cold?.soundMs],
    ['Next → `playing`, cold', 'click on Next → B\'s `playing` event', (r) => r.cold?.playingMs],
    ['  of which: → B\'s chunk 0 request', 'click → request start (core round trip, track detail, MediaSource)', (r) => r.cold?.chunkRequestMs],
    ['  of which: chunk 0 first byte', 'request start → response start (server render of the first span)', (r) => r.cold?.chunkFirstByteMs],
    ['Next → sound, cached', 'same, a new tab, B\'s chunk 0 cached', (r) => r.cached?.soundMs],
    ['  of which: → B\'s chunk 0 request', '', (r) => r.cached?.chunkRequestMs],
    ['Reference: plain <audio>', 'click on Next (src = B\'s Opus file; play()) → currentTime > 0', (r) => r.reference?.soundMs],
    ['Reference: plain <audio>', 'click → `playing`', (r) => r.reference?.playingMs],
  ];
  const fmt = (x) => (x === null ? '—' : String(Math.round(x)));
  const lines = ['| figure | definition | median (ms) | min | max | n |', '| --- | --- | ---: | ---: | ---: | ---: |'];
  const summary = {};
  for (const [fig, def, get] of rows) {
    const s = stats(runs.map(get));
    summary[`${fig} ${def}`] = s;
    lines.push(`| ${fig} | ${def} | ${fmt(s.median)} | ${fmt(s.min)} | ${fmt(s.max)} | ${s.n}/${runs.length} |`);
  }
  const l = Object.fromEntries(Object.entries(stats(loads)).map(([k, v]) => [k, typeof v === 'number' && k !== 'n' ? Math.round(v * 100) / 100 : v]));
  process.stdout.write(
    `## Next → sound — ${RUNS} runs, preset \`${opt.preset}\`\n\n${lines.join('\n')}\n\nload average (1 min) during the run: median ${l.median} (min ${l.min}, max ${l.max}).\n\n` +
      '```json\n' +
      JSON.stringify({ date: new Date().toISOString(), preset: opt.preset, load: l, runs }, null, 2) +
      '\n```\n',
  );
}

run(main);
