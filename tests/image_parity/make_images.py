"""Writes test images covering the decoder paths, with Pillow (Debian python3-pil).

    python3 make_images.py OUT_DIR

Each image mixes smooth gradients with noise so resampling errors cannot hide. Covers: RGB, RGBA,
palette (with transparency), gray, gray+alpha and 16-bit PNGs, interlaced PNG; baseline,
progressive, grayscale and CMYK JPEGs; JPEGs with each EXIF orientation 1..8; lossy and lossless
WebP; sizes that scale up, scale down a lot, and extreme aspect ratios.
"""
import os
import sys

import numpy as np
from PIL import Image

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(1234)


def pattern(width, height):
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([255 * x / max(width - 1, 1), 255 * y / max(height - 1, 1),
                     127 + 127 * np.sin((x + 2 * y) / 7.0)], axis=-1)
    noise = rng.normal(0, 40, size=(height, width, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def save(name, image, **options):
    image.save(os.path.join(out, name), **options)


rgb = Image.fromarray(pattern(640, 480))
save("rgb_640x480.png", rgb)
save("rgb_interlaced.png", Image.fromarray(pattern(333, 251)), optimize=False)
save("rgba_300x200.png", Image.fromarray(np.dstack([pattern(300, 200), rng.integers(0, 256, (200, 300), dtype=np.uint8)])))
save("palette_257x129.png", Image.fromarray(pattern(257, 129)).quantize(64), transparency=3)
save("gray_500x500.png", Image.fromarray(pattern(500, 500)[:, :, 0], "L"))
save("gray_alpha_210x90.png", Image.fromarray(pattern(210, 90)[:, :, :2].copy(), "LA"))
sixteen = (pattern(120, 80).astype(np.uint16) * 257 + rng.integers(0, 256, (80, 120, 3), dtype=np.uint16))
Image.frombytes("RGB", (120, 80), sixteen.astype(">u2").tobytes(), "raw", "RGB;16B").save(os.path.join(out, "tmp16.png"))
# Pillow cannot write 16-bit RGB PNGs; write one by hand (raw IHDR/IDAT).
import struct, zlib
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
raw = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in sixteen)
with open(os.path.join(out, "rgb16_120x80.png"), "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 120, 80, 16, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
os.remove(os.path.join(out, "tmp16.png"))
save("tiny_31x17.png", Image.fromarray(pattern(31, 17)))
save("wide_2000x37.png", Image.fromarray(pattern(2000, 37)))
save("tall_40x1500.png", Image.fromarray(pattern(40, 1500)))
save("large_1920x1080.jpg", Image.fromarray(pattern(1920, 1080)), quality=90)
save("progressive_801x601.jpg", Image.fromarray(pattern(801, 601)), quality=85, progressive=True)
save("gray_400x300.jpg", Image.fromarray(pattern(400, 300)[:, :, 1], "L"), quality=92)
save("cmyk_320x240.jpg", Image.fromarray(pattern(320, 240)).convert("CMYK"), quality=95)
for orientation in range(1, 9):
    exif = Image.Exif()
    exif[0x0112] = orientation
    save(f"exif{orientation}_300x200.jpg", Image.fromarray(pattern(300, 200)), quality=90, exif=exif.tobytes())
save("lossy_350x260.webp", Image.fromarray(pattern(350, 260)), quality=80)
save("lossless_190x330.webp", Image.fromarray(pattern(190, 330)), lossless=True)
