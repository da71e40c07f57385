"""formats.py: bench/run's slide and genomics workloads: their corpora
(generated once and cached), sluice's extra arguments, the peers, and the
checks of every output.  bench/README.md describes them.

  slide       an Aperio-like SVS (bench/slidegen.py), 40,000 x 30,000
  slide-tiff  the same level 0 as a single-level tiled JPEG TIFF
  vcf         1,000,000 records, 4 samples, partly unsorted, bgzipped
              (bench/genogen.py), against a generated 30 Mb reference
  reads       5,000,000 paired reads in aligner (unsorted) order, a BAM
              (bench/readsgen.c), against the same reference

bench/run drives them like its other workloads (the limit, sluice at each
thread count, the re-ingest, rounds, medians); this module adds what is
particular to each.
"""
import glob
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"  # Debian's python3-numpy and python3-tifffile live there
PEERS = ("vips_tiffsave", "vips_dzsave", "bcftools", "samtools")
PEER_LABELS = {
    "vips_tiffsave": "vips tiffsave --pyramid (Q 90)",
    "vips_dzsave": "vips dzsave (Q 90)",
    "bcftools": "bcftools norm + sort + index",
    "samtools": "samtools sort + view -C + index",
}
# the targets: (peer, what, bound); speed: the peer's wall over
# sluice's, at least bound; rss: sluice's peak RSS over the peer's, below bound
TARGETS = {
    "slide": [("vips_tiffsave", "speed", 5.0), ("vips_tiffsave", "rss", 1.0)],
    "slide-tiff": [("vips_tiffsave", "speed", 2.0), ("vips_tiffsave", "rss", 1.0)],
    "vcf": [("bcftools", "speed", 2.0)],
    "reads": [("samtools", "speed", 1.0)],
}
UNSORTED = "not coordinate-sorted"  # sluice's reason before its reads sort landed


class Failed(Exception):
    pass


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, **kw)
    if p.returncode != 0:
        err = p.stderr.decode(errors="replace") if isinstance(p.stderr, bytes) else p.stderr
        raise Failed(f"{' '.join(cmd[:3])}...: exit {p.returncode}: {err.strip()[-400:]}")
    return p


def rm(p):
    if os.path.lexists(p):
        shutil.rmtree(p, ignore_errors=True)
        if os.path.lexists(p):
            os.unlink(p)


def src_hash(*names):
    h = hashlib.sha256()
    for n in names:
        h.update(open(os.path.join(HERE, n), "rb").read())
    return h.hexdigest()[:8]


def tools_needed(wl):
    t = []
    if "slide" in wl or "slide-tiff" in wl:
        t += ["vips", "vipsheader", "openslide-show-properties", "openslide-write-png", PY]
    if "vcf" in wl or "reads" in wl:
        t += ["samtools", "bgzip"]
    if "vcf" in wl:
        t += ["bcftools"]
    if "reads" in wl:
        t += ["cc", "pkg-config"]
    return t


def slide_wh(a):
    w, h = a.slide_size.lower().split("x")
    return int(w), int(h)


def disk_estimate(name, a):
    """Free space wanted in the work folder: outputs of sluice and a peer."""
    if name.startswith("slide"):
        w, h = slide_wh(a)
        return int(w * h * 0.8)
    if name == "vcf":
        return a.vcf_records * 600
    return a.reads * 300


# ---- corpora, cached under --cache ----

_fresh = set()  # regenerated in this run (--no-cache): not again


