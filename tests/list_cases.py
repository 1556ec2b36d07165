#!/usr/bin/env python3
"""Prints the case names of a test file's TEST_CASE("name", fn) table, one a line,
so meson.build can register each case as its own test."""
import re
import sys

for path in sys.argv[1:]:
    for name in re.findall(r'TEST_CASE\("([^"]+)"', open(path, encoding="utf-8").read()):
        print(name)
