#!/usr/bin/env bash
# The image pipeline against Pillow (bit-exact) and ImageMagick (within tolerance) on generated
# PNG/JPEG/WebP images covering every decoder path, EXIF orientations, scaling up and down and
# extreme aspect ratios, at soft-token budgets 280 (default) and 70.
set -euo pipefail
here=$(dirname "$0")
work=${TEST_TMPDIR:-$(mktemp -d)}
python=/usr/bin/python3
tool="$here/../../preprocess/tools/preprocess_image"

"$python" "$here/make_images.py" "$work/images"
convert "$work/images/rgb_640x480.png" -interlace PNG "$work/images/adam7_640x480.png"
for budget in 280 70; do
  "$python" "$here/pil_reference.py" "$work/images" "$budget" "$work/pil$budget"
  mkdir -p "$work/ours$budget"
  for path in "$work"/images/*; do
    name=$(basename "$path")
    "$tool" --input="$path" --max_soft_tokens="$budget" \
      --decoded="$work/ours$budget/$name.decoded.rgb" --resized="$work/ours$budget/$name.resized.rgb" \
      --patches="$work/ours$budget/$name.patches.bin" >"$work/ours$budget/$name.txt"
  done
  echo "budget $budget:"
  "$python" "$here/compare_images.py" "$work/images" "$work/pil$budget" "$work/ours$budget"
done