def cached(a, log, key, build):
    d = os.path.join(a.cache, key)
    done = os.path.join(d, ".done")
    if os.path.exists(done) and (not a.no_cache or d in _fresh):
        return d
    stem = key.rsplit("-", 1)[0] + "-"  # the same corpus by an earlier generator: gone
    for old in glob.glob(os.path.join(a.cache, stem + "*")):
        if re.fullmatch(r"[0-9a-f]{8}(\.tmp)?", old[len(os.path.join(a.cache, stem)):]) and old != d:
            rm(old)
    rm(d)
    tmp = d + ".tmp"
    rm(tmp)
    os.makedirs(tmp)
    import time
    t0 = time.monotonic()
    build(tmp)
    os.rename(tmp, d)
    open(done, "w").write(f"{time.monotonic() - t0:.1f}\n")
    log(f"generated {key} in {time.monotonic() - t0:.1f} s (cached in {a.cache})")
    _fresh.add(d)
    return d


def slide_corpus(a, log):
    w, h = slide_wh(a)
    return cached(a, log, f"slide-{w}x{h}-s{a.seed}-{src_hash('slidegen.py')}",
                  lambda d: run([PY, os.path.join(HERE, "slidegen.py"), d, "--width", str(w),
                                 "--height", str(h), "--seed", str(a.seed)]))


def ref_corpus(a, log):
    def build(d):
        run(["python3", os.path.join(HERE, "genogen.py"), "ref", os.path.join(d, "ref.fa"),
             "--size", a.ref_size, "--seed", str(a.seed)])
    return os.path.join(cached(a, log, f"ref-{a.ref_size}-s{a.seed}-{src_hash('genogen.py')}", build),
                        "ref.fa")


def vcf_corpus(a, log, ref):
    def build(d):
        os.makedirs(os.path.join(d, "in"))
        run(["python3", os.path.join(HERE, "genogen.py"), "vcf", ref, os.path.join(d, "in", "calls.vcf.gz"),
             "--records", str(a.vcf_records), "--seed", str(a.seed)])
    return os.path.join(cached(a, log, f"vcf-{a.vcf_records}-{a.ref_size}-s{a.seed}-{src_hash('genogen.py')}",
                               build), "in")


def readsgen(a, log):
    def build(d):
        flags = run(["pkg-config", "--cflags", "--libs", "htslib"], text=True).stdout.split()
        run(["cc", "-O2", "-o", os.path.join(d, "sl-readsgen"), os.path.join(HERE, "readsgen.c")] + flags)
    return os.path.join(cached(a, log, f"readsgen-{src_hash('readsgen.c')}", build), "sl-readsgen")


def reads_corpus(a, log, ref):
    gen = readsgen(a, log)

    def build(d):
        os.makedirs(os.path.join(d, "in"))
        run([gen, ref, os.path.join(d, "in", "reads.bam"), str(a.reads), str(a.seed)])
    return os.path.join(cached(a, log, f"reads-{a.reads}-{a.ref_size}-s{a.seed}-{src_hash('readsgen.c')}",
                               build), "in")


def prepare(name, a, log):
    if name in ("slide", "slide-tiff"):
        d = slide_corpus(a, log)
        return Slide(a, name, os.path.join(d, "svs" if name == "slide" else "tiff"))
    ref = ref_corpus(a, log)
    if name == "vcf":
        return Vcf(a, name, vcf_corpus(a, log, ref), ref)
    return Reads(a, name, reads_corpus(a, log, ref), ref)


# ---- helpers for the checks ----

def grep_count(canaries, paths):
    """Files under paths holding any canary (grep -F over every byte)."""
    paths = [p for p in paths if os.path.exists(p)]
    if not paths:
        return 0, []
    with tempfile.NamedTemporaryFile("w", suffix=".canaries") as f:
        f.write("\n".join(canaries) + "\n")
        f.flush()
        p = subprocess.run(["grep", "-rlaF", "-f", f.name] + paths, capture_output=True)
    if p.returncode not in (0, 1):
        raise Failed(f"grep failed: {p.stderr.decode(errors='replace')}")
    hits = p.stdout.decode(errors="replace").splitlines()
    return len(hits), hits[:3]


def files_under(path):
    out = []
    for dp, dns, fs in os.walk(path):
        dns.sort()
        out += [os.path.join(dp, f) for f in sorted(fs)]
    return out


