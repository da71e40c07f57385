#!/usr/bin/python3
"""check_slide.py INPUT OUTPUT: an output of the slide format against its input,
with readers that share no code with sluice (OpenSlide's tools, vips, tifffile).

  * OpenSlide opens the output as an Aperio slide (the dialect of every
    output's description) with the input's level 0 size, and reports the
    input's MPP (however the input held it: Aperio MPP or resolution tags)
    as openslide.mpp-x and mpp-y, and its objective power;
  * tifffile sees one pyramid: tiled pages, level 0 in the input's
    compression, built levels JPEG, NewSubfileType 0 then 1, each level half
    the one before (rounded up), the last within one tile, no other page
    (label, macro, thumbnail);
  * level 0 tiles hold the input's coded data byte for byte (copied, not
    re-encoded: JPEG from SOS, JPEG 2000 from the first SOD, lossless tiles
    whole; no COM left in a JPEG 2000 header), and decode (OpenSlide and
    vips) to exactly the pixels OpenSlide decodes from the input; an empty
    input tile comes out white;
  * every reduced level is within ERR of an exact area mean of the input's
    level 0 (mean absolute error, per sample).

Prints one line of measurements; exits 1 with the reasons on failure.
"""
import json, os, subprocess, sys, tempfile, zlib
import numpy as np
import tifffile
from slidecheck import check, fails, props

MEAN_ERR = 3.5   # mean |output - exact area mean| per sample, 0..255: JPEG at
                 # quality 90, 4:2:0, of textured tissue; copied levels carry
                 # their scanner's filter and coding too
SMALL_ERR = 6.0  # a level under 32 pixels on a side (a 1/32 level of a strip
                 # 300 pixels high): tissue edges are most of it, and 4:2:0
                 # chroma across them weighs more (measured 4.6-4.9)


def mpp(p):
    if "openslide.mpp-x" in p:
        return float(p["openslide.mpp-x"])
    if "tiff.XResolution" in p:
        unit = {"centimeter": 1e4, "inch": 25400.0}.get(p.get("tiff.ResolutionUnit"))
        return unit / float(p["tiff.XResolution"]) if unit else None
    return None


def pixels(args, tmp, name):
    """RGB pixels of an image vips can load (a PNG, FILE[level=N] through
    OpenSlide, or FILE[page=N] through libtiff: tiffload named, as vips
    would take any file OpenSlide calls Aperio to OpenSlide)."""
    v = os.path.join(tmp, name + ".v")
    if args.endswith("]") and "[page=" in args:
        path, page = args[:-1].rsplit("[page=", 1)
        cmd = ["vips", "tiffload", path, v, "--page", page]
    else:
        cmd = ["vips", "copy", args, v]
    subprocess.run(cmd, check=True, capture_output=True)
    hdr = subprocess.run(["vipsheader", "-a", v], capture_output=True, text=True).stdout
    f = dict(l.split(": ", 1) for l in hdr.splitlines() if ": " in l)
    w, h, b = int(f["width"]), int(f["height"]), int(f["bands"])
    a = np.fromfile(v, np.uint8, count=w * h * b, offset=64).reshape(h, w, b)
    if b < 3:  # grey
        a = np.repeat(a[..., :1], 3, axis=2)
    return a[..., :3].astype(np.int16)


def region(slide, level, w, h, tmp, name):
    png = os.path.join(tmp, name + ".png")
    subprocess.run(["openslide-write-png", slide, "0", "0", str(level), str(w), str(h), png],
                   check=True, capture_output=True)
    return pixels(png, tmp, name)


def scan(j):
    """A JPEG stream from its SOS marker on (the entropy-coded data)."""
    i = 2
    while i + 4 <= len(j):
        m, n = j[i + 1], j[i + 2] << 8 | j[i + 3]
        if m == 0xDA:
            return j[i:]
        i += 2 + n
    return None


J2K = (33003, 33005)


def j2k_data(j):
    """A JPEG 2000 codestream from its first SOD on (tile-part data; one
    tile-part per tile, as these slides have), and whether its headers
    before that hold a COM segment."""
    i, com = 2, False
    while i + 4 <= len(j):
        m = j[i] << 8 | j[i + 1]
        if m == 0xFF93:
            return j[i:], com
        com |= m == 0xFF64
        i += 12 if m == 0xFF90 else 2 + (j[i + 2] << 8 | j[i + 3])
    return None, com


def same_coded(a, b, compression):
    """Output tile a holds the coded data of input tile b."""
    if compression == 7:
        return scan(a) is not None and scan(a) == scan(b)
    if compression in J2K:
        da, com = j2k_data(a)
        return da is not None and not com and da == j2k_data(b)[0]
    return a == b


