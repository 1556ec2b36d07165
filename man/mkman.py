#!/usr/bin/env python3
"""Writes the invent-mock(1) man page from the binary's own --help and --version
output and the prose of invent-mock.1.in, so the page's option list cannot drift
from the one config.c prints. Usage: mkman.py EXE TEMPLATE OUTPUT"""
import os
import re
import subprocess
import sys

# "  --flag ARG      what it does [INVENT_MOCK_FLAG]", as config.c's print_help() writes it.
OPTION = re.compile(r"^  (--[a-z0-9-]+)(?: (\S+))?\s+(.*?)(?: \[(INVENT_MOCK_[A-Z0-9_]+)\])?$")


def roff(text):
    """Escapes text for a roff line: backslashes, and a leading dot or quote."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text[:1] in (".", "'") else text


def run(exe, flag):
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVENT_MOCK_")}
    out = subprocess.run([exe, flag], capture_output=True, text=True, env=env, timeout=60)
    if out.returncode != 0:
        sys.exit("mkman.py: %s %s exited %d: %s" % (exe, flag, out.returncode, out.stderr))
    return out.stdout


def parse_help(text):
    """The options --help lists, as (flag, argument or None, help, variable or None)."""
    options = []
    for line in text.splitlines():
        m = OPTION.match(line)
        if m:
            options.append(m.groups())
        elif line.startswith("  --"):
            sys.exit("mkman.py: an option line of --help this script cannot read: %r" % line)
    if not options:
        sys.exit("mkman.py: no options in --help")
    return options


def main():
    exe, template, output = sys.argv[1:4]
    version = run(exe, "--version").strip()
    options = parse_help(run(exe, "--help"))
    opts, env = [], []
    for flag, arg, text, var in options:
        opts.append(".TP\n\\fB%s\\fR%s\n%s" % (roff(flag), " \\fI%s\\fR" % roff(arg) if arg else "",
                                             roff(text)))
        if var:
            env.append(".TP\n.B %s\nas \\fB%s\\fR" % (roff(var), roff(flag)))
    page = open(template, encoding="utf-8").read()
    page = page.replace("@VERSION@", roff(version))
    page = page.replace("@OPTIONS@", "\n".join(opts))
    page = page.replace("@ENVIRONMENT@", "\n".join(env))
    with open(output, "w", encoding="utf-8") as f:
        f.write(page)


if __name__ == "__main__":
    main()
