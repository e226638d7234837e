#!/usr/bin/env bash
# Set up (first time only) and run the main job: the per-layer summary of the built-in
# default model (zoo:resnet18 at 1x3x224x224). Extra arguments go to `netanatomy summary`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh" ""
netanatomy summary "$@"
