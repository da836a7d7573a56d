#!/usr/bin/env node
// Switch benchmark (issue 13): how soon is a preset or intensity change heard while playing,
// against the A/B flip (issue 5) measured the same way in the same run?
//
//   node tests/e2e/bench/switch-bench.mjs [--runs 10] [--chunk-seconds 30] [--preset adaptive] [--json FILE]
//
// Headless Debian Chromium against `sonance serve` (fresh cache). Every run plays a track the
// server has never rendered (one generated 60–75 s 44.1 kHz FLAC per run, plus a warm-up),
// starting in --preset (default `adaptive`, the product's default; `bypass` adds the track's
// analysis, done once per track on its first processed rendering, to the first change) at
// 100 %, in a new tab, and measures on it in turn:
//   preset      the Preset select → `warm` (never rendered on this track before), the pointer
//               over the select 0.6 s before (as a user's; it loads the track on a deck)
//   intensity   the Intensity slider 100 → 50 % (focus + input + change, as a drag's end)
//   a/b flip    the A/B button, once the A/B deck is in step (pointer over the button first)
// "Heard" is measured at the page's output, as tests/e2e/ab.test.mjs does: AnalyserNodes
// after the gate of every output (the player's, the switch decks', the A/B deck's), polled
// every ~4 ms; heard = the first poll at which an output other than the old one is up
// (RMS > 30 % of the old one's level before the change) and the old one is silent (< 2 %).
// When no deck takes over within 3 s (the switch fell back to the player's own switch), the
// figure is the playhead reaching the new rendering's switch point instead (the old bench's
// "heard"), and the run says so. Prints a Markdown table and the raw figures as JSON.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify, parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { harness, startIn, stats } from './harness.mjs';
import { REPO, CHROMIUM, ffmpeg, launch, startServer, tempDir, trackButton, sleep } from '../helpers.mjs';

const run = promisify(execFile);
const { values: opt } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    'chunk-seconds': { type: 'string', default: '30' },
    json: { type: 'string', default: '' },
    preset: { type: 'string', default: 'adaptive' },
    'max-minutes': { type: 'string', default: '' },
  },
});
const RUNS = Math.max(1, Number(opt.runs) | 0);
const CHUNK = Number(opt['chunk-seconds']);
const MAX_MIN = opt['max-minutes'] ? Number(opt['max-minutes']) : 3 + 1.5 * RUNS;
const PHASE_MS = 30_000;
/** What each run starts in (the product's default: adaptive); the change goes to `warm`. */
const START = opt.preset;
const { log, cleanups, run: runMain } = harness('switch-bench', MAX_MIN * 60_000);

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
const loads = [];
const loadTimer = setInterval(() => loads.push(loadavg()[0]), 5000);
loadTimer.unref();

async function makeTrack(dir, i) {
  const title = i < 0 ? 'switch-warmup' : `switch-${String(i + 1).padStart(2, '0')}`;
  const seconds = 60 + ((Math.abs(i + 1) * 7) % 16);
  const file = join(dir, `${title}.flac`);
  const meta = ['-map_metadata', '-1', '-metadata', `title=${title}`, '-metadata', 'artist=switch-bench'];
  const out = ['-ar', '44100', '-ac', '2', '-sample_fmt', 's16', ...meta, file];
  if ((i + 1) % 2 === 0) {
    const rate = (1 + 0.011 * (i + 3)).toFixed(3);
    await ffmpeg(['-stream_loop', '-1', '-i', join(REPO, 'assets/demo.flac'), '-t', String(seconds), '-af', `asetrate=44100*${rate},aresample=44100`, ...out]);
  } else {
    await ffmpeg(['-f', 'lavfi', '-i', `anoisesrc=color=pink:duration=${seconds}:amplitude=0.25:seed=${3000 + i}`, ...out]);
  }
  return { title, file };
}

/**
 * In the page: make a change (`step`: the preset select, the intensity slider or the A/B
 * button) and time when it is heard at the outputs. Resolves with the figures.
 */
