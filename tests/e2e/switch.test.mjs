// Preset and intensity changes heard at once in Chromium (issue 13, ui/src/switch.ts): while
// playing, a change is loaded on a silent deck at the playhead and the outputs cross-fade;
// the player switches its own rendering behind the fade and takes over again, in step.
// What is heard is captured after every output's gate (the sum the listener hears) and
// compared with the server's own renderings of the two presets, decoded apart by ffmpeg.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { rm, writeFile } from 'node:fs/promises';
import { audio, decodeF32, launch, openApp, readCapture, startServer, tempDir, trackButton, waitForTime, RECORDER } from './helpers.mjs';
import { xcorrLag } from './joins.mjs';

const CHUNK = 10;
let dir, server, browser, track;

before(async () => {
  dir = await tempDir();
  const file = join(dir, 'switchpink60.flac');
  await audio.pink(file, 60);
  server = await startServer([file], { chunkSeconds: CHUNK });
  const list = await (await fetch(new URL('api/tracks', server.url))).json();
  track = list.find((t) => String(t.title).includes('switchpink60'));
  browser = await launch({ context: { bypassCSP: true } });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/**
 * Record what is heard: the player's gate and every deck's gate (decks are made on the
 * first switch: connected as they appear) into one recorder.
 */
async function startRecording(page) {
  return page.evaluate(async (code) => {
    const s = window.__sonance;
    if (!(await s.audioReady())) throw new Error('the element is not routed through Web Audio');
    const ctx = s.context;
    await ctx.audioWorklet.addModule(URL.createObjectURL(new Blob([code], { type: 'text/javascript' })));
    const node = new AudioWorkletNode(ctx, 'e2e-recorder', { numberOfInputs: 1, numberOfOutputs: 1, channelCount: 2, channelCountMode: 'explicit' });
    const sink = ctx.createGain();
    sink.gain.value = 0;
    node.connect(sink).connect(ctx.destination);
    const seen = new Set();
    const hook = () => {
      for (const out of [s.player.output, ...s.keySwitch.outputs]) {
        if (out.gate && !seen.has(out)) {
          seen.add(out);
          out.gate.connect(node);
        }
      }
    };
    hook();
    const timer = setInterval(hook, 5);
    window.__rec = { parts: [], node, stopped: false, timer, hooked: () => seen.size };
    node.port.onmessage = (e) => {
      if (e.data === 'stopped') window.__rec.stopped = true;
      else window.__rec.parts.push(e.data);
    };
    return ctx.sampleRate;
  }, RECORDER);
}

async function stopRecording(page) {
  await page.evaluate(() => {
    clearInterval(window.__rec.timer);
    window.__rec.node.port.postMessage('stop');
  });
  await page.waitForFunction(() => window.__rec.stopped, null, { timeout: 5000 });
  return readCapture(page);
}

/** The server's rendering of chunk `n` in `preset`, decoded by ffmpeg at `rate` (its own decoder, not the page's). */
async function rendering(id, n, preset, intensity, rate) {
  const q = `preset=${encodeURIComponent(preset)}&intensity=${intensity}`;
  const get = async (path) => {
    const res = await fetch(new URL(`api/tracks/${id}/${path}?${q}`, server.url));
    assert.equal(res.status, 200, `${path} ${preset}`);
    return Buffer.from(await res.arrayBuffer());
  };
  const file = join(dir, `ref-${preset}-${intensity}-${n}.webm`);
  await writeFile(file, Buffer.concat([await get('init.webm'), await get(`chunks/${n}.webm`)]));
  return decodeF32(file, rate);
}

function mono(x, from = 0, to = x.length >> 1) {
  const out = new Float64Array(Math.max(0, to - from));
  for (let i = 0; i < out.length; i++) out[i] = (x[2 * (from + i)] + x[2 * (from + i) + 1]) / 2;
  return out;
}

/**
 * The error of the capture's window [start, start + win) against `ref` at offset `off`
 * (capture index = ref index + off), relative to the capture's level, in dB: after the best
 * short filter (taps −2…+3, least squares), which absorbs a gain and a fractional-sample
 * delay (each output resamples the 48 kHz media to the context's rate at its own phase).
 * Low (≪ 0 dB) where the capture is that rendering.
 */
function errorDb(cap, ref, off, start, win) {
  const taps = [-2, -1, 0, 1, 2, 3];
  const m = taps.length;
  const R = Array.from({ length: m }, () => new Float64Array(m));
  const p = new Float64Array(m);
  let syy = 0;
  for (let n = start; n < start + win; n++) {
    const r = n - off;
    if (r - 3 < 0 || r + 2 >= ref.length) return NaN;
    const y = cap[n];
    syy += y * y;
    for (let i = 0; i < m; i++) {
      const xi = ref[r - taps[i]];
      p[i] += xi * y;
      for (let j = i; j < m; j++) R[i][j] += xi * ref[r - taps[j]];
    }
  }
  for (let i = 0; i < m; i++) for (let j = 0; j < i; j++) R[i][j] = R[j][i];
  // Solve R h = p (Gaussian elimination; a tiny ridge keeps it regular).
  const A = R.map((row, i) => [...row, p[i]]);
  for (let i = 0; i < m; i++) A[i][i] += 1e-9 * (R[i][i] + 1e-12);
  for (let c = 0; c < m; c++) {
    let piv = c;
    for (let r = c + 1; r < m; r++) if (Math.abs(A[r][c]) > Math.abs(A[piv][c])) piv = r;
    [A[c], A[piv]] = [A[piv], A[c]];
    for (let r = c + 1; r < m; r++) {
      const f = A[r][c] / A[c][c];
      for (let k = c; k <= m; k++) A[r][k] -= f * A[c][k];
    }
  }
  const h = new Float64Array(m);
  for (let i = m - 1; i >= 0; i--) {
    let v = A[i][m];
    for (let k = i + 1; k < m; k++) v -= A[i][k] * h[k];
    h[i] = v / A[i][i];
  }
  let explained = 0;
  for (let i = 0; i < m; i++) explained += h[i] * p[i];
  const e = (syy - explained) / (syy || 1e-30);
  return 10 * Math.log10(Math.max(e, 1e-12));
}

/**
 * The lag of `ref` for the capture around the window at `a` (a 100 ms excerpt, within
 * ±`range` of `off`), and the window's error there (dB, best of ±2 samples).
 */
function localMatch(cap, ref, off, a, win, range) {
  const pad = Math.round(0.04 * 44100);
  const s0 = Math.max(0, a - pad);
  const seg = cap.subarray(s0, a + win + pad);
  const lo = Math.max(0, s0 - off - range);
  const k = xcorrLag(ref.subarray(lo, s0 - off + seg.length + range), seg) + lo; // ref[k + i] ≈ seg[i]
  const lag = s0 - k - off;
  let db = Infinity;
  for (let d = -2; d <= 2; d++) db = Math.min(db, errorDb(cap, ref, off + lag + d, a, win));
  return { lag, db };
}

/** `waiting` events of the player's element once it first played. */
function waitsAfterStart(page) {
  return page.evaluate(() => {
    const ev = window.__events;
    const p = ev.find((e) => e.ev === 'playing');
    return ev.filter((e) => e.ev === 'waiting' && p && e.at > p.at);
  });
}

function rms(cap, a, b) {
  let s = 0;
  for (let i = a; i < b; i++) s += cap[i] * cap[i];
  return Math.sqrt(s / Math.max(1, b - a));
}

test('a preset change while playing: the new rendering from the switch on, no gap, no click, nothing stale', { timeout: 120_000 }, async (t) => {
  assert.ok(track, 'the server lists the test file');
  const { page, consoleErrors } = await openApp(browser.context, server.url, { preset: 'bypass' });
  const rate = await startRecording(page);
  await trackButton(page, track.title).click();
  await waitForTime(page, 3, 30_000);
  // The change, the way a user makes it; its moment in capture samples: frames recorded so far.
  const change = await page.evaluate(() => {
    const sel = document.getElementById('preset');
    sel.focus();
    sel.value = 'warm';
    sel.dispatchEvent(new Event('change', { bubbles: true }));
    return { currentTime: window.__sonance.player.currentTime };
  });
  if (process.env.SWITCH_DEBUG) {
    await page.evaluate(() => {
      const s = window.__sonance;
      const t0 = performance.now();
      window.__gates = [];
      const id = setInterval(() => {
        window.__gates.push([Math.round(performance.now() - t0), s.player.output.gate.gain.value.toFixed(2), ...s.keySwitch.outputs.map((o) => o.gate.gain.value.toFixed(2)), s.audio.playbackRate.toFixed(3), ...s.keySwitch.deckPlayers.map((p) => p.audio.playbackRate.toFixed(3))].join(' '));
        if (performance.now() - t0 > 3000) clearInterval(id);
      }, 20);
    });
  }
  // Play on past the hand-back to the player (the deck idles) and a while after.
  await page.waitForFunction(() => window.__sonance.switchState().backs >= 1, null, { timeout: 15_000, polling: 50 });
  const settledAt = await page.evaluate(() => window.__sonance.player.currentTime);
  await waitForTime(page, Math.min(settledAt + 1.5, CHUNK - 0.5), 15_000);
  const captured = await stopRecording(page);
  const sw = await page.evaluate(() => window.__sonance.switchState());
  if (process.env.SWITCH_DEBUG) console.log('# gates', (await page.evaluate(() => window.__gates)).join(' | '));
  const st = await page.evaluate(() => window.__sonance.state());
  const t0 = sw.log.find((e) => e.what === 'change')?.at ?? 0;
  t.diagnostic(`switch log: ${sw.log.map((e) => `${Math.round(e.at - t0)}:${e.what}${e.deck ?? ''}${e.driftMs !== undefined ? `(${e.driftMs} ms)` : ''}${e.why ? `[${e.why}]` : ''}`).join(' ')}`);
  assert.equal(sw.fades, 1, 'heard through a deck');
  assert.equal(sw.heard, 'main', 'handed back to the player');
  assert.equal(st.key, 'warm@1');
  assert.ok(settledAt < CHUNK - 1, `the test stays within chunk 0 (${settledAt})`);

  const cap = mono(captured);
  const bypass = mono(await rendering(track.id, 0, 'bypass', 1, rate));
  const warm = mono(await rendering(track.id, 0, 'warm', 1, rate));
  // Where the capture sits on the renderings' time line: aligned on a second well before the change.
  let first = 0;
  while (first < cap.length && Math.abs(cap[first]) < 1e-4) first++;
  const exStart = first + Math.round(1.0 * rate);
  const ex = cap.subarray(exStart, exStart + (1 << 15));
  const off = exStart - xcorrLag(bypass, ex); // capture index = rendering index + off
  const changeAt = Math.round(change.currentTime * rate) + off;
  t.diagnostic(`rate ${rate}, capture ${(cap.length / rate).toFixed(2)} s, change at ${change.currentTime.toFixed(3)} s = capture ${(changeAt / rate).toFixed(3)} s`);

  // 20 ms windows from 0.5 s before the change to the end: which rendering each one is, at
  // which lag against the old rendering's time line (the outputs are in step to a few ms).
  const win = Math.round(rate * 0.02);
  const range = Math.round(rate * 0.04);
  const rows = [];
  for (let a = changeAt - Math.round(0.5 * rate); a + win + range < cap.length - Math.round(0.05 * rate); a += win) {
    const b = localMatch(cap, bypass, off, a, win, range);
    const w = localMatch(cap, warm, off, a, win, range);
    rows.push({ t: (a - changeAt) / rate, b: b.db, w: w.db, lag: w.lag, level: rms(cap, a, a + win) });
  }
  const isWarm = (r) => r.w < -20 && r.w < r.b - 6;
  const isBypass = (r) => r.b < -20 && r.b < r.w - 6;
  const firstWarm = rows.findIndex(isWarm);
  assert.ok(firstWarm > 0, 'the new rendering is heard');
  const heardMs = Math.round(rows[firstWarm].t * 1000);
  t.diagnostic(`new rendering heard from ${heardMs} ms after the change (20 ms windows)`);
  t.diagnostic(rows.slice(Math.max(0, firstWarm - 4), process.env.SWITCH_DEBUG ? 99 : firstWarm + 4).map((r) => `${Math.round(r.t * 1000)}: b ${r.b.toFixed(0)} w ${r.w.toFixed(0)}@${r.lag} level ${r.level.toFixed(3)}`).join(' | '));
  assert.ok(rows.slice(0, 25).every(isBypass), 'before the change: the old rendering');
  // The cross-fade: at most two windows between the two renderings.
  const fade = rows.slice(0, firstWarm).filter((r) => !isBypass(r));
  assert.ok(fade.length <= 2, `a short cross-fade (${fade.length} windows of neither)`);
  // From the switch on, only the new rendering: nothing stale (the deck, the hand-back, the player's own).
  // The page may play another encoding of the new rendering than the reference decoded here
  // (a span split at the switch point is encoded from another start: the same audio, other
  // coding noise, up to −16 dB against the reference near the pieces' joins): after the
  // switch, "the new rendering" is closer to it than to the old one by 3 dB.
  const isNew = (r) => r.w < -12 && r.w < r.b - 3;
  const after = rows.slice(firstWarm);
  const stale = after.filter((r) => !isNew(r));
  // A window may straddle a fade (the deck's, the hand-back): at most one of neither per fade.
  assert.ok(stale.length <= 2, `the new rendering throughout after the switch: ${stale.map((r) => `${Math.round(r.t * 1000)} ms: b ${r.b.toFixed(1)} w ${r.w.toFixed(1)} dB`).join(', ')}`);
  assert.ok(stale.every((r) => !isBypass(r)), 'nothing of the old rendering after the switch');
  // In time: the new rendering where the old one would have been, to the deck's start (a
  // skip or repeat inside the fade between two renderings: switch.ts FADE_TO_S, 12 ms), and
  // the hand-back to the player (the same rendering on both sides) to 6 ms (measured: 1–4 ms).
  const lags = [];
  for (const r of after.filter(isWarm)) if (lags.at(-1) !== r.lag) lags.push(r.lag);
  t.diagnostic(`lags of the new rendering against the old one's time line (samples at ${rate} Hz): ${lags.join(' → ')}`);
  assert.ok(Math.abs(lags[0]) <= Math.round(rate * 0.015), `the deck in time with the old rendering (${lags[0]} samples)`);
  for (let i = 1; i < lags.length; i++) assert.ok(Math.abs(lags[i] - lags[i - 1]) <= Math.round(rate * 0.006), `hand-back in step (${lags[i - 1]} → ${lags[i]} samples)`);
  // No gap: in 10 ms windows from 0.3 s before the change on, the level never drops below
  // half of the quieter of the two renderings there (an equal-power fade between them
  // stays above the quieter one).
  const w10 = Math.round(rate * 0.01);
  const low = [];
  for (let a = changeAt - Math.round(0.3 * rate); a + w10 < cap.length - w10; a += w10) {
    const floor = 0.5 * Math.min(rms(bypass, a - off, a - off + w10), rms(warm, a - off, a - off + w10));
    const x = rms(cap, a, a + w10);
    if (x < floor) low.push(`${((a - changeAt) / rate).toFixed(2)} s: ${x.toFixed(3)} < ${floor.toFixed(3)}`);
  }
  assert.deepEqual(low, [], 'no drop in level');
  // No click: no sample step larger than the renderings' own largest ones over the same time.
  const maxStep = (x, a, b) => {
    let m = 0;
    for (let i = Math.max(1, a); i < Math.min(b, x.length); i++) m = Math.max(m, Math.abs(x[i] - x[i - 1]));
    return m;
  };
  const from = changeAt - Math.round(0.3 * rate);
  const own = Math.max(maxStep(bypass, from - off, cap.length - off), maxStep(warm, from - off, cap.length - off));
  const heardStep = maxStep(cap, from, cap.length);
  t.diagnostic(`largest sample step: ${heardStep.toFixed(3)} heard, ${own.toFixed(3)} in the renderings`);
  assert.ok(heardStep <= own * 1.25, 'no click');
  assert.deepEqual(await waitsAfterStart(page), [], 'no stall');
  assert.deepEqual(consoleErrors, []);
  await page.close();
});

test('50 changes in a row while playing: no stall, no error, the last one is what is heard', { timeout: 120_000 }, async (t) => {
  assert.ok(track, 'the server lists the test file');
  const { page, consoleErrors } = await openApp(browser.context, server.url, { preset: 'bypass' });
  await page.evaluate(() => window.__sonance.audioReady());
  await trackButton(page, track.title).click();
  await waitForTime(page, 1, 30_000);
  const presets = (await (await fetch(new URL('api/presets', server.url))).json()).filter((p) => p.available !== false && !p.name.startsWith('original')).map((p) => p.name);
  assert.ok(presets.length >= 2, `presets to change between (${presets.join(', ')})`);
  // Presets from the selector and intensities from the slider (some dragged through other
  // values first), as a user's quick clicks, drags and key presses make them: 40–160 ms apart.
  const plan = [];
  for (let i = 0; i < 50; i++) {
    // Every other intensity change is the end of a drag: the slider passes through values first.
    plan.push(
      i % 3 === 2
        ? { kind: 'intensity', value: [20, 55, 80, 100, 35][i % 5], gap: 40 + ((i * 37) % 120), drag: i % 2 ? [90, 70, 60, 45, 30].slice(0, 2 + (i % 4)) : [] }
        : { kind: 'preset', value: presets[(i * 7 + 1) % presets.length], gap: 40 + ((i * 53) % 120) },
    );
  }
  await page.evaluate(async (plan) => {
    for (const step of plan) {
      const el = document.getElementById(step.kind === 'preset' ? 'preset' : 'intensity');
      el.focus();
      for (const v of step.drag ?? []) {
        el.value = String(v);
        el.dispatchEvent(new Event('input', { bubbles: true }));
        await new Promise((r) => setTimeout(r, 60));
      }
      el.value = String(step.value);
      el.dispatchEvent(new Event('input', { bubbles: true }));
      el.dispatchEvent(new Event('change', { bubbles: true }));
      await new Promise((r) => setTimeout(r, step.gap));
    }
  }, plan);
  const last = { preset: [...plan].reverse().find((s) => s.kind === 'preset').value, intensity: [...plan].reverse().find((s) => s.kind === 'intensity').value / 100 };
  const want = `${last.preset}@${Math.round(last.intensity * 100) / 100}`;
  // Settles: the player renders the last choice at its playhead and is heard again.
  await page.waitForFunction(
    (want) => {
      const s = window.__sonance;
      const sw = s.switchState();
      const ps = s.player.policy.state();
      return sw.heard === 'main' && sw.decks.every((d) => d.phase === 'idle') && ps.key === want && !ps.switching && ps.staleBefore === null;
    },
    want,
    { timeout: 30_000, polling: 50 },
  );
  const st = await page.evaluate(() => window.__sonance.state());
  const sw = await page.evaluate(() => window.__sonance.switchState());
  const counts = {};
  for (const e of sw.log) counts[e.what] = (counts[e.what] ?? 0) + 1;
  t.diagnostic(`switch log: ${JSON.stringify(counts)}; ${sw.fades} fades to a deck, ${sw.backs} hand-backs; the player's fetches: ${st.fetches.length}`);
  assert.equal(st.key, want, 'the last choice is what the player renders');
  assert.equal(await page.evaluate(() => document.getElementById('preset').value), last.preset);
  assert.equal(st.error, null);
  assert.equal(st.paused, false);
  // Heard: the player's output is up, every deck's down.
  const gates = await page.evaluate(() => [window.__sonance.player.output.gate.gain.value, ...window.__sonance.keySwitch.outputs.map((o) => o.gate.gain.value)]);
  assert.equal(gates[0], 1, 'the player is heard');
  assert.ok(gates.slice(1).every((g) => g === 0), `the decks are silent (${gates})`);
  assert.ok(sw.decks.length <= 2, 'two decks at most');
  const waits = await waitsAfterStart(page);
  if (waits.length) {
    const w = waits[0].at;
    const near = (x) => Math.abs(x.at - w) < 1500;
    t.diagnostic(`stall at ${waits[0].t.toFixed(3)} s: appends ${JSON.stringify(st.appends.filter(near).map((a) => [Math.round(a.at - w), a.key, a.purpose, a.windowStart.toFixed(2), a.windowEnd.toFixed(2), a.part, a.currentTime.toFixed(2)]))} removes ${JSON.stringify(st.removes.filter(near).map((r) => [Math.round(r.at - w), r.start.toFixed(2), r.end, r.reason]))} switch ${JSON.stringify(sw.log.filter(near).map((e) => [Math.round(e.at - w), e.what, e.deck, e.why]))}`);
  }
  assert.deepEqual(waits, [], 'no stall');
  // The last choice is what is heard: the player's media at the playhead is of that key (its
  // last appends), and the playhead moves.
  const t1 = await page.evaluate(() => window.__sonance.player.currentTime);
  const covering = st.appends.filter((a) => a.windowStart <= st.currentTime && st.currentTime < a.windowEnd);
  assert.equal(covering.at(-1)?.key, want, 'the media at the playhead is the last choice');
  await page.waitForTimeout(500);
  assert.ok((await page.evaluate(() => window.__sonance.player.currentTime)) > t1 + 0.3, 'still playing');
  assert.deepEqual(consoleErrors, []);
  await page.close();
});
