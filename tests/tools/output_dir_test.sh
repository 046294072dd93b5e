#!/bin/sh
# `tessera run --output-dir` writes each output as NAME.npy.
#
#   output_dir_test.sh TESSERA MODEL FEATURES.npy OUT_DIR [EMULATOR...]
#
# models/gated_mlp.tess on a [4, 32] input gives probs [4, 10]: a 128-byte
# header and 160 bytes of f32 data, and the CLI reports the file it wrote.
set -eu
tessera=$1 model=$2 features=$3 dir=$4
shift 4
rm -rf "$dir"
"$@" "$tessera" run "$model" --input features="$features" --output-dir "$dir" | grep -q "probs -> $dir/probs.npy"
size=$(wc -c <"$dir/probs.npy")
[ "$size" -eq 288 ] || { echo "probs.npy has $size bytes, expected 288"; exit 1; }
head -c 6 "$dir/probs.npy" | grep -q "NUMPY" || { echo "probs.npy lacks the .npy magic"; exit 1; }
echo "ok: $dir/probs.npy"