function changeAndListen(step) {
  const s = window.__sonance;
  const ctx = s.context;
  const outs = () => [s.player.output, ...s.keySwitch.outputs, ...(s.ab.outputs[1] ? [s.ab.outputs[1]] : [])];
  const meters = new Map();
  const attach = () => {
    for (const o of outs()) {
      if (o.gate && !meters.has(o)) {
        const an = ctx.createAnalyser();
        an.fftSize = 256;
        o.gate.connect(an);
        meters.set(o, { an, buf: new Float32Array(256) });
      }
    }
  };
  const level = (o) => {
    const m = meters.get(o);
    if (!m) return 0;
    m.an.getFloatTimeDomainData(m.buf);
    let e = 0;
    for (const v of m.buf) e += v * v;
    return Math.sqrt(e / m.buf.length);
  };
  attach();
  const old = s.ab.outputs[1] && s.abState().heard === 'b' ? s.ab.outputs[1] : s.player.output;
  const oldKey = s.player.key;
  return new Promise((resolve) => {
    // Let the analysers fill, read the old output's level, then change.
    setTimeout(() => {
      const before = [];
      const pre = setInterval(() => before.push(level(old)), 4);
      setTimeout(() => {
        clearInterval(pre);
        const ref = before.sort((a, b) => a - b)[before.length >> 1] || 0;
        let at = 0;
        let heardAt = null;
        let by = null;
        let switchPoint = null;
        let reachedAt = null;
        const poll = setInterval(() => {
          attach();
          const now = performance.now();
          if (heardAt === null) {
            const lo = level(old);
            for (const o of meters.keys()) {
              if (o !== old && level(o) > 0.3 * ref && lo < 0.02 * ref) {
                heardAt = now;
                by = o === s.player.output ? 'player' : s.keySwitch.outputs.includes(o) ? 'switch deck' : 'a/b deck';
              }
            }
          }
          // The player's own switch: the playhead at the new rendering's switch point.
          if (switchPoint === null && step.kind !== 'ab') {
            const ap = s.player.state().appends.find((x) => x.at >= at && x.key !== oldKey);
            if (ap) switchPoint = ap.windowStart;
          }
          if (switchPoint !== null && reachedAt === null && s.player.currentTime >= switchPoint) reachedAt = now;
          if ((heardAt !== null && (reachedAt !== null || step.kind === 'ab')) || now - at > 8000) {
            clearInterval(poll);
            for (const m of meters.values()) m.an.disconnect();
            const sw = s.switchState();
            // The deck's first append of the new rendering: its first span rendered and in.
            const firsts = s.keySwitch.deckPlayers
              .flatMap((p) => p.state().appends)
              .filter((x) => x.at >= at && x.key !== oldKey)
              .map((x) => x.at - at);
            const fetches = s.keySwitch.deckPlayers
              .flatMap((p) => p.state().fetches)
              .filter((x) => x.at >= at && x.key !== oldKey)
              .map((x) => x.at - at);
            resolve({
              deckFetchMs: fetches.length ? Math.min(...fetches) : null,
              deckFirstAppendMs: firsts.length ? Math.min(...firsts) : null,
              heardMs: heardAt !== null && heardAt - at < 3000 ? heardAt - at : reachedAt !== null ? reachedAt - at : null,
              by: heardAt !== null && heardAt - at < 3000 ? by : 'player (own switch)',
              playerSwitchPointMs: reachedAt !== null ? reachedAt - at : null,
              refLevel: ref,
              log: step.kind === 'ab' ? null : sw.log.filter((e) => e.at >= at).map((e) => `${Math.round(e.at - at)}:${e.what}${e.deck ?? ''}`),
            });
          }
        }, 4);
        const el = document.getElementById(step.kind === 'preset' ? 'preset' : step.kind === 'intensity' ? 'intensity' : 'ab');
        el.focus();
        at = performance.now();
        if (step.kind === 'ab') el.click();
        else {
          el.value = String(step.value);
          el.dispatchEvent(new Event('input', { bubbles: true }));
          el.dispatchEvent(new Event('change', { bubbles: true }));
        }
      }, 100);
    }, 80);
  });
}

/** The switch is over: the player heard again, the decks idle, its new rendering at the playhead. */
async function settled(page) {
  await page.waitForFunction(
    () => {
      const s = window.__sonance;
      const sw = s.switchState();
      const ps = s.player.policy.state();
      return sw.heard === 'main' && sw.decks.every((d) => d.phase === 'idle') && !ps.switching && ps.staleBefore === null;
    },
    null,
    { timeout: PHASE_MS, polling: 50 },
  );
  await sleep(500);
}

async function oneRun(context, server, track, label) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const r = { label, track: track.title };
  try {
    await page.goto(server.url);
    await page.waitForFunction(() => window.__sonance !== undefined && document.querySelectorAll('#track-list tr').length > 0 && document.querySelectorAll('#preset option').length > 1, null, { timeout: PHASE_MS });
    await page.evaluate(() => window.__sonance.audioReady());
    await trackButton(page, track.title).click({ timeout: PHASE_MS });
    await page.waitForFunction(() => window.__sonance.player.currentTime >= 3, null, { timeout: PHASE_MS, polling: 50 });
    // The pointer goes to the control first, as a user's does (it loads the track on a deck).
    await page.hover('#preset');
    await sleep(600);
    r.preset = await page.evaluate(changeAndListen, { kind: 'preset', value: 'warm' });
    await settled(page);
    await page.hover('#intensity');
    await sleep(600);
    r.intensity = await page.evaluate(changeAndListen, { kind: 'intensity', value: 50 });
    await settled(page);
    // A/B: reach for the control (its deck starts and gets in step), then flip.
    await page.hover('#ab');
    await page.waitForFunction(() => window.__sonance.abState().deck === 'in step', null, { timeout: PHASE_MS, polling: 50 });
    r.ab = await page.evaluate(changeAndListen, { kind: 'ab' });
    // 'waiting' events of the player's element since the track loaded (its start may count one).
    r.waiting = await page.evaluate(() => window.__sonance.state().waiting);
    r.errors = errors.slice(0, 3);
  } catch (e) {
    r.error = String(e?.message ?? e).split('\n')[0];
  } finally {
    await page.close().catch(() => {});
  }
  r.load1 = loadavg()[0];
  return r;
}

