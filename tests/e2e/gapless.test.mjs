// Gapless track changes: three tracks cut from ONE continuous signal at non-packet-aligned
// sample points play through the page on one MediaSource timeline. The element's output is
// captured (AudioWorklet on __sonance.tap), each side of every track change is aligned with
// the continuous source on its own, and the offsets must agree within 1 ms (no gap, no
// overlap); the error around the change is scored like a chunk join (joins.mjs).
// Measured sensitivity (Chromium 156): a track started 5 ms early on the timeline reads
// −71 and −9 samples here (an overlap cuts media); one started 5 ms late reads 0 (Chromium
// plays decoded audio back to back across a small timestamp gap, WebKit stalls at > 83 ms),
// so the timeline itself is checked too: each track must start exactly where the last ends.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdir, rm } from 'node:fs/promises';
import { decodeF32, ffmpeg, launch, openApp, readCapture, sleep, startServer, tempDir, RECORDER } from './helpers.mjs';
import { analyseJoins } from './joins.mjs';

const RATE = 48000;
// Cut points in samples of the source (8.0137 s and 17.0213 s: not on the 20 ms grid).
const CUTS = [0, 384_658, 817_022, 1_104_000];
const TITLES = ['Gap One', 'Gap Two', 'Gap Three'];
const MAX_JOIN_DB = 3;
let dir, server, browser, full;

async function waitForLibrary(url, n) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const scan = await (await fetch(new URL('api/library/scan', url))).json().catch(() => null);
    const res = await fetch(new URL('api/tracks?limit=10', url));
    if (scan && !scan.running && Number(res.headers.get('X-Total-Count')) === n) return res.json();
    if (Date.now() > deadline) assert.fail(`the library did not list ${n} tracks`);
    await sleep(200);
  }
}

before(async () => {
  dir = await tempDir();
  const music = join(dir, 'music');
  await mkdir(music, { recursive: true });
  full = join(dir, 'full.flac');
  const seconds = CUTS.at(-1) / RATE;
  // Pink noise and a slow sweep: continuous across the cuts, and unambiguous to align.
  await ffmpeg([
    '-f', 'lavfi', '-i', `anoisesrc=color=pink:duration=${seconds}:amplitude=0.25:seed=11:sample_rate=${RATE}`,
    '-f', 'lavfi', '-i', `aevalsrc=0.15*sin(2*PI*(200*t+40*t*t)):s=${RATE}:d=${seconds}`,
    '-filter_complex', '[0][1]amix=inputs=2:normalize=0,aformat=sample_fmts=s32:channel_layouts=stereo',
    '-ar', String(RATE), full,
  ]);
  await Promise.all(
    TITLES.map((title, i) =>
      ffmpeg([
        '-i', full,
        '-af', `atrim=start_sample=${CUTS[i]}:end_sample=${CUTS[i + 1]},asetpts=PTS-STARTPTS`,
        '-metadata', `title=${title}`, '-metadata', 'artist=Tester', '-metadata', 'album=Gapless',
        '-metadata', `track=${i + 1}/3`,
        join(music, `${i + 1}.flac`),
      ]),
    ),
  );
  server = await startServer([music], { chunkSeconds: 5 });
  // The recorder worklet comes from a blob: URL, which the page's CSP forbids.
  browser = await launch({ context: { bypassCSP: true } });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});


