// The real app in the real web view: opens on the demo track, plays across a chunk join with
// audible output, switches rendering, saves a screenshot, and remembers its settings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';

import { launchApp, makeHome, measureRms, startPulse, until, sleep, windowTitles } from './driver.mjs';

const CHUNK = 5;

test('opens on the demo track, plays across a join, switches rendering, remembers settings', async (t) => {
  const home = await makeHome();
  // The app plays into a private PulseAudio null sink, where the test hears it.
  const pulse = await startPulse();
  let app = await launchApp({ home, args: ['--chunk-seconds', String(CHUNK)], env: pulse.env });
  try {
    // The window opens on the demo track, ready and paused.
    const ready = await until(async () => {
      const s = await app.state();
      return s && s.title && s.trackId !== null ? s : null;
    }, { what: 'the demo track to be loaded' });
    assert.equal(ready.mseSupported, true, 'WebKitGTK must play Opus in WebM (gstreamer1.0-plugins-bad)');
    assert.match(ready.nowTitle, /demo/i, `the player bar names the demo track (got "${ready.nowTitle}")`);
    assert.equal(ready.audioPaused, true, 'nothing plays before Play is pressed');
    // The window title (the X11 window's, not the document's) names the loaded track.
    await until(async () => (await windowTitles()).some((t) => /^Sonance Demo — .* · Sonance$/.test(t)), { what: 'the window title to show the track' });

    // Press Play (a real WebDriver click on the button).
    await app.click('#play');
    const playing = await until(async () => {
      const s = await app.state();
      return s.currentTime > 0.5 && !s.audioPaused ? s : null;
    }, { what: 'currentTime to advance after Play' });
    assert.equal(playing.error, null);

    // Audible: RMS of what the app plays into the sink.
    const level = await measureRms(pulse, 700);
    t.diagnostic(`RMS ${level.toFixed(4)} on the sink`);
    assert.ok(level > 0.01, `the element's audio reaches the sound server (RMS ${level})`);

    // Across the first join (chunk 0 → 1 at 5 s) without stalling: count `waiting` events from
    // shortly before the join (WebKitGTK may fire some while starting).
    const beforeJoin = await until(async () => {
      const s = await app.state();
      return s.currentTime > CHUNK - 2 ? s : null;
    }, { timeoutMs: 30_000, what: 'playback to approach the join' });
    const joined = await until(async () => {
      const s = await app.state();
      return s.currentTime > CHUNK + 1 ? s : null;
    }, { timeoutMs: 40_000, what: `playback past the join at ${CHUNK} s` });
    assert.ok(joined.appends.some((a) => a.chunk === 1), 'chunk 1 was appended');
    assert.equal(joined.waiting, beforeJoin.waiting, `no waiting event across the join (before: ${beforeJoin.waiting})`);
    const rmsAfterJoin = await measureRms(pulse, 500);
    assert.ok(rmsAfterJoin > 0.01, `still audible after the join (RMS ${rmsAfterJoin})`);


    // Another rendering: another available preset if there is one, else another intensity.
    const presets = await app.execAsync(() => window.__sonance.bridge.presets());
    const before = await app.state();
    const other = presets.find((p) => p.available !== false && p.name !== before.preset);
    let newKey;
    if (other) {
      newKey = `${other.name}@${before.intensity}`;
      await app.exec((name) => {
        const sel = document.getElementById('preset');
        sel.value = name;
        sel.dispatchEvent(new Event('change', { bubbles: true }));
      }, other.name);
    } else {
      newKey = `${before.preset}@0.5`;
      await app.exec(() => {
        const r = document.getElementById('intensity');
        r.value = '50';
        r.dispatchEvent(new Event('change', { bubbles: true }));
      });
    }
    t.diagnostic(`switching ${before.key} → ${newKey}`);
    const switched = await until(async () => {
      const s = await app.state();
      return s.appends.some((a) => a.key === newKey) ? s : null;
    }, { timeoutMs: 30_000, what: `a chunk rendered as ${newKey} to be appended` });
    assert.ok(switched.fetches.some((f) => f.key === newKey), 'the new rendering was fetched');
    const tAfter = switched.currentTime;
    await until(async () => (await app.state()).currentTime > tAfter + 1, { what: 'playback to go on after the switch' });
    assert.equal((await app.state()).error, null);

    // A/B with the B key: `original-matched` plays while the selector keeps the preset; B
    // again goes back to it. The preset's description is shown under the selector.
    const key = (k) => app.exec((k) => document.body.dispatchEvent(new KeyboardEvent('keydown', { key: k, bubbles: true, cancelable: true })), k);
    assert.ok((await app.exec(() => document.getElementById('preset-desc').textContent)).length > 3, 'the preset is described');
    await key('b');
    // The original at the chosen preset's loudness (`original-matched:CHOSEN`; bypass has none).
    const chosen = other ? other.name : before.preset;
    const abKey = `original-matched${chosen === 'bypass' ? '' : `:${chosen}`}@${switched.intensity}`;
    await until(async () => (await app.state()).appends.some((a) => a.key === abKey), { what: `B to play ${abKey}` });
    const ab = await app.exec(() => ({ pressed: document.getElementById('ab').getAttribute('aria-pressed'), preset: document.getElementById('preset').value }));
    assert.deepEqual(ab, { pressed: 'true', preset: chosen }, 'A/B on, the selector keeps the chosen preset');
    await key('b');
    await until(async () => {
      const s = await app.state();
      return s.key === newKey && s.appends.at(-1).key === newKey ? s : null;
    }, { what: `B again to go back to ${newKey}` });

    // No second A/B deck in WebKitGTK (it cannot follow the player there: ui/src/ab.ts).
    await app.exec(() => document.getElementById('ab').focus());
    assert.equal((await app.exec(() => window.__sonance.abState())).deck, 'disabled');

    // Volume: ↓ steps it down by 5 %, and it is a setting that survives the restart.
    await app.exec(() => {
      const v = document.getElementById('volume');
      v.value = '45';
      v.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await key('ArrowDown');
    assert.equal(await app.exec(() => document.getElementById('volume').value), '40', '↓ lowers the volume');

    // A clean screenshot of the main window while playing.
    await sleep(600);
    const shot = await app.screenshot('main-window.png');
    t.diagnostic(`screenshot: ${shot}`);

    // Pause so the position is saved at once, then close.
    await app.click('#play');
    await until(async () => (await app.state()).audioPaused, { what: 'pause' });
    const paused = await app.state();
    // The player core keeps volume, track and position (player.json beside the library).
    await until(async () => {
      const s = JSON.parse(await readFile(home.playerFile, 'utf8'));
      return Math.abs(s.volume - 0.4) < 1e-6 && Math.abs(s.position_s - paused.currentTime) < 1.5 ? s : null;
    }, { what: 'the player core to save volume 0.4 and the position' });
    await app.close();
    app = null;
    // The core's saved state is what the next start reads (not the web view's own storage):
    // change the volume in it while the app is closed.
    const saved = JSON.parse(await readFile(home.playerFile, 'utf8'));
    await writeFile(home.playerFile, JSON.stringify({ ...saved, volume: 0.3 }));

    // Restart: same folders, no files. Same track, same place, same rendering, the volume
    // from the file.
    app = await launchApp({ home, args: ['--chunk-seconds', String(CHUNK)], env: pulse.env });
    const restored = await until(async () => {
      const s = await app.state();
      return s && s.trackId !== null && s.currentTime > 0 ? s : null;
    }, { what: 'the last track to be restored' });
    assert.match(restored.nowTitle, /demo/i);
    assert.ok(Math.abs(restored.currentTime - paused.currentTime) < 1.5, `position restored (${restored.currentTime} vs ${paused.currentTime})`);
    assert.equal(restored.key, newKey, 'the rendering (preset@intensity) is restored');
    const volume = await app.exec(() => document.getElementById('volume').value);
    assert.equal(volume, '30', 'the volume comes from the core’s saved state');
    assert.equal(restored.audioPaused, true, 'a restored track waits for Play');
  } finally {
    if (app) await app.close();
    await pulse.stop();
  }
});
