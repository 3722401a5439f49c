#!/usr/bin/env bash
# GPU checks and speed figures, on a machine with a CUDA device: the gpu-marked tests (every world-model env passes
# every checker with its model on the GPU, shipped checkpoints step there, each trainer trains and resumes there),
# then the LGE, PE and PVG speed benchmarks and LGE training speed with the models on the GPU.
#   bash benchmarks/gpu.sh [OUT_DIR]      (default benchmarks/results; writes *_cuda.json and gpu_tests.log)
set -uo pipefail
out=${1:-benchmarks/results}
py=${PYTHON:-python3}
mkdir -p "$out"
nvidia-smi -L | tee "$out/gpu_tests.log"
timeout 200 $py -m pytest -q -m gpu tests/test_gpu.py tests/world_models/render/test_renderer.py \
  -p no:cacheprovider --durations=5 2>&1 | tee -a "$out/gpu_tests.log"
timeout 75 $py benchmarks/lge.py --device cuda --batch 1 32 256 --steps 60 --repeats 3 --out "$out/lge_cuda.json"
timeout 50 $py benchmarks/pe.py --device cuda --batch 1 8 32 --steps 60 --repeats 3 --out "$out/pe_cuda.json"
timeout 40 $py benchmarks/pvg.py --device cuda --batch 64 --out "$out/pvg_cuda.json"
timeout 50 $py benchmarks/lge_train.py --device cuda --batch 32 256 1024 --steps 20 --out "$out/lge_train_cuda.json"