def openslide_props(path):
    p = subprocess.run(["openslide-show-properties", path], capture_output=True, text=True)
    if p.returncode != 0:
        return None
    props = {}
    for line in p.stdout.splitlines():
        m = re.match(r"^([^:]+): '(.*)'$", line)
        if m:
            props[m.group(1)] = m.group(2)
    return props


def slide_facts(path):
    """Level 0 size, level count and MPP as OpenSlide reports them (MPP
    from the TIFF resolution when OpenSlide 3.4 gives no openslide.mpp-x)."""
    pr = openslide_props(path)
    if pr is None:
        return None
    mpp = pr.get("openslide.mpp-x")
    if mpp is None and "tiff.XResolution" in pr:
        unit = pr.get("tiff.ResolutionUnit", "inch")
        per = 10000.0 if unit == "centimeter" else 25400.0 if unit == "inch" else None
        mpp = per / float(pr["tiff.XResolution"]) if per else None
    return {"width": int(pr["openslide.level[0].width"]), "height": int(pr["openslide.level[0].height"]),
            "levels": int(pr["openslide.level-count"]), "mpp": float(mpp) if mpp else None}


def sam_digest(path, ref, canary_prefix):
    """Reads, an order-independent digest of fields 1-11 of every read
    (names, flags, positions, CIGARs, mates, sequences, qualities), and the
    reads holding the canary prefix anywhere (tags included)."""
    p = subprocess.Popen(["samtools", "view", "-@", "2", "-T", ref, path], stdout=subprocess.PIPE)
    n = total = leaks = 0
    pre = canary_prefix.encode()
    blake = hashlib.blake2b
    for line in p.stdout:
        n += 1
        cut = line.split(b"\t", 11)
        total += int.from_bytes(blake(b"\t".join(cut[:11]), digest_size=8).digest(), "little")
        if pre in line:
            leaks += 1
    if p.wait():
        raise Failed(f"samtools view {path} failed")
    return {"reads": n, "digest": f"{total & (2**64 - 1):016x}", "reads_with_canaries": leaks}


def vcf_groups_equal(a, b):
    """Records equal in order, records at one (CHROM, POS, REF, ALT)
    compared as a set (bcftools sort leaves their order open).  Returns
    (equal, records in a, records in b, the first difference)."""
    import itertools

    def groups(path):
        def key(l):
            f = l.split("\t", 5)
            return (f[0], f[1], f[3].upper(), f[4].upper())
        with open(path) as f:
            for k, g in itertools.groupby((l.rstrip("\n") for l in f), key=key):
                yield k, sorted(g)
    na = nb = 0
    for x, y in itertools.zip_longest(groups(a), groups(b)):
        na += len(x[1]) if x else 0
        nb += len(y[1]) if y else 0
        if x != y:
            first = f"sluice {x[1][0][:120] if x else None!r}, bcftools {y[1][0][:120] if y else None!r}"
            return False, na, nb, first
    return True, na, nb, None


# ---- the workloads ----

