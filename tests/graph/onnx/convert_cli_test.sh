#!/usr/bin/env bash
# `tessera convert` end to end: converts a fixture, inspects and runs the
# result and the .onnx directly, and checks the refusals' exit codes and
# messages. Usage: convert_cli_test.sh TESSERA FIXTURES_DIR WORK_DIR
set -euo pipefail
tessera=$1 fixtures=$2 work=$3
mkdir -p "$work"
out="$work/symbolic_dims.tess"
rm -f "$out"

"$tessera" convert --help | grep -q "Usage: tessera convert MODEL.onnx -o MODEL.tess"
"$tessera" help | grep -q "convert MODEL"
"$tessera" convert "$fixtures/symbolic_dims.onnx" -o "$out" | grep -q "Converted"
"$tessera" inspect "$out" | grep -q "x     f32  \[batch, seq, 8\]"
"$tessera" inspect "$fixtures/constants.onnx" | grep -q "ConstantOfShape"
"$tessera" run "$fixtures/constants.onnx" --random-inputs | grep -q "y  f32  \[2, 3\]"

# Refusals: exit 1 with the one-line list; usage errors exit 2.
set +e
msg=$("$tessera" convert "$fixtures/unsupported_ops.onnx" -o "$work/x.tess" 2>&1); code=$?
set -e
[ "$code" -eq 1 ] || { echo "unsupported ops: exit $code, expected 1"; exit 1; }
echo "$msg" | grep -q "4 op types are not supported by Tessera: Floor in 2 nodes 'floor_a', 'floor_b'"
[ ! -e "$work/x.tess" ] || { echo "a failed conversion wrote $work/x.tess"; exit 1; }
set +e
"$tessera" convert "$fixtures/symbolic_dims.onnx" >/dev/null 2>&1; code=$?
set -e
[ "$code" -eq 2 ] || { echo "missing -o: exit $code, expected 2"; exit 1; }
echo "convert_cli_test: OK"
