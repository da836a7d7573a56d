// Desktop conventions: a second launch hands its files to the running app (single instance),
// and a file that cannot be decoded shows its error while the queue plays on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { APP, launchApp, makeHome, namedWhilePlaying, tempDir, tone, until } from './driver.mjs';

/** Run the binary again (a second launch) in the same world; resolves with its exit code. */
function secondLaunch(home, args, cwd) {
  return new Promise((resolve, reject) => {
    const child = spawn(APP, args, { cwd, env: { ...process.env, ...home.env }, stdio: 'ignore' });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('the second launch did not exit within 20 s'));
    }, 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

test('a second launch hands its files over; an undecodable file shows why and the queue plays on', async () => {
  const dir = await tempDir('sonance-instance-');
  const first = await tone(join(dir, 'first.flac'), { title: 'First Tone', hz: 300 });
  await tone(join(dir, 'second.flac'), { title: 'Second Tone', hz: 600 });
  await writeFile(join(dir, 'broken.flac'), Buffer.from('fLaC this is not audio at all '.repeat(40)));
  const home = await makeHome();
  const app = await launchApp({ home, files: [first], args: ['--chunk-seconds', '5'] });
  try {
    await until(async () => {
      const s = await app.state();
      return s.title === 'First Tone' && !s.audioPaused && s.currentTime > 0.3;
    }, { what: 'the first file to play' });

    // An undecodable file opened while music plays: the message, and the music goes on.
    assert.equal(await secondLaunch(home, ['broken.flac'], dir), 0, 'the second instance exits at once');
    await namedWhilePlaying(app, /broken/i, 'First Tone');

    // A playable file opened with the app: it plays, in the same window.
    assert.equal(await secondLaunch(home, ['second.flac'], dir), 0);
    await until(async () => {
      const s = await app.state();
      return s && s.title === 'Second Tone' && !s.audioPaused && s.currentTime > 0.3;
    }, { timeoutMs: 40_000, what: 'the handed-over file to play' });
    const rows = await app.exec(() => [...document.querySelectorAll('#track-list tr[data-id]')].map((r) => r.textContent));
    assert.equal(rows.length, 3, `the list shows the queue (${rows.join(' | ')})`);
  } finally {
    await app.close();
  }
});