class Workload:
    kind = None
    may_reject = False   # sluice may reject the input with a known reason (reads: unsorted)
    extra_inputs = 0     # inputs sluice counts besides the corpus (the reference)

    def __init__(self, a, name, src):
        self.a, self.name, self.src = a, name, src
        self.input = files_under(src)[0]
        self.sluice_args = []
        self.rejected = None

    def start(self, bench, res, work):
        self.bench, self.res, self.work = bench, res, work

    def accounting(self, m, status):
        try:
            j = json.loads(m["stdout"].strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise Failed(f"{self.name}: sluice --json printed no summary (exit {m['rc']}): "
                         f"{m['stderr'].strip()[-300:]}")
        n = 1 + self.extra_inputs
        if self.may_reject and j["rejected"] == 1 and all(UNSORTED in r for r in j["reasons"]):
            self.rejected = next(iter(j["reasons"]))
            if j["discovered"] == n:
                return
        if j["discovered"] != n or j[status] != n:
            raise Failed(f"{self.name}: sluice: {n} inputs, exit {m['rc']}, summary {json.dumps(j)}")

    def export(self, store):
        exp = os.path.join(self.work, "export")
        rm(exp)
        p = subprocess.run([self.a.sluice, "export", "--store", store, "--to", exp],
                           capture_output=True, text=True)
        if p.returncode != 0:
            self.bench.problem(f"{self.name}: sluice export failed: {p.stderr.strip()}")
        return exp

    def catalog_dump(self, store):
        """sluice ls --json and sluice log, to be scanned for canaries."""
        d = os.path.join(self.work, "catalog")
        rm(d)
        os.makedirs(d)
        for what in ("ls", "log"):
            with open(os.path.join(d, what), "w") as f:
                subprocess.run([self.a.sluice, what, "--store", store] + (["--json"] if what == "ls" else []),
                               stdout=f, stderr=subprocess.DEVNULL)
        return d

    def check_sluice(self, bench, res, store, full):
        p = subprocess.run([self.a.sluice, "verify", "--store", store], capture_output=True, text=True)
        if p.returncode != 0:
            bench.problem(f"{self.name}: sluice verify failed: {p.stdout.strip()[-500:]}")
        if not full:
            return
        if self.rejected:
            res["checks"]["sluice"] = {"rejected": self.rejected, "summary": f"rejected: {self.rejected}"}
            return
        exp = self.export(store)
        try:
            self.check_output(bench, res, store, exp)
        finally:
            rm(exp)
            rm(os.path.join(self.work, "catalog"))

    def finish(self, bench, res):
        pass

    def ratios(self, res):
        st, r = res["steps"], res.get("ratios", {})
        s = st[f"sluice_t{res['best_threads']}"]
        out = []
        for peer, what, bound in TARGETS[self.name]:
            if peer not in st:
                continue
            if what == "speed":
                got = st[peer]["wall_median"] / s["wall_median"]
                out.append({"peer": peer, "what": "speed", "want": f">= {bound:g}x", "got": got,
                            "met": got >= bound and not self.rejected})
            else:
                got = s["rss_kib_max"] / max(1, st[peer]["rss_kib_max"])
                out.append({"peer": peer, "what": "peak RSS", "want": f"< {bound:g}x", "got": got,
                            "met": got < bound and not self.rejected})
        if self.rejected:  # sluice did not do the work: no ratio means anything
            for t in out:
                t["got"], t["met"] = None, False
        d = {"targets": out}
        if self.rejected:
            d["sluice_rejected"] = self.rejected
        return d


class Slide(Workload):
    kind = "slide"

    def start(self, bench, res, work):
        super().start(bench, res, work)
        f = slide_facts(self.input)
        if f is None:
            raise Failed(f"{self.name}: OpenSlide cannot open the generated {self.input}")
        self.facts = f
        n, ex = grep_count(slidegen_canaries(self.a.seed), [self.input])
        res["checks"]["input"] = {**f, "canaries": n > 0}
        if self.name == "slide" and not n:
            bench.problem(f"{self.name}: the generated SVS holds no canary: the scan would prove nothing")
        if self.name == "slide" and f["levels"] != 3:
            bench.problem(f"{self.name}: OpenSlide sees {f['levels']} levels in the SVS, not 3")

    def expected_levels(self, tile):
        w, h, k = self.facts["width"], self.facts["height"], 0
        while math.ceil(w / 2 ** k) > tile or math.ceil(h / 2 ** k) > tile:
            k += 1
        return k + 1

    def check_facts(self, path, who):
        """(facts, what is wrong) of a TIFF pyramid against the input."""
        f = slide_facts(path)
        if f is None:
            return None, ["OpenSlide cannot open it"]
        bad = []
        if (f["width"], f["height"]) != (self.facts["width"], self.facts["height"]):
            bad.append(f"level 0 is {f['width']}x{f['height']}, the input's "
                       f"{self.facts['width']}x{self.facts['height']}")
        if f["mpp"] is None or abs(f["mpp"] - self.facts["mpp"]) > 1e-3:
            bad.append(f"MPP {f['mpp']}, the input's {self.facts['mpp']}")
        # pixels decode: a region of level 0 and the whole smallest level
        png = os.path.join(self.work, "region.png")
        w, h = f["width"], f["height"]
        for lvl, x, y, rw, rh in ((0, w // 2, h // 2, 512, 512), (f["levels"] - 1, 0, 0, 64, 64)):
            p = subprocess.run(["openslide-write-png", path, str(x), str(y), str(lvl), str(rw), str(rh), png],
                               capture_output=True, text=True)
            if p.returncode != 0:
                bad.append(f"OpenSlide cannot read level {lvl}: {p.stderr.strip()[:200]}")
        rm(png)
        return f, bad

    def check_output(self, bench, res, store, exp):
        tiffs = [f for f in files_under(exp) if f.endswith(".tiff")]
        c = res["checks"]["sluice"] = {"files": len(files_under(exp))}
        if len(tiffs) != 1:
            bench.problem(f"{self.name}: sluice export wrote {len(tiffs)} slides, not 1")
            return
        f, bad = self.check_facts(tiffs[0], "sluice")
        want = self.expected_levels(240)
        if f and f["levels"] != want:
            bad.append(f"{f['levels']} levels, not {want}")
        cat = self.catalog_dump(store)
        n, ex = grep_count(slidegen_canaries(self.a.seed), [store, exp, cat])
        c.update({"opened": f is not None, "levels": f and f["levels"], "mpp": f and f["mpp"],
                  "bytes": os.path.getsize(tiffs[0]), "leaks": {"files": n, "examples": ex}})
        if bad:
            bench.problem(f"{self.name}: sluice's slide: " + "; ".join(bad))
        if n:
            bench.problem(f"{self.name}: canaries in sluice's store or export: {ex}")
        c["summary"] = (f"OpenSlide: {f['width']}x{f['height']}, {f['levels']} levels, MPP {f['mpp']:.4f}"
                        if f else "OpenSlide cannot open it") + f"; canaries in {n} files" + \
            ("; " + "; ".join(bad) if bad else "")

    def peer_steps(self, bench, res, par):
        src, out = self.input, os.path.join(self.work, "peer")
        env = f"VIPS_CONCURRENCY={par}"
        tif = os.path.join(out, "slide.tif")
        steps = [{"key": "vips_tiffsave", "label": PEER_LABELS["vips_tiffsave"],
                  "cmd": ["sh", "-c", f"mkdir -p '{out}' && {env} vips tiffsave '{src}' '{tif}' --tile "
                          f"--pyramid --compression jpeg --Q 90 --tile-width 256 --tile-height 256 && sync"],
                  "out": out, "validate": lambda: self.peer_check(bench, res, "vips_tiffsave", out, tif)},
                 {"key": "vips_dzsave", "label": PEER_LABELS["vips_dzsave"],
                  "cmd": ["sh", "-c", f"mkdir -p '{out}' && {env} vips dzsave '{src}' '{out}/slide' "
                          f"--tile-size 256 --overlap 0 --suffix '.jpg[Q=90]' && sync"],
                  "out": out, "validate": lambda: self.peer_check(bench, res, "vips_dzsave", out, None)}]
        return steps

    def peer_check(self, bench, res, peer, out, tif):
        bad = []
        if tif:
            f, bad = self.check_facts(tif, peer)
            what = (f"OpenSlide: {f['width']}x{f['height']}, {f['levels']} levels, MPP {f['mpp']:.4f}"
                    if f else "OpenSlide cannot open it")
        else:
            lv = [d for d in glob.glob(os.path.join(out, "slide_files", "*")) if os.path.isdir(d)]
            top = max(lv, key=lambda d: int(os.path.basename(d))) if lv else None
            n = len(os.listdir(top)) if top else 0
            want = math.ceil(self.facts["width"] / 256) * math.ceil(self.facts["height"] / 256)
            if n != want:
                bad.append(f"{n} tiles at full size, not {want}")
            what = f"{len(lv)} levels, {n} full-size tiles"
        n, ex = grep_count(slidegen_canaries(self.a.seed), [out])
        res["checks"][peer] = {"leaks": {"files": n, "examples": ex}, "bad": bad,
                               "summary": what + (f"; **canaries in {n} files** ({', '.join(os.path.basename(e) for e in ex)})"
                                                  if n else "; no canary") + ("; " + "; ".join(bad) if bad else "")}
        if n or bad:
            bench.notes.append(f"{self.name}: {PEER_LABELS[peer]}: " + res["checks"][peer]["summary"])


def slidegen_canaries(seed):
    c = [f"CNRY-SLIDE-{k}-{seed}" for k in ("FILENAME", "TITLE", "USER", "BARCODE", "SSID",
                                             "LABELPIX", "MACROPIX", "THUMB", "LEVELDESC")]
    return c + ["07/14/21", "11:22:33"]


class Vcf(Workload):
    kind = "vcf"
    extra_inputs = 1

    def __init__(self, a, name, src, ref):
        super().__init__(a, name, src)
        self.ref = ref
        self.sluice_args = ["--reference", ref]

    def canaries(self):
        return [f"CNRY-VCF-"]

    def start(self, bench, res, work):
        super().start(bench, res, work)
        p = subprocess.run(f"bgzip -dc '{self.input}' | grep -c -F CNRY-VCF-", shell=True,
                           capture_output=True, text=True)
        n = int(p.stdout.strip() or 0)
        rec = int(subprocess.run(f"bgzip -dc '{self.input}' | grep -vc '^#'", shell=True,
                                 capture_output=True, text=True).stdout.strip() or 0)
        res["checks"]["input"] = {"records": rec, "header_lines_with_canaries": n}
        if not n:
            bench.problem("vcf: the generated VCF holds no canary")

    def check_output(self, bench, res, store, exp):
        fs = files_under(exp)
        vcf = [f for f in fs if f.endswith(".vcf.gz")]
        idx = [f for f in fs if f.endswith(".tbi") or f.endswith(".csi")]
        c = res["checks"]["sluice"] = {"files": len(fs)}
        if len(vcf) != 1 or len(idx) != 1:
            bench.problem(f"vcf: sluice export wrote {len(vcf)} VCFs and {len(idx)} indexes")
            return
        recs = os.path.join(self.work, "sluice.records")
        with open(recs, "w") as f:
            p = subprocess.run(["bcftools", "view", "-H", vcf[0]], stdout=f, stderr=subprocess.PIPE, text=True)
        if p.returncode:
            bench.problem(f"vcf: bcftools cannot read sluice's output: {p.stderr.strip()[:300]}")
        p = subprocess.run(["bcftools", "index", "-n", vcf[0]], capture_output=True, text=True)
        if p.returncode:
            bench.problem(f"vcf: bcftools does not accept sluice's index: {p.stderr.strip()[:300]}")
        plain = os.path.join(self.work, "plain")
        rm(plain)
        os.makedirs(plain)
        for f in vcf + idx:
            subprocess.run(f"bgzip -dc '{f}' > '{plain}/{os.path.basename(f)}.txt'", shell=True)
        cat = self.catalog_dump(store)
        n, ex = grep_count(self.canaries(), [store, plain, cat])
        rm(plain)
        c.update({"records": sum(1 for _ in open(recs)), "indexed": p.returncode == 0,
                  "leaks": {"files": n, "examples": ex}})
        if n:
            bench.problem(f"vcf: canaries in sluice's store or export (decompressed): {ex}")
        c["summary"] = f"{c['records']} records, index accepted; canaries in {n} files (decompressed)"

    def peer_steps(self, bench, res, par):
        out = os.path.join(self.work, "peer")
        o = os.path.join(out, "calls.vcf.gz")
        # -Ou between the two: uncompressed BCF in the pipe, the fastest way to join them
        script = (f"mkdir -p '{out}/tmp' && bcftools norm --threads {par} -m -any -f '{self.ref}' '{self.input}' "
                  f"-Ou | bcftools sort -T '{out}/tmp' -Oz -o '{o}' && bcftools index --threads {par} -t '{o}' "
                  f"&& rm -rf '{out}/tmp' && sync")
        return [{"key": "bcftools", "label": PEER_LABELS["bcftools"], "cmd": ["sh", "-c", script],
                 "out": out, "validate": lambda: self.peer_check(bench, res, o)}]

    def peer_check(self, bench, res, o):
        recs = os.path.join(self.work, "peer.records")
        with open(recs, "w") as f:
            subprocess.run(["bcftools", "view", "-H", o], stdout=f, stderr=subprocess.DEVNULL)
        hdr = subprocess.run(["bcftools", "view", "-h", o], capture_output=True, text=True).stdout
        leak = [l[:60] for l in hdr.splitlines() if "CNRY-VCF-" in l]
        res["checks"]["bcftools"] = {"records": sum(1 for _ in open(recs)),
                                     "leaks": {"files": 1 if leak else 0, "header_lines": len(leak),
                                               "examples": leak[:3]}}
        res["checks"]["bcftools"]["summary"] = (
            f"{res['checks']['bcftools']['records']} records"
            + (f"; **canaries in {len(leak)} header lines** (samples, ##commandline, ##SAMPLE...)" if leak else ""))
        if leak:
            bench.notes.append(f"vcf: {PEER_LABELS['bcftools']} keeps sample names and identifying header "
                               f"lines ({len(leak)} with canaries): it normalises, it does not de-identify")

    def finish(self, bench, res):
        a, b = os.path.join(self.work, "sluice.records"), os.path.join(self.work, "peer.records")
        if not (os.path.exists(a) and os.path.exists(b)):
            return
        eq, na, nb, first = vcf_groups_equal(a, b)
        res["checks"]["records_equal_to_bcftools"] = eq
        if not eq:
            bench.problem(f"vcf: sluice's records differ from bcftools norm | sort ({na} against {nb}); "
                          f"first difference: {first}")
        else:
            res["checks"]["sluice"]["summary"] += "; records equal to bcftools'"
        rm(a)
        rm(b)


class Reads(Workload):
    kind = "reads"
    extra_inputs = 1
    may_reject = True

    def __init__(self, a, name, src, ref):
        super().__init__(a, name, src)
        self.ref = ref
        self.sluice_args = ["--reference", ref]

    def start(self, bench, res, work):
        super().start(bench, res, work)
        self.in_digest = sam_digest(self.input, self.ref, "CNRY-BAM-")
        hdr = subprocess.run(["samtools", "view", "-H", self.input], capture_output=True, text=True).stdout
        res["checks"]["input"] = {**self.in_digest, "header_lines_with_canaries":
                                  sum("CNRY-BAM-" in l for l in hdr.splitlines())}

    def check_cram(self, path, idx_ext):
        bad = []
        if subprocess.run(["samtools", "quickcheck", path]).returncode:
            bad.append("samtools quickcheck refuses it")
        if not os.path.exists(path + idx_ext):
            bad.append(f"no {idx_ext} beside it")
        elif subprocess.run(["samtools", "idxstats", path], capture_output=True).returncode:
            bad.append("samtools does not accept its index")
        d = sam_digest(path, self.ref, "CNRY-BAM-")
        if d["reads"] != self.in_digest["reads"]:
            bad.append(f"{d['reads']} reads, the input {self.in_digest['reads']}")
        elif d["digest"] != self.in_digest["digest"]:
            bad.append("the reads differ from the input's (fields 1-11)")
        hdr = subprocess.run(["samtools", "view", "-H", path], capture_output=True, text=True).stdout
        d["header_lines_with_canaries"] = sum("CNRY-BAM-" in l for l in hdr.splitlines())
        return d, bad

    def check_output(self, bench, res, store, exp):
        fs = files_under(exp)
        cram = [f for f in fs if f.endswith(".cram")]
        c = res["checks"]["sluice"] = {"files": len(fs)}
        if len(cram) != 1:
            bench.problem(f"reads: sluice export wrote {len(cram)} CRAMs")
            return
        d, bad = self.check_cram(cram[0], ".crai")
        plain = os.path.join(self.work, "plain")
        rm(plain)
        os.makedirs(plain)
        subprocess.run(f"gzip -dc '{cram[0]}.crai' > '{plain}/crai.txt'", shell=True)
        cat = self.catalog_dump(store)
        n, ex = grep_count(["CNRY-BAM-"], [store, plain, cat])
        rm(plain)
        c.update(d)
        c["leaks"] = {"files": n + (1 if d["reads_with_canaries"] or d["header_lines_with_canaries"] else 0),
                      "examples": ex}
        if bad:
            bench.problem("reads: sluice's CRAM: " + "; ".join(bad))
        if n or d["reads_with_canaries"] or d["header_lines_with_canaries"]:
            bench.problem(f"reads: canaries in sluice's output: {d['header_lines_with_canaries']} header lines, "
                          f"{d['reads_with_canaries']} reads, {n} stored files ({ex})")
        c["summary"] = (f"{d['reads']} reads round-trip (fields 1-11)" if not bad else "; ".join(bad)) + \
            f"; canaries: {d['header_lines_with_canaries']} header lines, {d['reads_with_canaries']} reads, " \
            f"{n} stored files"

    def peer_steps(self, bench, res, par):
        out = os.path.join(self.work, "peer")
        o = os.path.join(out, "reads.cram")
        # samtools -@ N: N threads besides the main one
        script = (f"mkdir -p '{out}' && samtools sort -@ {par} -T '{out}/sort' -o '{out}/sorted.bam' "
                  f"'{self.input}' && samtools view -@ {par} -C -T '{self.ref}' -o '{o}' '{out}/sorted.bam' "
                  f"&& samtools index -@ {par} '{o}' && rm '{out}/sorted.bam' && sync")
        return [{"key": "samtools", "label": PEER_LABELS["samtools"], "cmd": ["sh", "-c", script],
                 "out": out, "validate": lambda: self.peer_check(bench, res, o)}]

    def peer_check(self, bench, res, o):
        d, bad = self.check_cram(o, ".crai")
        d["leaks"] = {"files": 1 if d["header_lines_with_canaries"] or d["reads_with_canaries"] else 0}
        d["summary"] = (f"{d['reads']} reads round-trip" if not bad else "; ".join(bad)) + \
            (f"; **canaries: {d['header_lines_with_canaries']} header lines, {d['reads_with_canaries']} reads**"
             if d["leaks"]["files"] else "")
        res["checks"]["samtools"] = d
        if bad or d["leaks"]["files"]:
            bench.notes.append(f"reads: {PEER_LABELS['samtools']}: {d['summary']} (it converts, it does "
                               f"not de-identify)")

    def finish(self, bench, res):
        if self.rejected:
            bench.notes.append(f"reads: sluice rejected the unsorted BAM ({self.rejected}): its times are "
                               f"those of the rejection, not of a conversion; the target is not met")
