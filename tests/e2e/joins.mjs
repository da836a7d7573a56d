// Join analysis for captured audio (pure functions, no browser).
//
// source, captured: interleaved stereo float32 at `rate`.
// Returns per join: the RMS error in ±20 ms around the join relative to the
// 99th percentile of the RMS error of 40 ms windows (10 ms hop) within ±1 s
// of the join (`aroundS`), excluding ±40 ms around it, in dB. Each join's
// alignment is refined within ±`search` samples of the global one.

export function fft(re, im, inverse = false) {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j], re[i]];
      [im[i], im[j]] = [im[j], im[i]];
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = ((inverse ? 2 : -2) * Math.PI) / len;
    const wr = Math.cos(ang);
    const wi = Math.sin(ang);
    const half = len >> 1;
    for (let i = 0; i < n; i += len) {
      let cr = 1;
      let ci = 0;
      for (let k = 0; k < half; k++) {
        const a = i + k;
        const b = a + half;
        const xr = re[b] * cr - im[b] * ci;
        const xi = re[b] * ci + im[b] * cr;
        re[b] = re[a] - xr;
        im[b] = im[a] - xi;
        re[a] += xr;
        im[a] += xi;
        const t = cr * wr - ci * wi;
        ci = cr * wi + ci * wr;
        cr = t;
      }
    }
  }
  if (inverse) for (let i = 0; i < n; i++) (re[i] /= n), (im[i] /= n);
}

function mono(x) {
  const out = new Float64Array(x.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = (x[2 * i] + x[2 * i + 1]) / 2;
  return out;
}

/**
 * Where encoders hand over in a track of `seconds` cut into `chunk`-second chunks: every
 * chunk join, and the span joins inside each chunk (a chunk is a 1 s span, then 5 s spans:
 * crates/engine/src/pipeline.rs).
 */
export function joinTimes(chunk, seconds) {
  const joins = [];
  for (let c = 0; c < seconds; c += chunk) {
    if (c > 0) joins.push(c);
    for (let s = c + 1; s < Math.min(c + chunk, seconds); s += 5) joins.push(s);
  }
  return joins;
}

/** Lag k maximising sum_i src[k+i]·ex[i] (k may be negative). */
export function xcorrLag(src, ex) {
  let n = 1;
  while (n < src.length + ex.length) n <<= 1;
  const ar = new Float64Array(n), ai = new Float64Array(n);
  const br = new Float64Array(n), bi = new Float64Array(n);
  ar.set(src);
  br.set(ex);
  fft(ar, ai);
  fft(br, bi);
  for (let i = 0; i < n; i++) {
    const r = ar[i] * br[i] + ai[i] * bi[i];
    const im = ai[i] * br[i] - ar[i] * bi[i];
    ar[i] = r;
    ai[i] = im;
  }
  fft(ar, ai, true);
  let best = 0;
  for (let i = 1; i < n; i++) if (ar[i] > ar[best]) best = i;
  return best > n / 2 ? best - n : best;
}

function percentile(values, p) {
  const s = [...values].sort((a, b) => a - b);
  const idx = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[idx];
}

export function analyseJoins(source, captured, joinTimes, rate = 48000, { aroundS = 1, search = 96 } = {}) {
  const src = mono(source);
  const cap = mono(captured);
  // Global alignment on an excerpt from the middle of the playing part.
  let first = 0;
  while (first < cap.length && Math.abs(cap[first]) < 1e-4) first++;
  const exLen = 1 << 16;
  const exStart = Math.min(first + Math.round(rate * 2.5), Math.max(first, cap.length - exLen));
  const excerpt = cap.subarray(exStart, exStart + exLen);
  const k = xcorrLag(src, excerpt); // src[k + i] ≈ cap[exStart + i]
  const globalOffset = exStart - k; // cap index = src index + offset

  const win = Math.round(rate * 0.04);
  const half = Math.round(rate * 0.02);
  const hop = Math.round(rate * 0.01);
  const around = Math.round(rate * aroundS);
  const results = [];
  let sigTotal = 0;
  let errTotal = 0;
  let gainOut = 1;
  for (const time of joinTimes) {
    const J = Math.round(time * rate);
    const lo = J - around;
    const hi = J + around;
    if (lo < 0 || hi >= src.length) continue;
    // Local refinement of the offset (±2 ms) and least-squares gain.
    let bestOff = globalOffset;
    let bestErr = Infinity;
    for (let d = -search; d <= search; d++) {
      const off = globalOffset + d;
      if (lo + off < 0 || hi + off >= cap.length) continue;
      let sxy = 0, sxx = 0, syy = 0;
      for (let n = lo; n < hi; n += 4) {
        const x = src[n], y = cap[n + off];
        sxy += x * y;
        sxx += x * x;
        syy += y * y;
      }
      const e = syy - (sxy * sxy) / (sxx || 1);
      if (e < bestErr) {
        bestErr = e;
        bestOff = off;
      }
    }
    if (hi + bestOff >= cap.length || lo + bestOff < 0) continue;
    let sxy = 0, sxx = 0;
    for (let n = lo; n < hi; n++) {
      sxy += src[n] * cap[n + bestOff];
      sxx += src[n] * src[n];
    }
    const g = sxy / (sxx || 1);
    gainOut = g;
    // Error energy per sample over both channels.
    const err = new Float64Array(hi - lo);
    for (let n = lo; n < hi; n++) {
      const c = n + bestOff;
      const eL = captured[2 * c] - g * source[2 * n];
      const eR = captured[2 * c + 1] - g * source[2 * n + 1];
      err[n - lo] = (eL * eL + eR * eR) / 2;
      sigTotal += (source[2 * n] ** 2 + source[2 * n + 1] ** 2) / 2 * g * g;
      errTotal += err[n - lo];
    }
    const rms = (a, b) => {
      let s = 0;
      for (let i = a; i < b; i++) s += err[i];
      return Math.sqrt(s / (b - a));
    };
    const c = J - lo;
    const joinRms = rms(c - half, c + half);
    const refs = [];
    for (let a = 0; a + win <= err.length; a += hop) {
      if (a + win > c - 2 * half && a < c + 2 * half) continue;
      refs.push(rms(a, a + win));
    }
    const p99 = percentile(refs, 99);
    results.push({ time, db: 20 * Math.log10(joinRms / p99), joinRms, p99, offset: bestOff });
  }
  return { joins: results, snrDb: 10 * Math.log10(sigTotal / (errTotal || 1e-30)), gain: gainOut, globalOffset };
}
