// The desktop app hosts the player core (the same one as `sonance serve`): MPRIS Next,
// Previous and PlayPause over D-Bus are commands to the core (seen at `GET /api/player` on the
// app's loopback API), and the page follows (the title shown, the element playing or paused).
// The queue, the current track and its position survive a restart of the app (same home).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';

import { dbus, launchApp, makeHome, mprisNames, sleep, tempDir, tone, until } from './driver.mjs';

function mpris(name) {
  const get = async (prop) =>
    (await dbus(`--dest=${name}`, '/org/mpris/MediaPlayer2', 'org.freedesktop.DBus.Properties.Get', 'string:org.mpris.MediaPlayer2.Player', `string:${prop}`)).replace(/\s+/g, ' ');
  const call = (method) => dbus(`--dest=${name}`, '/org/mpris/MediaPlayer2', `org.mpris.MediaPlayer2.Player.${method}`);
  return { get, call };
}

/** The core's state, asked of the app's loopback API as any client would. */
async function coreState(app) {
  const api = await app.exec(() => window.__SONANCE_API__ ?? null);
  assert.ok(api, 'the page uses the loopback API');
  const res = await fetch(`${api}api/player`, { signal: AbortSignal.timeout(5000) });
  assert.equal(res.status, 200, 'the app hosts a player core');
  return res.json();
}

/** What the page shows and plays. */
const page = (app) =>
  app.exec(() => ({
    title: document.getElementById('now-title')?.textContent || '',
    paused: window.__sonance.audio.paused,
    time: window.__sonance.player.currentTime,
    remote: !!window.__sonance.core?.remote,
  }));

test('MPRIS Next / Previous / PlayPause reach the core and the page follows; the queue survives a restart', async (t) => {
  const dir = await tempDir('sonance-core-');
  const files = [
    await tone(join(dir, 'a.flac'), { title: 'Tone Alpha', hz: 330 }),
    await tone(join(dir, 'b.flac'), { title: 'Tone Bravo', hz: 440 }),
    await tone(join(dir, 'c.flac'), { title: 'Tone Charlie', hz: 550 }),
  ];
  const home = await makeHome();
  const before = await mprisNames();
  let app = await launchApp({ home, files, args: ['--chunk-seconds', '5'] });
  let ids;
  let last;
  try {
    // The files given play at once, as the core's queue.
    await until(async () => {
      const p = await page(app);
      return p.title === 'Tone Alpha' && !p.paused && p.time > 0.5;
    }, { what: 'the first file to play' });
    assert.equal((await page(app)).remote, true, 'the page follows the app’s core (RemoteCore), not a stand-in');
    const s = await coreState(app);
    assert.equal(s.tracks.length, 3, 'the three files are the core’s queue');
    assert.equal(s.index, 0);
    assert.equal(s.status, 'playing');
    ids = s.tracks;

    const name = (await until(async () => (await mprisNames()).find((x) => !before.includes(x)) ?? null, { what: 'an MPRIS player on the session bus' }));
    const player = mpris(name);

    // Next: the core moves to the second track; the page plays it.
    await player.call('Next');
    await until(async () => {
      const c = await coreState(app);
      return c.index === 1 && c.status === 'playing';
    }, { what: 'MPRIS Next to reach the core' });
    await until(async () => {
      const p = await page(app);
      return p.title === 'Tone Bravo' && !p.paused && p.time > 0.3;
    }, { what: 'the page to play the second file' });

    // Previous early in a track: the core goes back one; the page follows.
    await player.call('Previous');
    await until(async () => (await coreState(app)).index === 0, { what: 'MPRIS Previous to reach the core' });
    await until(async () => {
      const p = await page(app);
      return p.title === 'Tone Alpha' && !p.paused && p.time > 0.3;
    }, { what: 'the page to play the first file again' });

    // Next twice: the third track.
    await player.call('Next');
    await until(async () => (await coreState(app)).index === 1, { what: 'Next' });
    await player.call('Next');
    await until(async () => {
      const p = await page(app);
      return (await coreState(app)).index === 2 && p.title === 'Tone Charlie' && !p.paused && p.time > 0.3;
    }, { what: 'Next again to play the third file' });

    // Seek (as the page's seek bar does), then PlayPause pauses: in the core and on the page.
    await app.execAsync(() => window.__sonance.core.send({ type: 'seek', position_s: 7 }));
    await until(async () => (await page(app)).time > 7, { what: 'the seek to be heard' });
    await player.call('PlayPause');
    await until(async () => (await coreState(app)).status === 'paused', { what: 'MPRIS PlayPause to pause the core' });
    await until(async () => (await page(app)).paused, { what: 'the page to pause' });
    const pausedAt = (await page(app)).time;
    await sleep(700);
    assert.ok(Math.abs((await page(app)).time - pausedAt) < 0.05, 'paused means paused');
    // The page tells the core where it paused.
    await until(async () => Math.abs((await coreState(app)).position_s - pausedAt) < 0.5, { what: 'the core to hear the paused position' });

    // PlayPause again: the core plays and the page resumes from there.
    await player.call('PlayPause');
    await until(async () => (await coreState(app)).status === 'playing', { what: 'PlayPause to resume the core' });
    await until(async () => {
      const p = await page(app);
      return !p.paused && p.time > pausedAt + 0.3;
    }, { what: 'the page to resume' });
    await player.call('PlayPause');
    await until(async () => (await coreState(app)).status === 'paused' && (await page(app)).paused, { what: 'a last pause' });
    await sleep(1500);
    last = await coreState(app);
    t.diagnostic(`before the restart: index ${last.index}, ${last.position_s.toFixed(2)} s, ${last.status}`);
  } finally {
    await app.close();
  }

  // Restart without files: the core's saved queue, track and position, paused.
  app = await launchApp({ home, args: ['--chunk-seconds', '5'] });
  try {
    const s = await coreState(app);
    assert.deepEqual(s.tracks, ids, 'the queue survived the restart');
    assert.equal(s.index, 2, 'the current track survived the restart');
    assert.notEqual(s.status, 'playing', 'a restart does not start playing');
    assert.ok(s.position_s > 7 && Math.abs(s.position_s - last.position_s) < 0.5, `the position survived the restart (${s.position_s} s, was ${last.position_s} s)`);
    await until(async () => {
      const p = await page(app);
      return p.title === 'Tone Charlie' && Math.abs(p.time - s.position_s) < 0.5;
    }, { what: 'the page to show the last track at its position' });
    assert.equal((await page(app)).paused, true, 'the page waits, paused');
  } finally {
    await app.close();
  }
});
