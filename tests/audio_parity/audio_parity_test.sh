#!/usr/bin/env bash
# The audio pipeline against python3-soundfile (decoding) and scipy (resampling), on generated
# WAV (PCM 8/16/24/32-bit, float), FLAC and Ogg Vorbis tones and a stereo file.
set -euo pipefail
here=$(dirname "$0")
work=${TEST_TMPDIR:-$(mktemp -d)}
python=/usr/bin/python3
tool="$here/../../preprocess/tools/preprocess_audio"
"$python" "$here/make_audio.py" "$work/audio"
mkdir -p "$work/ours"
for path in "$work"/audio/*; do
  name=$(basename "$path")
  [[ $name == *.json ]] && continue
  "$tool" --input="$path" --decoded="$work/ours/$name.decoded.f32" \
    --resampled="$work/ours/$name.resampled.f32" --frames="$work/ours/$name.frames.f32" >/dev/null
done
"$python" "$here/compare_audio.py" "$work/audio" "$work/ours"
