#!/usr/bin/env bash
# Retrain and re-export the reference model from scratch: about an hour on 2 cores.
#   npm run model:train [-- --epochs N --train-pairs N]
set -euo pipefail
cd "$(dirname "$0")"
PY=/usr/bin/python3
if ! $PY -c 'import torch, onnx, PIL, numpy' 2>/dev/null; then
  echo "Training needs Debian's PyTorch: apt-get install -y python3-torch python3-onnx python3-pil" >&2
  exit 1
fi
started=$(date +%s)
$PY train.py "$@"
# ONNX Runtime against PyTorch's raw outputs on the parity fixture, per output.
npx tsx parity-onnx.ts
npx tsx evaluate-onnx.ts
npx tsx evaluate-onnx.ts --data ../fixtures/eval --out ../fixtures/eval/metrics.json
# The acceptance's independence check: pairs from a generator written from the spec alone.
$PY ../check/independent_generator.py --out ../.data/independent --pairs 2000 --seed 20240
npx tsx evaluate-onnx.ts --data ../.data/independent --out ../check/metrics.json
$PY write_card.py --total-seconds "$(( $(date +%s) - started ))"
echo "Rebuilt models/reference: see MODEL_CARD.md"