async function main() {
  const dir = await tempDir('sonance-switch-bench-');
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const startLoad = loadavg();
  log(`load ${startLoad.join(' ')}; generating ${RUNS + 1} never-seen tracks…`);
  const tracks = [await makeTrack(dir, -1)];
  for (let i = 0; i < RUNS; i++) tracks.push(await makeTrack(dir, i));
  const server = await startServer(
    tracks.map((t) => t.file),
    { chunkSeconds: CHUNK, cacheDir: join(dir, 'cache'), timeoutMs: 60_000 },
  );
  cleanups.push(() => server.stop());
  const browser = await launch();
  cleanups.push(() => browser.close());
  const context = browser.context;
  await startIn(context, START);
  // The core keeps the preset and intensity across tabs: each run starts from START at 100 %.
  const reset = async () => {
    for (const cmd of [{ type: 'set_preset', preset: START }, { type: 'set_intensity', intensity: 1 }]) {
      await fetch(new URL('api/player', server.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(cmd) }).catch(() => {});
    }
  };
  const runs = [];
  let warmup = null;
  for (const t of tracks) {
    const label = t.title === 'switch-warmup' ? 'warm-up' : `run ${runs.length + 1}/${RUNS}`;
    await reset();
    const r = await oneRun(context, server, t, label);
    const f = (x) => (typeof x?.heardMs === 'number' ? `${Math.round(x.heardMs)} ms (${x.by})` : '×');
    log(`${label} ${t.title}: preset ${f(r.preset)}, intensity ${f(r.intensity)}, a/b ${f(r.ab)}; load ${r.load1}${r.error ? `; error ${r.error}` : ''}`);
    if (label === 'warm-up') warmup = r;
    else runs.push(r);
  }
  const rows = [
    ['Preset change → heard', (r) => r.preset?.heardMs],
    ['Intensity change → heard', (r) => r.intensity?.heardMs],
    ['A/B flip → heard (reference)', (r) => r.ab?.heardMs],
    ['  preset: change → the deck asks for the new rendering', (r) => r.preset?.deckFetchMs],
    ['  preset: change → its first span in (deck append; server render + transfer)', (r) => r.preset?.deckFirstAppendMs],
    ['  intensity: change → its first span in', (r) => r.intensity?.deckFirstAppendMs],
    ['  preset: first span in → heard (the page: start, fade)', (r) => (r.preset?.heardMs != null && r.preset?.deckFirstAppendMs != null ? r.preset.heardMs - r.preset.deckFirstAppendMs : null)],
    ['  intensity: first span in → heard', (r) => (r.intensity?.heardMs != null && r.intensity?.deckFirstAppendMs != null ? r.intensity.heardMs - r.intensity.deckFirstAppendMs : null)],
    ['Preset change → the player at its own switch point (it waits 300 ms for more changes)', (r) => r.preset?.playerSwitchPointMs],
    ['Intensity change → the player at its own switch point (same)', (r) => r.intensity?.playerSwitchPointMs],
  ];
  const lines = ['| figure | median (ms) | min | max | n |', '| --- | ---: | ---: | ---: | ---: |'];
  const summary = {};
  for (const [name, get] of rows) {
    const s = stats(runs.map(get));
    summary[name] = s;
    const fmt = (x) => (x === null ? '—' : String(Math.round(x)));
    lines.push(`| ${name} | ${fmt(s.median)} | ${fmt(s.min)} | ${fmt(s.max)} | ${s.n}/${runs.length} |`);
  }
  const through = (k) => runs.filter((r) => r[k]?.by === 'switch deck').length;
  const l = stats(loads);
  let chromium = '';
  try {
    chromium = (await run(CHROMIUM, ['--version'])).stdout.trim();
  } catch {}
  const out = [
    `## Switch benchmark — ${RUNS} runs, ${CHUNK} s chunks, ${START} → warm`,
    '',
    lines.join('\n'),
    '',
    `Heard through a switch deck: preset ${through('preset')}/${runs.length}, intensity ${through('intensity')}/${runs.length}. ${chromium}, headless; load average (1 min) during the run: median ${l.median} (min ${l.min}, max ${l.max}); start ${startLoad.join(' ')}, end ${loadavg().join(' ')}.`,
    '',
    '```json',
    JSON.stringify({ summary, warmup, runs }, null, 2),
    '```',
  ];
  process.stdout.write(out.join('\n') + '\n');
  if (opt.json) await writeFile(opt.json, JSON.stringify({ summary, warmup, runs }, null, 2));
}

runMain(main);
