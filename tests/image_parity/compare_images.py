"""Compares the C++ image pipeline's outputs with Pillow's and ImageMagick's.

    python3 compare_images.py IMAGE_DIR PIL_DIR OURS_DIR

Pillow (the library the Hugging Face processor resizes with) must match exactly: decoded pixels,
target size and resized pixels, bit for bit; the patch rows must be the resized image cut into
48x48 blocks, row-major, each in (y, x, c) order. ImageMagick's Catmull-Rom resize (the same
Keys a = -0.5 kernel, an independent implementation with 16-bit intermediates and its own pass
order) must agree within: mean |diff| < 0.75, 99th percentile <= 3, max <= 24 (8-bit levels).
"""
import json
import os
import subprocess
import sys

import numpy as np

image_dir, pil_dir, ours_dir = sys.argv[1:]
manifest = json.load(open(os.path.join(pil_dir, "manifest.json")))
failures = 0


def load(path):
    return np.fromfile(path, np.uint8).astype(np.int32)


for name, info in manifest.items():
    (w, h), (rw, rh) = info["source"], info["resized"]
    ours_size = open(os.path.join(ours_dir, name + ".txt")).read().split()
    problems = []
    if ours_size[1] != f"{w}x{h}" or ours_size[3] != f"{rw}x{rh}":
        problems.append(f"sizes {ours_size[1]} -> {ours_size[3]}, Pillow {w}x{h} -> {rw}x{rh}")
    else:
        for kind in ("decoded", "resized"):
            a = load(os.path.join(pil_dir, f"{name}.{kind}.rgb"))
            b = load(os.path.join(ours_dir, f"{name}.{kind}.rgb"))
            if a.size != b.size or (a != b).any():
                problems.append(f"{kind} pixels differ from Pillow")
        resized = load(os.path.join(pil_dir, f"{name}.resized.rgb")).reshape(rh, rw, 3)
        expected = resized.reshape(rh // 48, 48, rw // 48, 48, 3).transpose(0, 2, 1, 3, 4).reshape(-1, 6912)
        patches = load(os.path.join(ours_dir, f"{name}.patches.bin"))
        if patches.size != expected.size or (patches.reshape(-1, 6912) != expected).any():
            problems.append("patch rows are not the 48x48 blocks in (y, x, c) order")
        magick = os.path.join(ours_dir, f"{name}.magick.rgb")
        subprocess.run(["convert", "-size", f"{w}x{h}", "-depth", "8",
                        "rgb:" + os.path.join(pil_dir, f"{name}.decoded.rgb"), "-filter", "Catrom",
                        "-resize", f"{rw}x{rh}!", "-depth", "8", "rgb:" + magick], check=True)
        diff = np.abs(load(magick) - load(os.path.join(ours_dir, f"{name}.resized.rgb")))
        stats = f"ImageMagick mean {diff.mean():.3f} p99 {np.percentile(diff, 99):.0f} max {diff.max()}"
        if diff.mean() >= 0.75 or np.percentile(diff, 99) > 3 or diff.max() > 24:
            problems.append(stats)
    if problems:
        failures += 1
        print(f"  {name}: " + "; ".join(problems))
    else:
        print(f"  {name}: {w}x{h} -> {rw}x{rh}: Pillow exact; {stats}")
print(f"images: {len(manifest) - failures}/{len(manifest)} match")
sys.exit(1 if failures else 0)
