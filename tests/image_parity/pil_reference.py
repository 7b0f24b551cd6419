"""The Hugging Face Gemma 4 image pipeline (PIL backend) on every image in a directory:
exif_transpose, convert("RGB"), the aspect-preserving target size, Image.resize(BICUBIC).

    python3 pil_reference.py IMAGE_DIR MAX_SOFT_TOKENS OUT_DIR

Writes OUT_DIR/NAME.decoded.rgb and NAME.resized.rgb (raw 8-bit RGB) and OUT_DIR/manifest.json
({name: {"source": [w, h], "resized": [w, h]}}).
"""
import json
import math
import os
import sys

from PIL import Image, ImageOps


def target_size(height, width, max_soft_tokens, patch=16, pool=3):
    max_patches = max_soft_tokens * pool * pool
    factor = math.sqrt(max_patches * patch ** 2 / (height * width))
    side = pool * patch
    target_height = int(math.floor(factor * height / side)) * side
    target_width = int(math.floor(factor * width / side)) * side
    max_side = (max_patches // pool ** 2) * side
    if target_height == 0:
        target_height = side
        target_width = min(int(math.floor(width / height)) * side, max_side)
    elif target_width == 0:
        target_width = side
        target_height = min(int(math.floor(height / width)) * side, max_side)
    return target_height, target_width


image_dir, budget, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
os.makedirs(out, exist_ok=True)
manifest = {}
for name in sorted(os.listdir(image_dir)):
    image = ImageOps.exif_transpose(Image.open(os.path.join(image_dir, name))).convert("RGB")
    height, width = target_size(image.height, image.width, budget)
    resized = image.resize((width, height), Image.BICUBIC)
    open(os.path.join(out, name + ".decoded.rgb"), "wb").write(image.tobytes())
    open(os.path.join(out, name + ".resized.rgb"), "wb").write(resized.tobytes())
    manifest[name] = {"source": [image.width, image.height], "resized": [width, height]}
json.dump(manifest, open(os.path.join(out, "manifest.json"), "w"))
