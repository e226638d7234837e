#!/usr/bin/env bash
# Set up (first time only) with the test extras and run the whole test suite.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh" "test"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python -m pytest -q "$@"
