#!/usr/bin/env bash
# Runs both example suites (pytest and node:test) against an invent-mock binary.
# Usage: bash examples/run.sh [path/to/invent-mock [python|node|all]]
#        (defaults: build/invent-mock, all)
# Installs python3-pytest and nodejs with apt-get when they are missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")

bin=${1:-$root/build/invent-mock}
what=${2:-all}
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
if [[ ! -x $bin ]]; then
	echo "run.sh: no invent-mock binary at $bin (build it: meson setup build && ninja -C build)" >&2
	exit 2
fi
export INVENT_MOCK_BIN=$bin

# The python3 first on PATH if it has pytest; else Debian's own /usr/bin/python3,
# which is where python3-pytest installs (a pyenv or venv python3 does not see it).
# $PYTHON overrides both.
has_pytest() { "$1" -c 'import pytest' >/dev/null 2>&1; }
if [[ -n ${PYTHON:-} ]]; then
	py=$PYTHON
elif has_pytest python3; then
	py=python3
else
	py=/usr/bin/python3
fi
missing=()
has_pytest "$py" || missing+=(python3-pytest)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
if ((${#missing[@]})); then
	sudo=()
	((EUID == 0)) || sudo=(sudo)
	echo "run.sh: installing ${missing[*]}" >&2
	"${sudo[@]}" apt-get update -qq
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

cd "$root"
py_rc=0
if [[ $what != node ]]; then
	echo "== python: $py -m pytest -q examples/python ($INVENT_MOCK_BIN)"
	PYTHONDONTWRITEBYTECODE=1 "$py" -m pytest -q -p no:cacheprovider examples/python || py_rc=$?
fi

node_rc=0
if [[ $what != python ]]; then
	echo "== node: node --test examples/node/ ($INVENT_MOCK_BIN)"
	node --test examples/node/ || node_rc=$?
fi

echo "== python suite: $( ((py_rc == 0)) && echo passed || echo "FAILED (exit $py_rc)"); node suite: $( ((node_rc == 0)) && echo passed || echo "FAILED (exit $node_rc)")"
((py_rc == 0 && node_rc == 0))
