#!/usr/bin/env bash
# Create .venv (once) and install netanatomy into it. The CPU build of torch is pinned and
# installed FIRST, so that no later, unpinned requirement pulls a multi-GB CUDA build.
# Usage: source scripts/setup.sh [extras]   e.g. "test" or "test,bench"
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EXTRAS="${1:-}"
TORCH_PIN="torch==2.13.0"
VENV="$ROOT/.venv"
# The browser tests (tests/browser) drive Debian's headless Chromium through Playwright,
# pointed at /usr/bin/chromium: Playwright's own browser download is never used.
if [[ ",$EXTRAS," == *",test,"* ]] && ! command -v chromium >/dev/null \
    && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup.sh: the browser tests need Chromium; install it as root with" >&2
    echo "  apt-get update && apt-get install -y chromium" >&2
    echo "then run this again." >&2
    return 1 2>/dev/null || exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
STAMP="$VENV/.netanatomy-installed-${EXTRAS:-base}"
WANT="$(cat "$ROOT/pyproject.toml" "$ROOT/scripts/setup.sh" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet "$TORCH_PIN"
  if [ -n "$EXTRAS" ]; then
    "$VENV/bin/python" -m pip install --quiet -e "$ROOT[$EXTRAS]" "$TORCH_PIN"
  else
    "$VENV/bin/python" -m pip install --quiet -e "$ROOT" "$TORCH_PIN"
  fi
  echo "$WANT" > "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
