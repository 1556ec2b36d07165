#!/usr/bin/env python3
"""Tests of the invent-mock binary itself: command line, ready line, restarts,
kill -9, bad fixtures. Run as: test_binary.py CASE PATH/TO/invent-mock"""
import sys

CASES = {}


def case(name):
    def register(fn):
        CASES[name] = fn
        return fn
    return register


@case("binary@prints-version")
def prints_version(exe):
    import subprocess
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out
    assert out.stdout.startswith("invent-mock "), out.stdout


if __name__ == "__main__":
    CASES[sys.argv[1]](sys.argv[2])
