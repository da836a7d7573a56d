// One capture run of the desktop app, shared by the capture test (capture.test.mjs) and the
// dropout benchmark (bench/dropouts.mjs): pink noise played through MSE in `bypass` into a
// private PulseAudio null sink, the sink's monitor recorded (parec) and aligned with the
// source. What the page did meanwhile (its chunk requests and appends) comes back with it, so
// a dropout can be placed relative to chunk joins and renders.
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import { decodeF32 } from '../e2e/helpers.mjs';
import { analyseJoins } from '../e2e/joins.mjs';
import { ARTIFACTS, ffmpeg, launchApp, makeHome, startPulse, until } from './driver.mjs';

/** The sink's rate: the engine's fragments are 48 kHz Opus, so nothing resamples them on the way. */
export const RATE = 48000;

/**
 * Pink noise band-limited to 8 kHz, `seconds` long, at 44.1 kHz: the engine resamples it to
 * 48 kHz with its own filter, whose fractional-sample delay would otherwise bury the
 * alignment in high-frequency error. Pink noise is never exactly silent, so a stretch of
 * digital silence in the capture is a dropout for certain.
 */
export async function pinkNoise(file, seconds) {
  await ffmpeg(['-f', 'lavfi', '-i', `anoisesrc=color=pink:duration=${seconds}:amplitude=0.3:seed=7,lowpass=f=8000:poles=2,lowpass=f=8000:poles=2`, '-ac', '2', '-ar', '44100', file]);
  return file;
}

/**
 * Stretches of digital silence (both channels exactly 0 for at least 1 ms) between the
 * capture's first and last sound, as source times `[from, to]` (`offset`: capture index −
 * source index).
 */
export function dropouts(captured, offset, rate) {
  const n = captured.length / 2;
  const silent = (i) => captured[2 * i] === 0 && captured[2 * i + 1] === 0;
  let first = 0;
  while (first < n && silent(first)) first++;
  let last = n - 1;
  while (last > first && silent(last)) last--;
  const out = [];
  let start = -1;
  for (let i = first; i <= last + 1; i++) {
    if (i <= last && silent(i)) {
      if (start < 0) start = i;
    } else if (start >= 0) {
      if (i - start >= rate / 1000) out.push([(start - offset) / rate, (i - offset) / rate]);
      start = -1;
    }
  }
  return out;
}

/**
 * The page's clock (performance.now(), ms) → media time (s), from the appends made while
 * playing: the median of `at/1000 − currentTime` over appends with `currentTime` > 0.
 * `null` when no append was made while playing.
 */
export function mediaClock(appends) {
  const offs = appends.filter((a) => a.currentTime > 0.05).map((a) => a.at / 1000 - a.currentTime);
  if (!offs.length) return null;
  offs.sort((a, b) => a - b);
  const off = offs[Math.floor(offs.length / 2)];
  return (atMs) => atMs / 1000 - off;
}

/**
 * Play `file` (`seconds` long, cut in `chunk`-second chunks) from its start to its end in
 * the desktop app and capture what the sink played. `warm`: fetch every chunk through the
 * page before playing, so nothing renders while it plays. `env`: extra environment for the
 * app. Returns the capture, its alignment, the dropouts and the page's log.
 */
export async function captureRun({ file, seconds, chunk, title, warm = false, env = {}, capName = 'capture-webkitgtk.f32', diag = () => {} }) {
  // Start on the file, paused, in bypass: the app restores its last track from settings.json.
  const home = await makeHome();
  await mkdir(dirname(home.settingsFile), { recursive: true });
  await writeFile(home.settingsFile, JSON.stringify({ preset: 'bypass', intensity: 1, volume: 1, last_track: file, last_position_s: 0 }));
  const pulse = await startPulse({ rate: RATE });
  const app = await launchApp({ home, args: ['--chunk-seconds', String(chunk)], env: { ...pulse.env, ...env } });
  try {
    const ready = await until(async () => {
      const s = await app.state();
      return s && s.title === title && s.preset === 'bypass' && s.duration > 0 ? s : null;
    }, { what: `${title} to be loaded in bypass` });
    if (warm) await warmChunks(app, Math.ceil(seconds / chunk));
    await app.exec(() => {
      const s = window.__sonance;
      const rec = { waits: 0, playingSeen: false };
      s.audio.addEventListener('playing', () => (rec.playingSeen = true));
      s.audio.addEventListener('waiting', () => rec.playingSeen && rec.waits++);
      window.__rec = rec;
    });
    // Kept for a look when the scores surprise (f32le stereo at RATE).
    await mkdir(ARTIFACTS, { recursive: true });
    const capFile = join(ARTIFACTS, capName);
    const rec = await pulse.record(capFile);
    try {
      await app.click('#play');
      await until(async () => {
        const s = await app.state();
        return s.currentTime >= seconds - 0.3 || (s.audioPaused && s.currentTime > seconds - 1);
      }, { timeoutMs: 60_000 + seconds * 2000, everyMs: 250, what: 'the track to play to its end' });
    } finally {
      await rec.stop();
    }
    const waits = await app.exec(() => window.__rec.waits);
    const log = await app.exec(() => {
      const st = window.__sonance.state();
      return {
        appends: st.appends.map((a) => ({ at: a.at, currentTime: a.currentTime, chunk: a.chunk, part: a.part, purpose: a.purpose })),
        fetches: st.fetches.map((f) => ({ at: f.at, chunk: f.chunk, purpose: f.purpose })),
      };
    });
    diag(`waiting events: ${waits}, appends (chunk@currentTime): ${log.appends.filter((a) => a.part === 0).map((a) => `${a.chunk}@${a.currentTime.toFixed(2)}`).join(' ')}`);
    const buf = await readFile(capFile);
    const captured = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    const source = await decodeF32(file, RATE);
    const { globalOffset } = analyseJoins(source, captured, [], RATE);
    const gaps = dropouts(captured, globalOffset, RATE);
    return { ready, waits, captured, source, globalOffset, gaps, log, capturedS: captured.length / 2 / RATE };
  } finally {
    await app.close();
    await pulse.stop();
  }
}

/**
 * Fetch every chunk of the loaded track through the page, with the query its own first
 * request used, so the engine has them all (its memory cache) before playing.
 */
async function warmChunks(app, count) {
  const url = await until(
    () => app.exec(() => performance.getEntriesByType('resource').map((e) => e.name).find((n) => /\/chunks\/\d+\.webm/.test(n)) || null),
    { what: "the page's first chunk request" },
  );
  await app.execAsync(async (url, count) => {
    const base = new URL(url);
    base.searchParams.delete('at');
    for (let n = 0; n < count; n++) {
      const u = new URL(base);
      u.pathname = u.pathname.replace(/\/chunks\/\d+\.webm$/, `/chunks/${n}.webm`);
      const res = await fetch(u, { signal: AbortSignal.timeout(60_000) });
      if (!res.ok) throw new Error(`warming chunk ${n}: ${res.status}`);
      await res.arrayBuffer();
    }
  }, url, count);
}