def lzw_decode(data):
    """TIFF LZW (MSB first, 9 to 12 bits, early change), as the spec says."""
    out, table, prev, pos, nbits, end = bytearray(), None, None, 0, 9, len(data) * 8
    while pos + nbits <= end:
        v = int.from_bytes(data[pos >> 3:(pos >> 3) + 3].ljust(3, b"\0"), "big")
        code = v >> (24 - (pos & 7) - nbits) & ((1 << nbits) - 1)
        pos += nbits
        if code == 256:
            table, prev, nbits = [bytes([i]) for i in range(256)] + [b"", b""], None, 9
            continue
        if code == 257:
            break
        if prev is None:
            entry = table[code]
        else:
            entry = table[code] if code < len(table) else prev + prev[:1]
            table.append(prev + entry[:1])
        out += entry
        prev = entry
        if len(table) >= (1 << nbits) - 1 and nbits < 12:
            nbits += 1
    return bytes(out)


def lossless_tiles(path):
    """Level 0 of a lossless tiled TIFF decoded here (zlib and a few lines of
    LZW; no libtiff), for inputs OpenSlide and vips refuse: an empty tile
    stops both.  Empty tiles are left white."""
    with tifffile.TiffFile(path) as t:
        p = level0_page(t)
        tw, th, spp, comp = p.tilewidth, p.tilelength, p.samplesperpixel, p.compression
        pred = p.predictor
        W, H = p.imagewidth, p.imagelength
        img = np.full((-(-H // th) * th, -(-W // tw) * tw, spp), 255, np.uint8)
        ntx = -(-W // tw)
        for i, (o, n) in enumerate(zip(p.dataoffsets, p.databytecounts)):
            if not n:
                continue
            t.filehandle.seek(o)
            raw = t.filehandle.read(n)
            raw = lzw_decode(raw) if comp == 5 else zlib.decompress(raw) if comp in (8, 32946) \
                else raw
            a = np.frombuffer(raw[:tw * th * spp], np.uint8).reshape(th, tw, spp)
            if pred == 2:
                a = (np.cumsum(a, axis=1, dtype=np.uint32) & 255).astype(np.uint8)
            img[i // ntx * th:(i // ntx + 1) * th, i % ntx * tw:(i % ntx + 1) * tw] = a
    img = img[:H, :W]
    if spp == 1:
        img = np.repeat(img, 3, axis=2)
    return img.astype(np.int16)


def level0_page(tf):
    """The largest tiled page, or the largest page when it is stripped (a
    stripped level 0: the output decodes it)."""
    big = max(tf.pages, key=lambda p: p.imagewidth * p.imagelength)
    pages = [p for p in tf.pages if p.is_tiled]
    if not big.is_tiled or not pages:
        return big
    return max(pages, key=lambda p: p.imagewidth * p.imagelength)


def decoded(page):
    """A level 0 sluice decodes (strips, separate planes) rather than copies."""
    return not page.is_tiled or page.planarconfig == 2


def tiff_props(path):
    """What OpenSlide would say of an input it refuses (a stripped level 0),
    from tifffile: level 0's size and resolution."""
    with tifffile.TiffFile(path) as t:
        p = level0_page(t)
        d = {"openslide.level[0].width": str(p.imagewidth),
             "openslide.level[0].height": str(p.imagelength)}
        tags = p.tags
        if "XResolution" in tags and "ResolutionUnit" in tags:
            x = tags["XResolution"].value
            d["tiff.XResolution"] = str(x[0] / x[1])
            d["tiff.ResolutionUnit"] = {2: "inch", 3: "centimeter"}.get(int(tags["ResolutionUnit"].value))
        return d


def area_mean(img, f):
    """Exact f x f area mean; edge blocks average what exists."""
    h, w = img.shape[:2]
    H, W = -(-h // f), -(-w // f)
    pad = np.zeros((H * f, W * f, 3), np.float64)
    cnt = np.zeros((H * f, W * f, 1), np.float64)
    pad[:h, :w] = img
    cnt[:h, :w] = 1
    s = pad.reshape(H, f, W, f, 3).sum(axis=(1, 3))
    n = cnt.reshape(H, f, W, f, 1).sum(axis=(1, 3))
    return s / n


def main():
    src, out = sys.argv[1], sys.argv[2]
    try:
        pi = props(src)
    except subprocess.CalledProcessError:  # OpenSlide reads no stripped level 0
        pi = tiff_props(src)
    po = props(out)
    with tifffile.TiffFile(src) as ti:
        l0 = level0_page(ti)
        dec, l0_index = decoded(l0), l0.index
        comp0 = 8 if dec else l0.compression  # decoded: deflate
        grey = l0.samplesperpixel == 1
    # the Aperio dialect for every output: OpenSlide 3.4's generic reader
    # reports no MPP or objective power
    check(po.get("openslide.vendor") == "aperio", "OpenSlide vendor %r" % po.get("openslide.vendor"))
    W, H = int(pi["openslide.level[0].width"]), int(pi["openslide.level[0].height"])
    check((int(po["openslide.level[0].width"]), int(po["openslide.level[0].height"])) == (W, H),
          "level 0 size differs")
    mi, mo = mpp(pi), mpp(po)
    check(mi is None and mo is None or (mi and mo and abs(mi - mo) < 1e-5 * mi),
          "MPP: input %r, output %r" % (mi, mo))
    check(mi is None or po.get("openslide.mpp-x") == po.get("openslide.mpp-y") != None,
          "OpenSlide reports no openslide.mpp-x/y for the output (%r)" % po.get("openslide.mpp-x"))
    oi, oo = pi.get("openslide.objective-power"), po.get("openslide.objective-power")
    check(oi == oo, "objective power: input %r, output %r" % (oi, oo))
    nlev = int(po["openslide.level-count"])

    with tifffile.TiffFile(out) as tf, tifffile.TiffFile(src) as ti:
        pages = list(tf.pages)
        check(len(pages) == nlev, "%d pages, OpenSlide sees %d levels" % (len(pages), nlev))
        check(len(tf.series) == 1 and len(tf.series[0].levels) == nlev,
              "tifffile: %d series, %d levels" % (len(tf.series), len(tf.series[0].levels)))
        for k, p in enumerate(pages):
            check(p.is_tiled and p.compression in ((comp0, 7) if k else (comp0,)),
                  "page %d not tiled, or compression %d" % (k, p.compression))
            check(p.subfiletype == (1 if k else 0), "page %d NewSubfileType %d" % (k, p.subfiletype))
            if k:
                q = pages[k - 1]
                check((p.imagewidth, p.imagelength) in
                      [(a, b) for a in (q.imagewidth // 2, -(-q.imagewidth // 2))
                       for b in (q.imagelength // 2, -(-q.imagelength // 2))],
                      "level %d is %dx%d, not half of %dx%d" % (k, p.imagewidth, p.imagelength,
                                                               q.imagewidth, q.imagelength))
        last = pages[-1]
        check(last.imagewidth <= last.tilewidth and last.imagelength <= last.tilelength,
              "the last level does not fit in one tile")
        # level 0: the same entropy-coded data
        p0, i0 = pages[0], level0_page(ti)
        fo, fi = tf.filehandle, ti.filehandle
        same, empty = 0, []
        ntx = -(-p0.imagewidth // p0.tilewidth)
        for t, (oo, oc) in enumerate(zip(p0.dataoffsets, p0.databytecounts)):
            if dec:
                continue
            io_, ic = i0.dataoffsets[t], i0.databytecounts[t]
            if ic == 0:
                empty.append((t // ntx * p0.tilelength, t % ntx * p0.tilewidth, p0.tilelength,
                              p0.tilewidth))
                continue
            fo.seek(oo)
            a = fo.read(oc)
            fi.seek(io_)
            b = fi.read(ic)
            same += check(same_coded(a, b, comp0),
                          "level 0 tile %d: coded data differs from the input's" % t)
        if dec:
            check(p0.predictor == 2, "decoded level 0 without the horizontal predictor")
        stats = {"levels": nlev, "tiles_copied": same, "empty_tiles": len(empty)}
        if dec:
            stats["level0"] = "decoded, deflate"

    tmp = tempfile.mkdtemp()
    try:
        ref = region(src, 0, W, H, tmp, "in0")
    except subprocess.CalledProcessError:
        if dec:  # stripped: vips (libtiff) decodes it
            ref = pixels(src + "[page=%d]" % l0_index, tmp, "in0")
            stats["reference"] = "vips"
        else:  # empty lossless tiles: decoded here
            ref = lossless_tiles(src)
            stats["reference"] = "decoded here"
    got = region(out, 0, W, H, tmp, "out0")
    # an empty input tile (a scanner skipped it) must come out white; the
    # reference takes white there too
    for y, x, th, tw in empty:
        check(got[y:y + th, x:x + tw].min() >= 250, "an empty tile is not white")
        ref[y:y + th, x:x + tw] = got[y:y + th, x:x + tw]
    check(np.array_equal(ref, got), "level 0 pixels (OpenSlide) differ: max %d" %
          np.abs(ref - got).max())
    # JPEG 2000 tiles: vips reads the Aperio output through OpenSlide
    got_v = pixels(out + ("[level=0]" if comp0 in J2K else "[page=0]"), tmp, "vips0")
    check(np.array_equal(ref, got_v), "level 0 pixels (vips) differ: max %d" %
          np.abs(ref - got_v).max())
    errs = []
    for k in range(1, nlev):
        w, h = int(po["openslide.level[%d].width" % k]), int(po["openslide.level[%d].height" % k])
        # OpenSlide 3.4.1 renders a grey JPEG level less than a tile high
        # as transparent (whoever wrote it: vips's own pyramids too); vips
        # reads grey pages through libtiff
        lv = pixels(out + "[page=%d]" % k, tmp, "out%d" % k) if grey else \
            region(out, k, w, h, tmp, "out%d" % k)
        exact = area_mean(ref, 1 << k)[:h, :w]
        e = float(np.abs(lv - exact).mean())
        errs.append(round(e, 2))
        bound = MEAN_ERR if min(w, h) >= 32 else SMALL_ERR
        check(e <= bound, "level %d: mean error %.2f against an exact area mean" % (k, e))
    stats["mean_err_by_level"] = errs
    subprocess.run(["rm", "-rf", tmp])
    print(json.dumps(stats))
    if fails:
        print("\n".join(fails), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
