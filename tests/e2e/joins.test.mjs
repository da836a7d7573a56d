// The join analysis must be able to fail: a synthetic click at a join reads
// far above the coding-noise reference; plain noise-like error does not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyseJoins, xcorrLag } from './joins.mjs';

function noise(n, seed) {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * 0.6;
  }
  return out;
}

function stereo(m) {
  const out = new Float32Array(m.length * 2);
  for (let i = 0; i < m.length; i++) out[2 * i] = out[2 * i + 1] = m[i];
  return out;
}

const RATE = 48000;
const src = noise(RATE * 12, 1);
const coding = noise(RATE * 12 + 5000, 2);

function capture(offset, clickAt) {
  const cap = new Float32Array(src.length + offset);
  for (let i = 0; i < src.length; i++) cap[i + offset] = 0.9 * src[i] + 0.03 * coding[i];
  if (clickAt !== undefined) {
    const c = Math.round(clickAt * RATE) + offset;
    for (let i = 0; i < 240; i++) cap[c + i] += 0.5 * Math.sin(i / 3) * (1 - i / 240);
  }
  return stereo(cap);
}

test('xcorr finds a known lag', () => {
  const ex = src.subarray(30000, 30000 + 4096);
  assert.equal(xcorrLag(Float64Array.from(src), Float64Array.from(ex)), 30000);
});

test('clean joins read near 0 dB or below; a click reads > 10 dB', () => {
  const clean = analyseJoins(stereo(src), capture(1234), [5, 10], RATE);
  assert.equal(clean.joins.length, 2);
  for (const j of clean.joins) {
    assert.equal(j.offset, 1234);
    assert.ok(j.db < 1, `clean join ${j.db}`);
  }
  assert.ok(clean.snrDb > 25, `snr ${clean.snrDb}`);
  const clicked = analyseJoins(stereo(src), capture(777, 10), [5, 10], RATE);
  assert.ok(clicked.joins[0].db < 1);
  assert.ok(clicked.joins[1].db > 10, `click ${clicked.joins[1].db}`);
});
