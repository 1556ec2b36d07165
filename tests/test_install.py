#!/usr/bin/env python3
"""meson install, the man page and --version. Run as:
test_install.py CASE EXE MAN_PAGE MESON BUILD_ROOT VERSION PREFIX BINDIR MANDIR

Standard library only; man-db's man and groff (Debian's man-db) read the page."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

from invent_server import clean_env

CASES = {}


def case(name):
    def register(fn):
        CASES[name] = fn
        return fn
    return register


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=clean_env(), **kw)


def help_options(exe):
    """(flag, variable or None) of every option line of --help."""
    out = run([exe, "--help"])
    assert out.returncode == 0, out
    opts = re.findall(r"^  (--[a-z0-9-]+)\b.*?(?:\[(INVENT_MOCK_[A-Z0-9_]+)\])?$", out.stdout, re.M)
    assert len(opts) >= 20, out.stdout
    return [(flag, var or None) for flag, var in opts]


def rendered(page):
    """The man page as man(1) shows it, plain text, 200 columns (no wrapping of a flag)."""
    out = subprocess.run(["man", "-l", page], capture_output=True, text=True, timeout=60,
                         env=dict(clean_env(), MANWIDTH="200", MAN_KEEP_FORMATTING="",
                                  MANPAGER="cat", PAGER="cat", LC_ALL="C.UTF-8"))
    assert out.returncode == 0, out
    return out.stdout


@case("install@installs-binary-and-man-page")
def installs_binary_and_man_page(a):
    with tempfile.TemporaryDirectory() as dest:
        out = run([a.meson, "install", "-C", a.build_root, "--no-rebuild", "--destdir", dest])
        assert out.returncode == 0, out
        root = dest + a.prefix
        binary = os.path.join(root, a.bindir, "invent-mock")
        page = os.path.join(root, a.mandir, "man1", "invent-mock.1")
        assert os.access(binary, os.X_OK), sorted(os.listdir(dest))
        assert os.path.isfile(page), out.stdout
        v = run([binary, "--version"])
        assert (v.returncode, v.stdout) == (0, "invent-mock %s\n" % a.version), v
        # man -w finds it where it was installed, as it would under the real prefix.
        w = subprocess.run(["man", "-w", "-M", os.path.join(root, a.mandir), "invent-mock"],
                           capture_output=True, text=True, timeout=60)
        assert (w.returncode, w.stdout.strip()) == (0, page), w
        with open(page, encoding="utf-8") as f:
            assert f.read() == open(a.man_page, encoding="utf-8").read()


@case("install@man-page-lists-what-help-lists")
def man_page_lists_what_help_lists(a):
    text = rendered(a.man_page)
    options = help_options(a.exe)
    # Each option under OPTIONS with its text, each variable under ENVIRONMENT naming its flag.
    sections = re.split(r"^([A-Z][A-Z ]+)$", text, flags=re.M)
    by_name = dict(zip(sections[1::2], sections[2::2]))
    listed = re.findall(r"^ {7}(--[a-z0-9-]+)", by_name["OPTIONS"], re.M)
    assert listed == [flag for flag, _ in options], (listed, options)
    env = re.findall(r"^ {7}(INVENT_MOCK_[A-Z0-9_]+)\n {14}as (--[a-z0-9-]+)$",
                     by_name["ENVIRONMENT"], re.M)
    assert env == [(var, flag) for flag, var in options if var], (env, options)
    # No line of the page makes groff complain (an unknown macro, a bad escape).
    g = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", a.man_page], capture_output=True,
                       text=True, timeout=60)
    assert (g.returncode, g.stderr) == (0, ""), g


@case("install@version-is-the-meson-project-version")
def version_is_the_meson_project_version(a):
    out = run([a.exe, "--version"])
    assert (out.returncode, out.stdout, out.stderr) == (0, "invent-mock %s\n" % a.version, ""), out
    assert re.search(r'^\.TH INVENT\\-MOCK 1 "" "invent\\-mock %s"' % re.escape(a.version),
                     open(a.man_page, encoding="utf-8").read(), re.M)


class Args:
    def __init__(self, argv):
        (self.exe, self.man_page, self.meson, self.build_root, self.version, self.prefix,
         self.bindir, self.mandir) = [os.path.abspath(x) if i in (0, 1, 3) else x
                                      for i, x in enumerate(argv)]
        if os.sep not in self.meson:
            self.meson = shutil.which(self.meson) or self.meson


if __name__ == "__main__":
    if len(sys.argv) != 10 or sys.argv[1] not in CASES:
        sys.exit("usage: test_install.py CASE EXE MAN_PAGE MESON BUILD_ROOT VERSION PREFIX BINDIR "
                 "MANDIR; cases: " + " ".join(CASES))
    CASES[sys.argv[1]](Args(sys.argv[2:]))
