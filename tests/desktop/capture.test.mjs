// The join test in the real web view (WebKitGTK), the way joins are heard: pink noise played
// through MSE in `bypass`, the page's audio recorded on `window.__sonance.tap`, aligned with
// the source and scored by the same code as the Chromium test (tests/e2e/joins.mjs): the error
// in ±20 ms around each join must stay within 3 dB of the coding error inside the chunks, and
// the element must not stall (`waiting`) at a join.
//
// The recorder is a ScriptProcessorNode: the page's CSP (script-src 'self') forbids the blob:
// module an AudioWorklet would need, and WebDriver cannot bypass CSP. A recorder that missed
// callbacks would show as a dropout, so the test also checks that the captured length matches
// the time that passed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import { decodeF32 } from '../e2e/helpers.mjs';
import { analyseJoins, joinTimes, xcorrLag } from '../e2e/joins.mjs';
import { ARTIFACTS, ffmpeg, launchApp, makeHome, tempDir, until } from './driver.mjs';

const CHUNK = 5;
const SECONDS = 30;
const MAX_JOIN_DB = 3;
/** Joins scored at least (a join whose surroundings the web view disturbed is not scored). */
const MIN_SCORED = 6;

function mono(x) {
  const out = new Float64Array(x.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = (x[2 * i] + x[2 * i + 1]) / 2;
  return out;
}

/** Capture index minus source index for the `w` samples of source at `srcPos`, searched ±`span`. */
function offsetAt(src, cap, srcPos, guess, span = 600, w = 2048) {
  const a = srcPos + guess;
  if (srcPos - span < 0 || a < 0 || a + w > cap.length || srcPos + w + span > src.length) return null;
  const lag = xcorrLag(src.subarray(srcPos - span, srcPos + w + span), cap.subarray(a, a + w));
  return guess + span - lag;
}

/**
 * Where the captured audio jumps in time around each join (an inserted or lost stretch):
 * offsets every 50 ms over ±0.5 s. Returns per join `{ time, steady, stepAt }`, `stepAt` the
 * source time between the two windows where the offset changed.
 */
function timeSteps(src, cap, joins, rate, guess) {
  return joins.map((time) => {
    const pts = [];
    for (let dt = -0.5; dt <= 0.45; dt += 0.05) {
      const pos = Math.round((time + dt) * rate);
      const off = offsetAt(src, cap, pos, guess);
      if (off !== null) pts.push({ t: time + dt, off });
    }
    // A step lasts; a single window that disagrees with both neighbours is a mis-estimate.
    const same = (i, j) => j < 0 || j >= pts.length || Math.abs(pts[i].off - pts[j].off) <= 2;
    for (let i = 1; i < pts.length; i++) {
      if (!same(i, i - 1) && same(i, i + 1) && same(i - 1, i - 2)) {
        // Narrow it down with 21 ms windows every 5 ms: the step lies between the last window
        // still at the old offset and the end of the first one at the new.
        const [before, after] = [pts[i - 1].off, pts[i].off];
        let lastOld = pts[i - 1].t;
        let firstNew = pts[i].t;
        for (let u = pts[i - 1].t; u <= pts[i].t; u += 0.005) {
          const off = offsetAt(src, cap, Math.round(u * rate), before, 600, 1024);
          if (off !== null && Math.abs(off - before) <= 2) lastOld = u;
          if (off !== null && Math.abs(off - after) <= 2 && u > lastOld) {
            firstNew = u;
            break;
          }
        }
        return { time, steady: false, stepAt: [lastOld, firstNew + 1024 / rate], offsets: pts.map((p) => p.off) };
      }
    }
    return { time, steady: pts.length > 10, stepAt: null, offset: pts.length ? pts[0].off : null };
  });
}

// Opt-in (SONANCE_WEBKIT_CAPTURE=1): in 2 of the last 3 full runs (CI included) the capture
// stepped by 128 frames at several places away from the joins (WebKitGTK's bridge from the
// media element to Web Audio, or the main-thread recorder falling behind), and alignment
// failed — a measurement that fails for reasons that are not ours cannot gate CI. Joins
// scored when it aligns: −0.6 … −8.8 dB. Making it reliable is open work (see issue 5).
const OPT_IN = process.env.SONANCE_WEBKIT_CAPTURE === '1';

test('capture in WebKitGTK: joins of pink noise through bypass are within 3 dB of coding noise', { timeout: 180_000, skip: !OPT_IN && 'opt-in: SONANCE_WEBKIT_CAPTURE=1 (unreliable capture in WebKitGTK, see the comment above)' }, async (t) => {
  const dir = await tempDir('sonance-capture-');
  const file = join(dir, 'pinkjoin.flac');
  // Pink noise band-limited to 8 kHz: the engine (44.1 → 48 kHz) and the web view (48 kHz →
  // its output rate) resample with their own filters, whose fractional-sample delays would
  // otherwise bury the alignment in high-frequency error.
  await ffmpeg(['-f', 'lavfi', '-i', `anoisesrc=color=pink:duration=${SECONDS}:amplitude=0.3:seed=7,lowpass=f=8000:poles=2,lowpass=f=8000:poles=2`, '-ac', '2', '-ar', '44100', file]);
  // Start on the file, paused, in bypass: the app restores its last track from settings.json.
  const home = await makeHome();
  await mkdir(dirname(home.settingsFile), { recursive: true });
  await writeFile(home.settingsFile, JSON.stringify({ preset: 'bypass', intensity: 1, volume: 1, last_track: file, last_position_s: 0 }));
  const app = await launchApp({ home, args: ['--chunk-seconds', String(CHUNK)] });
  try {
    const ready = await until(async () => {
      const s = await app.state();
      return s && s.title === 'pinkjoin' && s.preset === 'bypass' && s.duration > 0 ? s : null;
    }, { what: 'the pink noise to be loaded in bypass' });
    assert.equal(ready.audioPaused, true);

    const rate = await app.execAsync(async () => {
      const s = window.__sonance;
      if (!(await s.audioReady())) throw new Error('the element is not routed through Web Audio');
      const ctx = s.context;
      const node = ctx.createScriptProcessor(4096, 2, 2);
      const mute = ctx.createGain();
      mute.gain.value = 0;
      const rec = { parts: [], frames: 0, started: 0, waits: 0, playingSeen: false };
      node.onaudioprocess = (e) => {
        const l = e.inputBuffer.getChannelData(0);
        const r = e.inputBuffer.getChannelData(1);
        const out = new Float32Array(l.length * 2);
        for (let i = 0; i < l.length; i++) {
          out[2 * i] = l[i];
          out[2 * i + 1] = r[i];
        }
        if (!rec.started) rec.started = performance.now();
        rec.parts.push(out);
        rec.frames += l.length;
      };
      s.audio.addEventListener('playing', () => (rec.playingSeen = true));
      s.audio.addEventListener('waiting', () => rec.playingSeen && rec.waits++);
      s.tap.connect(node);
      node.connect(mute).connect(ctx.destination);
      window.__rec = Object.assign(rec, { node });
      return ctx.sampleRate;
    });
    t.diagnostic(`AudioContext at ${rate} Hz`);

    await app.click('#play');
    await until(async () => {
      const s = await app.state();
      return s.currentTime >= SECONDS - 0.3 || (s.audioPaused && s.currentTime > SECONDS - 1);
    }, { timeoutMs: 60_000, everyMs: 250, what: 'the track to play to its end' });
    const stats = await app.exec(() => {
      const r = window.__rec;
      r.node.onaudioprocess = null;
      return { parts: r.parts.length, frames: r.frames, ms: performance.now() - r.started, waits: r.waits };
    });
    t.diagnostic(`captured ${(stats.frames / rate).toFixed(2)} s in ${(stats.ms / 1000).toFixed(2)} s, waiting events: ${stats.waits}`);
    // A recorder that misses callbacks would look like a dropout in the music.
    assert.ok(Math.abs(stats.frames / rate - stats.ms / 1000) < 0.5, 'the recorder kept up with the audio clock');

    const pieces = [];
    for (let i = 0; i < stats.parts; i += 32) {
      const b64 = await app.exec(
        (a, b) => {
          const parts = window.__rec.parts.slice(a, b);
          const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
          let o = 0;
          for (const p of parts) {
            all.set(p, o);
            o += p.length;
          }
          const bytes = new Uint8Array(all.buffer);
          let s = '';
          for (let j = 0; j < bytes.length; j += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(j, j + 0x8000));
          return btoa(s);
        },
        i,
        i + 32,
      );
      pieces.push(Buffer.from(b64, 'base64'));
    }
    const buf = Buffer.concat(pieces);
    const captured = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    const source = await decodeF32(file, rate);
    // Kept for a look when the scores surprise (48 kHz or the context's rate, f32le stereo).
    await mkdir(ARTIFACTS, { recursive: true });
    await writeFile(join(ARTIFACTS, 'capture-webkitgtk.f32'), captured);

    // Chunk joins and the span joins inside each chunk, where one encoder hands over to the next.
    const joins = joinTimes(CHUNK, SECONDS);
    // WebKitGTK's bridge from the media element to Web Audio now and then inserts one render
    // quantum (128 frames) when the machine is busy, anywhere in the track. A time step at a
    // join is a dropout of ours and fails; a join with a step elsewhere in its ±0.5 s cannot
    // be scored by sample-accurate alignment and is left out (at least MIN_SCORED are scored).
    const first = analyseJoins(source, captured, [], rate);
    const steps = timeSteps(mono(source), mono(captured), joins, rate, first.globalOffset);
    const scorable = [];
    const local = new Map();
    for (const st of steps) {
      if (st.steady) {
        scorable.push(st.time);
        local.set(st.time, st.offset);
        continue;
      }
      const [a, b] = st.stepAt;
      t.diagnostic(`join at ${st.time} s: the capture jumps in time between ${a.toFixed(2)} and ${b.toFixed(2)} s (offsets ${st.offsets.join(' ')})`);
      assert.ok(!(a <= st.time + 0.005 && st.time - 0.005 <= b), `a dropout or insertion at the join at ${st.time} s`);
    }
    // The steps add up over the track: search each join's alignment far enough from the global
    // one to reach its local offset, and check that it was found.
    const search = 16 + Math.max(0, ...[...local.values()].map((o) => Math.abs(o - first.globalOffset)));
    const r = analyseJoins(source, captured, scorable, rate, { aroundS: 0.5, search });
    for (const j of r.joins) assert.ok(Math.abs(j.offset - local.get(j.time)) <= 3, `join at ${j.time} s aligned at its local offset (${j.offset} vs ${local.get(j.time)})`);
    for (const j of r.joins) t.diagnostic(`join at ${j.time.toFixed(2)} s: ${j.db.toFixed(1)} dB over the 99th percentile of coding error (offset ${j.offset})`);
    t.diagnostic(`aligned SNR ${r.snrDb.toFixed(1)} dB, gain ${r.gain.toFixed(3)}`);
    assert.equal(stats.waits, 0, 'no waiting while playing through the joins');
    assert.ok(r.snrDb > 3, `capture aligned with the source (SNR ${r.snrDb.toFixed(1)} dB)`);
    assert.ok(r.joins.length >= MIN_SCORED, `at least ${MIN_SCORED} of ${joins.length} joins scored (${r.joins.length})`);
    for (const j of r.joins) assert.ok(j.db <= MAX_JOIN_DB, `join at ${j.time} s: ${j.db.toFixed(1)} dB > ${MAX_JOIN_DB} dB`);
  } finally {
    await app.close();
  }
});
