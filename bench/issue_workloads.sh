#!/usr/bin/env bash
# The workloads the family issues name, each measured by `pyloss bench` in one
# run against every installed peer (NumPy, PyTorch CPU, JAX, scikit-learn),
# float32, value and value_and_grad.  JSON per workload in bench/results_issues/.
#
#   bash bench/issue_workloads.sh [--threads N] [extra pyloss bench args]
#
# Element counts map to the issues' shapes through each loss's example:
#   cross_entropy 65536000 -> 65536 x 1000; with --classes 10, 10^7 -> 10^6 x 10
#   triplet / contrastive 8388608 -> 65536 x 128; kl_gaussian 4194304 -> 65536 x 64
#   dice / dice_bce 2097152 -> 8 x 4 x 256 x 256
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/results_issues
mkdir -p "$OUT"
run() {
    local tag=$1; shift
    echo "### $tag: pyloss bench $*"
    python -m pyloss.cli bench --dtype float32 --json "$OUT/$tag.json" "$@"
}
run ce_65536x1000 --losses cross_entropy --sizes 65536000 --repeat 5 "$@"
run ce_1e6x10 --losses cross_entropy --sizes 10000000 --classes 10 --repeat 5 "$@"
run ce_64x50000 --losses cross_entropy --sizes 3200000 --classes 50000 --repeat 5 "$@"
run binary_1e7 --losses sigmoid_focal,binary_cross_entropy_with_logits,binary_cross_entropy \
    --sizes 10000000 --repeat 5 "$@"
run softmax_focal --losses softmax_focal --sizes 10000000 --repeat 5 "$@"
run embedding --losses triplet,contrastive --sizes 8388608 --repeat 5 "$@"
run generative --losses kl_gaussian,kl_div --sizes 4194304 --repeat 5 "$@"
run vae_gan --losses vae,gan_discriminator,gan_generator --sizes 10000000 --repeat 5 "$@"
run segmentation --losses dice,iou,dice_bce --sizes 2097152 --repeat 5 "$@"
run focal_smooth_l1 --losses focal_smooth_l1 --sizes 10000000 --repeat 5 "$@"