test('gapless: an album cut from one signal plays with no gap, overlap or click at the track changes', { timeout: 150_000 }, async () => {
  const listed = await waitForLibrary(server.url, 3);
  const ids = TITLES.map((t) => String(listed.find((x) => x.title === t).id));
  for (const [i, id] of ids.entries()) {
    const d = await (await fetch(new URL(`api/tracks/${id}`, server.url))).json();
    const exact = (CUTS[i + 1] - CUTS[i]) / RATE;
    console.log(`# track ${i + 1}: duration_s ${d.duration_s} (exact ${exact.toFixed(9)}), chunks ${d.chunk_count} × ${d.chunk_seconds} s`);
    assert.ok(Math.abs(d.duration_s - exact) < 0.5 / RATE, `track ${i + 1} duration is exact to the sample`);
  }

  const { page, consoleErrors } = await openApp(browser.context, server.url);
  await page.waitForFunction(() => window.__sonance.core?.remote === true, null, { timeout: 10_000 });
  const rate = await page.evaluate(async (code) => {
    const s = window.__sonance;
    const url = URL.createObjectURL(new Blob([code], { type: 'text/javascript' }));
    await s.context.resume?.();
    const ctx = s.context;
    await ctx.audioWorklet.addModule(url);
    const node = new AudioWorkletNode(ctx, 'e2e-recorder', { numberOfInputs: 1, numberOfOutputs: 1, channelCount: 2, channelCountMode: 'explicit' });
    const sink = ctx.createGain();
    sink.gain.value = 0;
    s.tap.connect(node);
    node.connect(sink).connect(ctx.destination);
    window.__rec = { parts: [], node, stopped: false };
    node.port.onmessage = (e) => {
      if (e.data === 'stopped') window.__rec.stopped = true;
      else window.__rec.parts.push(e.data);
    };
    // The core's current track, as it changes.
    window.__seq = [];
    setInterval(() => {
      const st = s.core.state();
      const cur = st.index === null ? null : (st.tracks[st.index] ?? null);
      if (window.__seq.at(-1) !== cur) window.__seq.push(cur);
    }, 20);
    return ctx.sampleRate;
  }, RECORDER);
  assert.ok(rate === 44100 || rate === 48000, `the AudioContext runs at the device's rate (${rate} Hz)`);

  await page.evaluate((tracks) => window.__sonance.core.send({ type: 'play_now', tracks, index: 0 }), ids);
  // Route the element through Web Audio once it plays.
  const routed = await page.evaluate(() => window.__sonance.audioReady());
  assert.ok(routed, 'the element is routed through Web Audio');
  // The end of the queue: the core stops (its current track becomes null) and the element stops.
  await page.waitForFunction(
    () => {
      const st = window.__sonance.core.state();
      return window.__seq.length > 1 && st.status === 'stopped' && window.__sonance.audio.paused;
    },
    null,
    { timeout: 90_000, polling: 200 },
  );
  await page.waitForTimeout(300);
  await page.evaluate(() => window.__rec.node.port.postMessage('stop'));
  await page.waitForFunction(() => window.__rec.stopped);

  const info = await page.evaluate(() => {
    const ev = window.__events;
    const p = ev.find((e) => e.ev === 'playing');
    const st = window.__sonance.state();
    return {
      waits: ev.filter((e) => e.ev === 'waiting' && p && e.at > p.at),
      ended: ev.filter((e) => e.ev === 'ended').length,
      seq: window.__seq,
      advances: st.advances,
      appends: st.appends.map((a) => ({ chunk: a.chunk, ws: a.windowStart, we: a.windowEnd, purpose: a.purpose })),
      removes: st.removes,
      core: window.__sonance.core.state(),
    };
  });
  console.log(`# core track sequence: ${JSON.stringify(info.seq)}`);
  console.log(`# advances: ${JSON.stringify(info.advances.map((a) => ({ from: a.from, to: a.to, start: a.start, at: a.currentTime })))}`);

  const captured = await readCapture(page);
  const source = await decodeF32(full, rate);
  if (process.env.GAPLESS_DUMP) {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(process.env.GAPLESS_DUMP, 'captured.f32'), Buffer.from(captured.buffer, captured.byteOffset, captured.byteLength));
    await writeFile(join(process.env.GAPLESS_DUMP, 'source.f32'), Buffer.from(source.buffer, source.byteOffset, source.byteLength));
  }

  // Each track change: the join score (±20 ms against the error within ±1 s), and each side
  // aligned on its own (windows [J − 1.05, J − 0.05] and [J + 0.05, J + 1.05]).
  const changes = [CUTS[1] / RATE, CUTS[2] / RATE];
  const results = [];
  for (const J of changes) {
    const join = analyseJoins(source, captured, [J], rate).joins[0];
    const left = analyseJoins(source, captured, [J - 0.55], rate, { aroundS: 0.5 }).joins[0];
    const right = analyseJoins(source, captured, [J + 0.55], rate, { aroundS: 0.5 }).joins[0];
    assert.ok(join && left && right, `the capture covers the track change at ${J.toFixed(4)} s`);
    const gap = right.offset - left.offset;
    results.push({ J, gap, db: join.db });
    console.log(
      `# track change at ${J.toFixed(4)} s: gap ${gap} samples at ${rate} Hz (left offset ${left.offset}, right ${right.offset}), join ${join.db.toFixed(1)} dB over the 99th percentile of coding error`,
    );
  }
  const whole = analyseJoins(source, captured, [4, 12.5, 20], rate);
  console.log(`# aligned SNR ${whole.snrDb.toFixed(1)} dB; chunk-interior scores ${whole.joins.map((j) => j.db.toFixed(1)).join(', ')} dB`);

  assert.deepEqual(info.seq.filter((x) => x !== null), ids, 'the core follows the tracks 1 → 2 → 3');
  assert.equal(info.seq.at(-1), null, 'the end of the queue stops (no current track)');
  assert.equal(info.core.status, 'stopped');
  assert.deepEqual(
    info.advances.map((a) => [a.from, a.to]),
    [[ids[0], ids[1]], [ids[1], ids[2]]],
    'both track changes happened on the timeline (no reload)',
  );
  assert.ok(Math.abs(info.advances[0].start - CUTS[1] / RATE) < 1e-6, 'track 2 starts on the timeline where track 1 ends');
  assert.ok(Math.abs(info.advances[1].start - CUTS[2] / RATE) < 1e-6, 'track 3 starts on the timeline where track 2 ends');
  assert.deepEqual(info.waits, [], 'no waiting across the track changes');
  assert.equal(info.ended, 1, 'the element ended once, at the end of the queue');
  assert.ok(whole.snrDb > 3, `capture aligned with the source (SNR ${whole.snrDb.toFixed(1)} dB)`);
  const tol = Math.round(rate / 1000);
  for (const r of results) {
    assert.ok(Math.abs(r.gap) <= tol, `track change at ${r.J.toFixed(4)} s: gap ${r.gap} samples > ${tol} (1 ms)`);
    // No click: each track starts with a lead-in of silence written before it (pre-roll the
    // append window trims), so its first 6.5 ms are not lost to the encoder's start-up.
    assert.ok(r.db <= MAX_JOIN_DB, `track change at ${r.J.toFixed(4)} s: ${r.db.toFixed(1)} dB > ${MAX_JOIN_DB} dB over coding noise`);
  }
  assert.deepEqual(consoleErrors.filter((e) => !/404|Failed to load resource/.test(e)), []);
  await page.close();
});

