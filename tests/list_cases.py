#!/usr/bin/env python3
"""Prints the case names of a test file, one a line, so meson.build can register
each case as its own test: TEST_CASE("name", fn) in C, @case("name") in Python."""
import re
import sys

for path in sys.argv[1:]:
    text = open(path, encoding="utf-8").read()
    for name in re.findall(r'(?:TEST_CASE|@case)\("([^"]+)"', text):
        print(name)
