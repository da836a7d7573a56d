#!/usr/bin/env python3
"""Draw the Sonance app icon and write every size the bundles need.

Standard library only: `python3 src-tauri/icons/make_icons.py` (run from anywhere) rewrites
32x32.png, 128x128.png, 128x128@2x.png, icon.png (512), icon.ico (16…256, PNG entries) and
icon.icns (PNG entries). The drawing: a dark rounded square with five rounded bars in the
UI's accent blue, the outer ones lower, like a level meter.
"""
import math
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
BG = (0x15, 0x17, 0x1B)
BG2 = (0x25, 0x29, 0x30)
ACCENT = (0x4F, 0xB3, 0xFF)
ACCENT2 = (0x2B, 0x6F, 0x9F)
BARS = [0.34, 0.62, 0.86, 0.56, 0.30]  # heights as a fraction of the drawing area


def rounded_rect_coverage(x, y, x0, y0, x1, y1, r):
    """Approximate coverage (0..1) of pixel centre (x, y) by a rounded rectangle."""
    cx = min(max(x, x0 + r), x1 - r)
    cy = min(max(y, y0 + r), y1 - r)
    d = math.hypot(x - cx, y - cy) - r
    if x0 + r <= x <= x1 - r or y0 + r <= y <= y1 - r:
        d = max(x0 - x, x - x1, y0 - y, y - y1)
    return min(1.0, max(0.0, 0.5 - d))


def draw(size):
    s = size / 512.0
    px = bytearray()
    for j in range(size):
        px.append(0)  # PNG filter byte
        for i in range(size):
            x, y = i + 0.5, j + 0.5
            a = rounded_rect_coverage(x, y, 16 * s, 16 * s, 496 * s, 496 * s, 104 * s)
            t = y / size
            col = [BG2[k] * (1 - t) + BG[k] * t for k in range(3)]
            # bars
            n = len(BARS)
            bw, gap = 52 * s, 26 * s
            total = n * bw + (n - 1) * gap
            left = (size - total) / 2
            base = 392 * s
            for b, hfrac in enumerate(BARS):
                bx0 = left + b * (bw + gap)
                by0 = base - hfrac * 280 * s
                cov = rounded_rect_coverage(x, y, bx0, by0, bx0 + bw, base, bw / 2)
                if cov > 0:
                    u = (base - y) / (280 * s)
                    bar = [ACCENT2[k] * (1 - u) + ACCENT[k] * u for k in range(3)]
                    col = [col[k] * (1 - cov) + bar[k] * cov for k in range(3)]
            px += bytes([int(round(c)) for c in col] + [int(round(255 * a))])
    return px


def png(size):
    raw = draw(size)

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b"")


def ico(pngs):
    out = struct.pack("<HHH", 0, 1, len(pngs))
    offset = 6 + 16 * len(pngs)
    body = b""
    for size, data in pngs:
        dim = 0 if size >= 256 else size
        out += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(data), offset + len(body))
        body += data
    return out + body


def icns(entries):
    body = b"".join(tag + struct.pack(">I", len(d) + 8) + d for tag, d in entries)
    return b"icns" + struct.pack(">I", len(body) + 8) + body


def main():
    cache = {}

    def get(n):
        if n not in cache:
            cache[n] = png(n)
        return cache[n]

    files = {"32x32.png": 32, "128x128.png": 128, "128x128@2x.png": 256, "icon.png": 512}
    for name, n in files.items():
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(get(n))
    with open(os.path.join(HERE, "icon.ico"), "wb") as f:
        f.write(ico([(n, get(n)) for n in (16, 32, 48, 64, 128, 256)]))
    with open(os.path.join(HERE, "icon.icns"), "wb") as f:
        f.write(icns([(b"ic07", get(128)), (b"ic08", get(256)), (b"ic09", get(512))]))


if __name__ == "__main__":
    main()