test('gapless: a queue change that changes the next track breaks the chain; the new next one is chained', { timeout: 90_000 }, async () => {
  const listed = await waitForLibrary(server.url, 3);
  const ids = TITLES.map((t) => String(listed.find((x) => x.title === t).id));
  const { page } = await openApp(browser.context, server.url);
  await page.waitForFunction(() => window.__sonance.core?.remote === true, null, { timeout: 10_000 });
  await page.evaluate((tracks) => window.__sonance.core.send({ type: 'play_now', tracks, index: 0 }), ids);
  // Track 2 is chained (pre-appended) long before track 1 ends (8 s < the 20 s lead).
  await page.waitForFunction((id) => window.__sonance.state().next?.id === id && window.__sonance.state().next?.state === 'ready', ids[1], { timeout: 20_000, polling: 50 });
  const t0 = await page.evaluate(() => window.__sonance.player.currentTime);
  assert.ok(t0 < 7, `chained well before the end (at ${t0.toFixed(2)} s)`);
  // "Play next" track 3: what follows track 1 changes.
  await page.evaluate((id) => window.__sonance.core.send({ type: 'play_next', tracks: [id] }), ids[2]);
  await page.waitForFunction((id) => window.__sonance.state().next?.id === id && window.__sonance.state().next?.state === 'ready', ids[2], { timeout: 20_000, polling: 50 });
  await page.waitForFunction(() => window.__sonance.state().advances.length >= 1, null, { timeout: 30_000, polling: 50 });
  const st = await page.evaluate(() => ({ s: window.__sonance.state(), core: window.__sonance.core.state(), events: window.__events.slice() }));
  console.log(`# removes: ${JSON.stringify(st.s.removes.filter((r) => r.reason === 'chain'))}`);
  assert.ok(st.s.removes.some((r) => r.reason === 'chain' && Math.abs(r.start - CUTS[1] / RATE) < 1e-6), 'the chained track 2 was removed from the timeline');
  assert.deepEqual(st.s.advances.map((a) => [a.from, a.to]), [[ids[0], ids[2]]], 'track 1 went on into track 3 on the timeline');
  await page.waitForFunction((id) => {
    const c = window.__sonance.core.state();
    return c.tracks[c.index] === id;
  }, ids[2], { timeout: 5000 });
  const p = st.events.find((e) => e.ev === 'playing');
  assert.deepEqual(st.events.filter((e) => e.ev === 'waiting' && p && e.at > p.at), [], 'no waiting');
  await page.evaluate(() => window.__sonance.core.send({ type: 'stop' }));
  await page.close();
});

test('gapless: repeat one chains the same track again on the timeline', { timeout: 60_000 }, async () => {
  const listed = await waitForLibrary(server.url, 3);
  const id = String(listed.find((x) => x.title === TITLES[2]).id);
  const { page } = await openApp(browser.context, server.url);
  await page.waitForFunction(() => window.__sonance.core?.remote === true, null, { timeout: 10_000 });
  await page.evaluate(async (tid) => {
    await window.__sonance.core.send({ type: 'set_repeat', mode: 'one' });
    await window.__sonance.core.send({ type: 'play_now', tracks: [tid], index: 0 });
  }, id);
  await page.waitForFunction(() => window.__sonance.state().advances.length >= 1, null, { timeout: 30_000, polling: 50 });
  await page.waitForFunction(() => window.__sonance.player.currentTime > 0.5, null, { timeout: 10_000, polling: 50 });
  const st = await page.evaluate(() => ({ s: window.__sonance.state(), core: window.__sonance.core.state(), events: window.__events.slice() }));
  await page.evaluate(async () => {
    await window.__sonance.core.send({ type: 'set_repeat', mode: 'off' });
    await window.__sonance.core.send({ type: 'stop' });
  });
  assert.deepEqual(st.s.advances.map((a) => [a.from, a.to]), [[id, id]]);
  assert.ok(Math.abs(st.s.base - (CUTS[3] - CUTS[2]) / RATE) < 1e-6, `the second pass starts where the first ended (${st.s.base})`);
  assert.equal(st.core.tracks[st.core.index], id);
  assert.equal(st.core.status, 'playing');
  const p = st.events.find((e) => e.ev === 'playing');
  assert.deepEqual(st.events.filter((e) => e.ev === 'waiting' && p && e.at > p.at), [], 'no waiting');
  assert.equal(st.events.filter((e) => e.ev === 'ended').length, 0, 'no end, no reload');
  await page.close();
});
