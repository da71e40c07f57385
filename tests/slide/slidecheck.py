"""What check_slide.py and check_osl.py share: the list of failed checks
and OpenSlide's properties of a file (through openslide-tools, a reader
that shares no code with sluice)."""
import subprocess

fails = []


def check(ok, what):
    if not ok:
        fails.append(what)
    return ok


def props(path):
    out = subprocess.run(["openslide-show-properties", path], capture_output=True, text=True,
                         check=True).stdout
    p = {}
    for line in out.splitlines():
        k, _, v = line.partition(": ")
        p[k] = v.strip("'")
    return p
