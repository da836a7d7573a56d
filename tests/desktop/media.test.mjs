// The OS media session and the media keys: one MPRIS player, PlayPause / Metadata / Next over
// D-Bus, and XF86AudioPlay / XF86AudioNext on a bare X server (the app's own key grab).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';

import { launchApp, makeHome, mprisNames, dbus, pressKey, tempDir, tone, until, sleep } from './driver.mjs';

function mpris(name) {
  const get = async (prop) =>
    (await dbus(`--dest=${name}`, '/org/mpris/MediaPlayer2', 'org.freedesktop.DBus.Properties.Get', 'string:org.mpris.MediaPlayer2.Player', `string:${prop}`)).replace(/\s+/g, ' ');
  const call = (method) => dbus(`--dest=${name}`, '/org/mpris/MediaPlayer2', `org.mpris.MediaPlayer2.Player.${method}`);
  return { get, call };
}

test('one OS media session: MPRIS PlayPause, Metadata, Next; media keys on a bare X server', async (t) => {
  const dir = await tempDir('sonance-media-');
  const files = [
    await tone(join(dir, 'a.flac'), { title: 'Tone Alpha', hz: 330 }),
    await tone(join(dir, 'b.flac'), { title: 'Tone Bravo', hz: 440 }),
    await tone(join(dir, 'c.flac'), { title: 'Tone Charlie', hz: 550 }),
  ];
  const home = await makeHome();
  const before = await mprisNames();
  const app = await launchApp({ home, files, args: ['--chunk-seconds', '5'] });
  try {
    // Files given on the command line play at once, the first first.
    await until(async () => {
      const s = await app.state();
      return s.title === 'Tone Alpha' && !s.audioPaused && s.currentTime > 0.5;
    }, { what: 'the first file to play' });

    // Exactly one new MPRIS player: the web view's, which the page drives.
    const names = await until(async () => {
      const n = (await mprisNames()).filter((x) => !before.includes(x));
      return n.length ? n : null;
    }, { what: 'an MPRIS player on the session bus' });
    await sleep(1000);
    const after = (await mprisNames()).filter((x) => !before.includes(x));
    t.diagnostic(`MPRIS players: ${after.join(', ')}`);
    assert.equal(after.length, 1, `exactly one media session (got ${after.join(', ')})`);
    const player = mpris(names[0]);

    // Metadata shows the title.
    await until(async () => /xesam:title" variant string "Tone Alpha"/.test(await player.get('Metadata')), { what: 'MPRIS Metadata to carry the title' });
    assert.match(await player.get('PlaybackStatus'), /"Playing"/);

    // PlayPause pauses, then resumes.
    await player.call('PlayPause');
    await until(async () => (await app.state()).audioPaused, { what: 'PlayPause to pause' });
    const pausedAt = (await app.state()).currentTime;
    await until(async () => /"Paused"/.test(await player.get('PlaybackStatus')), { what: 'PlaybackStatus Paused' });
    await sleep(700);
    assert.ok(Math.abs((await app.state()).currentTime - pausedAt) < 0.05, 'paused means paused');
    await player.call('PlayPause');
    await until(async () => {
      const s = await app.state();
      return !s.audioPaused && s.currentTime > pausedAt + 0.3;
    }, { what: 'PlayPause to resume' });

    // Next: the next queued file.
    await player.call('Next');
    await until(async () => {
      const s = await app.state();
      return s.title === 'Tone Bravo' && !s.audioPaused && s.currentTime > 0.3;
    }, { what: 'Next to play the second file' });
    await until(async () => /Tone Bravo/.test(await player.get('Metadata')), { what: 'Metadata to follow' });

    // Media keys: the app's own grab on a bare X server.
    await pressKey('XF86AudioPlay');
    await until(async () => (await app.state()).audioPaused, { what: 'XF86AudioPlay to pause' });
    await pressKey('XF86AudioPlay');
    await until(async () => !(await app.state()).audioPaused, { what: 'XF86AudioPlay to resume' });
    await pressKey('XF86AudioNext');
    await until(async () => {
      const s = await app.state();
      return s.title === 'Tone Charlie' && !s.audioPaused;
    }, { what: 'XF86AudioNext to skip to the third file' });
    await pressKey('XF86AudioPrev');
    await until(async () => (await app.state()).title === 'Tone Bravo', { what: 'XF86AudioPrev to go back early in a track' });
  } finally {
    await app.close();
  }
});
