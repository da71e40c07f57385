#!/usr/bin/env python3
"""demo_show.py: the parts of scripts/demo.sh's output that need more than a
line of shell: what the sample holds, the report grouped by format, one
subject across the modalities, the export tree, and an output's digest.
tests/demo.sh parses these lines: change the two together.

  demo_show.py inputs SRC REFDIR
  demo_show.py formats REPORT PREFIX
  demo_show.py subject REPORT LS_JSON SLIDE_INPUT
  demo_show.py tree EXPORT
  demo_show.py output REPORT INPUT ROLE
  demo_show.py pages TIFF
"""
import collections
import json
import os
import sys

# the order formats are shown in: the modalities, then the rest
ORDER = ["dicom", "slide", "vcf", "reads", "opaque", "unknown"]


def report(path):
    return [json.loads(line) for line in open(path)]


def files_under(d):
    for base, _, names in os.walk(d):
        for n in names:
            yield os.path.join(base, n)


def inputs(src, refdir):
    for sub in sorted(os.listdir(src)) + [refdir]:
        d = sub if os.path.isabs(sub) else os.path.join(src, sub)
        fs = list(files_under(d))
        mb = sum(os.path.getsize(f) for f in fs) / 1e6
        exts = collections.Counter(os.path.splitext(f)[1] or "(no extension)" for f in fs)
        kinds = ", ".join(f"{n} {e}" for e, n in sorted(exts.items()))
        print(f"  {os.path.basename(d) + '/':<12}{len(fs):4d} files, {mb:6.1f} MB  ({kinds})")


def formats(path, prefix):
    by = collections.defaultdict(list)
    for r in report(path):
        by[r.get("format", "unknown")].append(r)
    for f in sorted(by, key=lambda f: (ORDER.index(f) if f in ORDER else len(ORDER), f)):
        n = collections.Counter(r["status"] for r in by[f])
        print(f"  {f:<8}{n['ingested']:4d} ingested, {n['already-present']} already present, "
              f"{n['rejected']} rejected, {n['skipped']} skipped")
        for r in by[f]:
            if r["status"] in ("rejected", "skipped"):
                rel = r["path"][len(prefix):] if r["path"].startswith(prefix) else r["path"]
                print(f"            {r['status']}: {rel}: {r['reason']}")


def subject(path, ls_json, slide):
    item = next(r["item"] for r in report(path) if r["path"] == slide)
    items = [json.loads(line) for line in open(ls_json)]
    subj = next(i["attrs"]["subject"] for i in items if i["item"] == item)
    mine = [i for i in items if i["attrs"].get("subject") == subj]
    n = collections.Counter(i["format"] for i in mine)
    print(f"  the slide's barcode, the Patient ID and the two sample names map to one person: subject {subj}")
    dcm = [i for i in mine if i["format"] == "dicom"]
    mods = collections.Counter(i["attrs"].get("modality", "?") for i in dcm)
    studies = {i["attrs"].get("study") for i in dcm}
    print(f"    dicom  {n['dicom']:3d} items: " + ", ".join(f"{m} {k}" for m, k in sorted(mods.items()))
          + f"; {len(studies)} studies")
    for f in ("slide", "vcf", "reads"):
        print(f"    {f:<6} {n[f]:3d} item(s)")
    others = {i["attrs"]["subject"] for i in items if i["attrs"].get("subject")} - {subj}
    print(f"  ({len(others)} other subjects: patients the map does not list keep pseudonyms of their own)")
    print(f"subject {subj}: " + ", ".join(f"{f} {n[f]}" for f in ("dicom", "slide", "vcf", "reads")))


def extension(name):
    """.dcm, .tiff, .vcf.gz.tbi...: the export's names hold dots (UIDs)."""
    for e in (".vcf.gz.tbi", ".vcf.gz.csi", ".vcf.gz", ".cram.crai"):
        if name.endswith(e):
            return e
    return os.path.splitext(name)[1] or "(none)"


def tree(export):
    dirs = collections.defaultdict(collections.Counter)
    for f in files_under(export):
        ext = extension(os.path.basename(f))
        dirs[os.path.relpath(os.path.dirname(f), os.path.dirname(export))][ext] += 1
    for d in sorted(dirs):
        kinds = ", ".join(f"{n} {e}" for e, n in sorted(dirs[d].items()))
        print(f"  {d + '/':<72} {kinds}")
    print(f"exported files: {sum(sum(c.values()) for c in dirs.values())} in {len(dirs)} folders")


def pages(tiff):
    """A slide's TIFF pages, what each is (run with Debian's python3 for tifffile)."""
    import tifffile
    out = []
    with tifffile.TiffFile(tiff) as t:
        for p in t.pages:
            d = p.description or ""
            kind = "label " if "label" in d else "macro " if "macro" in d else \
                "" if p.is_tiled else "thumbnail "
            out.append(f"{kind}{p.imagewidth}x{p.imagelength}")
    print("    TIFF pages (tifffile): " + ", ".join(out))


def output(path, inp, role):
    r = next(r for r in report(path) if r["path"] == inp)
    print(next(o["digest"] for o in r["outputs"] if o["role"] == role))


def main(argv):
    cmds = {"inputs": (inputs, 2), "formats": (formats, 2), "subject": (subject, 3),
            "tree": (tree, 1), "output": (output, 3), "pages": (pages, 1)}
    if len(argv) < 2 or argv[1] not in cmds or len(argv) - 2 != cmds[argv[1]][1]:
        raise SystemExit(__doc__)
    cmds[argv[1]][0](*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
