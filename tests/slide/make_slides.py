#!/usr/bin/python3
"""make_slides.py OUTDIR: synthetic whole-slide images for tests/cli_slide.sh.

Needs Debian's python3-tifffile and python3-numpy, and vips (libvips-tools)
to encode JPEG tiles (imagecodecs is not packaged for Debian 12, so tiles are
encoded by `vips dzsave` and written pre-compressed by tifffile).  Output is
deterministic.

  aperio.svs       Aperio-like SVS: level 0 and a 4x level as abbreviated JPEG
                   tiles sharing JPEGTables, photometric RGB over YCbCr data
                   (as Aperio writes it), a stripped thumbnail, label and macro
                   pages; canaries in the description (the key block twice), in
                   DateTime, Artist, HostComputer, DocumentName, XMP, in JPEG
                   COM and APP segments, and as raw bytes in label and macro
  aperio-b2.svs    the same with another barcode (a second slide of a person)
  aperio-nobc.svs  no barcode
  pyramid.tif      generic tiled pyramid by vips (YCbCr, 2x levels)
  single.tif       a single-level tiled TIFF (every level to build)
  nonhalf.tif      a pyramid whose second page is not a half of the first
  zero-tile.svs    an SVS with a zero-length level 0 tile
  corrupt-tile.svs an SVS with a level 0 tile that is not JPEG
  truncated.svs    aperio.svs cut short (its later pages lost)
  truncated-early.svs  cut inside level 0
  single-vips.tif  a single-level tiled TIFF by vips: directory at the end,
                   beyond the engine's first chunk (1 MiB), file below 64 MiB
  plain.tif        an ordinary stripped TIFF of 5 MB (not a slide; its
                   directory too lies beyond the first chunk)
  plain-small.tif  an ordinary stripped TIFF that fits in the first chunk
"""
import glob, os, shutil, subprocess, sys, tempfile
import numpy as np
import tifffile

# Tiles are handed over already compressed; tifffile still looks the JPEG
# encoder up (imagecodecs, absent on Debian 12), so it gets one that is
# never called.
def _never(*a, **k):
    raise AssertionError("tifffile asked to encode")
tifffile.TIFF.COMPRESSORS._codecs[7] = _never

CANARIES = ["CANARY-FILENAME", "CANARY-TITLE", "CANARY-USER", "CANARY-BARCODE",
            "CANARY-SSID", "07/14/21", "11:22:33", "CANARY-ARTIST", "CANARY-HOST",
            "CANARY-DOCNAME", "CANARY-XMP", "2021:07:14", "CANARY-JPEGCOM", "CANARY-APP",
            "CANARY-LABELPIX", "CANARY-MACROPIX", "CANARY-THUMB", "CANARY-2NDBLOCK"]
TILE = 240
MPP = "0.2520"


def tissue(w, h, seed):
    """Smooth pink blobs on a white background, with a little texture."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    m = np.zeros((h, w), np.float32)
    for _ in range(6):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        r = rng.uniform(0.1, 0.3) * min(w, h)
        m += np.exp(-(((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r)))
    m = np.clip(m, 0, 1)
    tex = rng.normal(0, 12, (h, w)).astype(np.float32)
    img = np.empty((h, w, 3), np.float32)
    for c, (lo, hi) in enumerate(((245, 190), (245, 90), (248, 170))):
        img[..., c] = lo + (hi - lo) * m + tex * m
    return np.clip(img, 0, 255).astype(np.uint8)


def jpeg_tiles(img, tw, th, q=80):
    """Full-size JPEG tiles (edges padded by repetition), row-major."""
    h, w = img.shape[:2]
    nty, ntx = -(-h // th), -(-w // tw)
    pad = np.pad(img, ((0, nty * th - h), (0, ntx * tw - w), (0, 0)), mode="edge")
    d = tempfile.mkdtemp()
    try:
        ppm = os.path.join(d, "in.ppm")
        with open(ppm, "wb") as f:
            f.write(b"P6\n%d %d\n255\n" % (pad.shape[1], pad.shape[0]))
            f.write(pad.tobytes())
        subprocess.run(["vips", "dzsave", ppm, os.path.join(d, "t"), "--tile-size", str(tw),
                        "--overlap", "0", "--depth", "one", "--suffix", ".jpg[Q=%d,strip]" % q],
                       check=True)
        lvl = [g for g in glob.glob(os.path.join(d, "t_files", "*")) if os.path.isdir(g)][0]
        return [open(os.path.join(lvl, "%d_%d.jpg" % (tx, ty)), "rb").read()
                for ty in range(nty) for tx in range(ntx)]
    finally:
        shutil.rmtree(d)


def segments(j):
    """(marker, bytes) of the header segments, then ('scan', rest)."""
    out, i = [], 2
    while True:
        m = j[i + 1]
        n = j[i + 2] << 8 | j[i + 3]
        if m == 0xDA:
            out.append(("scan", j[i:]))
            return out
        out.append((m, j[i:i + 2 + n]))
        i += 2 + n


def seg(marker, payload):
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def abbreviate(tiles, com=None):
    """Split full JPEGs into shared JPEGTables and abbreviated tiles, the way
    Aperio stores them; JFIF markers go (Aperio has none), so the colour
    space is told by component ids alone.  com: canary segments added."""
    tables = [s for m, s in segments(tiles[0]) if m in (0xDB, 0xC4)]
    jt = b"\xFF\xD8" + b"".join(tables)
    if com:
        jt += seg(0xFE, com.encode())
    jt += b"\xFF\xD9"
    out = []
    for i, t in enumerate(tiles):
        segs = segments(t)
        assert [s for m, s in segs if m in (0xDB, 0xC4)] == tables, "tiles differ in tables"
        body = b"".join(s for m, s in segs if m not in (0xDB, 0xC4, 0xE0))
        if com and i % 3 == 0:
            body = seg(0xFE, (com + "-%d" % i).encode()) + seg(0xE5, b"CANARY-APP\0") + body
        out.append(b"\xFF\xD8" + body)
    return jt, out


def aperio_desc(w, h, barcode, extra):
    head = ("Aperio Image Library v12.0.15 \r\n%dx%d [0,0 %dx%d] (%dx%d) JPEG/RGB Q=80"
            % (w, h, w, h, TILE, TILE))
    block = ("|AppMag = 20|StripeWidth = 2040|ScanScope ID = CANARY-SSID|Filename = "
             "CANARY-FILENAME|Date = 07/14/21|Time = 11:22:33|Time Zone = GMT+01:00|User = "
             "CANARY-USER|Title = CANARY-TITLE|MPP = %s|Left = 25.691574|Top = 23.449873"
             "|LineCameraSkew = -0.000424|ImageID = 1004486%s" % (MPP, extra))
    if barcode:
        block += "|Barcode = %s" % barcode
    # the key block again, as some scanners write it
    return head + block + "|Comment = CANARY-2NDBLOCK" + block


IDENT_TAGS = [(306, "s", 0, "2021:07:14 11:22:33", True),     # DateTime
              (315, "s", 0, "CANARY-ARTIST", True),           # Artist
              (316, "s", 0, "CANARY-HOST", True),             # HostComputer
              (269, "s", 0, "CANARY-DOCNAME", True),          # DocumentName
              (700, "B", 0, b"<x:xmpmeta>CANARY-XMP</x:xmpmeta>", True)]  # XMP


def pixel_page(w, h, text):
    """An uncompressed page whose bytes spell text (a label's content)."""
    raw = (text.encode() * (w * h * 3 // len(text) + 1))[:w * h * 3]
    return np.frombuffer(raw, np.uint8).reshape(h, w, 3)


def write_svs(path, w=2000, h=1500, seed=1, barcode="CANARY-BARCODE-4711", damage=None):
    img = tissue(w, h, seed)
    if damage == "zero":  # a skipped tile is background at every level
        ntx = -(-w // TILE)
        img[4 // ntx * TILE:(4 // ntx + 1) * TILE, 4 % ntx * TILE:(4 % ntx + 1) * TILE] = 255
    levels = [img, img.reshape(h // 4, 4, w // 4, 4, 3).mean(axis=(1, 3)).astype(np.uint8)]
    with tifffile.TiffWriter(path, bigtiff=False) as tw:
        for i, lv in enumerate(levels):
            jt, tiles = abbreviate(jpeg_tiles(lv, TILE, TILE), com="CANARY-JPEGCOM")
            if i == 0 and damage == "zero":
                tiles[4] = b""
            if i == 0 and damage == "corrupt":
                tiles[4] = bytes(range(256)) * 8
            lh, lw = lv.shape[:2]
            desc = aperio_desc(w, h, barcode, "") if i == 0 else \
                "Aperio Image Library v12.0.15 \r\n%dx%d -> %dx%d - |CANARY-TITLE" % (w, h, lw, lh)
            tw.write(iter(tiles), shape=(lh, lw, 3), dtype="uint8", tile=(TILE, TILE),
                     compression=7, photometric="rgb", jpegtables=jt, description=desc,
                     metadata=None, software=False, subfiletype=0,
                     extratags=IDENT_TAGS + [(271, "s", 0, "Aperio", True),
                                             (272, "s", 0, "GT450", True)])
            if i == 0:  # the thumbnail, stripped, second as in Aperio files
                tw.write(pixel_page(200, 150, "CANARY-THUMB"), photometric="rgb",
                         description="Aperio Image Library v12.0.15 \r\nthumb CANARY-THUMB",
                         metadata=None, software=False)
        tw.write(pixel_page(300, 240, "CANARY-LABELPIX"), photometric="rgb", subfiletype=1,
                 description="Aperio Image Library v12.0.15\r\nlabel 300x240",
                 metadata=None, software=False)
        tw.write(pixel_page(600, 200, "CANARY-MACROPIX"), photometric="rgb", subfiletype=9,
                 description="Aperio Image Library v12.0.15\r\nmacro 600x200",
                 metadata=None, software=False)


def write_generic(path, levels, tile=256):
    """A tiled pyramid: full JPEG tiles (tables in each), photometric YCbCr."""
    with tifffile.TiffWriter(path) as tw:
        for i, lv in enumerate(levels):
            tiles = jpeg_tiles(lv, tile, tile)
            lh, lw = lv.shape[:2]
            tw.write(iter(tiles), shape=(lh, lw, 3), dtype="uint8", tile=(tile, tile),
                     compression=7, photometric="ycbcr", subsampling=(2, 2),
                     metadata=None, software=False, subfiletype=1 if i else 0,
                     resolution=(40000.0, 40000.0), resolutionunit="CENTIMETER")


def vips(*args):
    subprocess.run(["vips"] + list(args), check=True)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    p = lambda n: os.path.join(out, n)
    write_svs(p("aperio.svs"))
    write_svs(p("aperio-b2.svs"), w=960, h=720, seed=2, barcode="CANARY-BARCODE-B2")
    write_svs(p("aperio-nobc.svs"), w=960, h=720, seed=3, barcode=None)
    write_svs(p("zero-tile.svs"), w=960, h=720, seed=4, damage="zero")
    write_svs(p("corrupt-tile.svs"), w=960, h=720, seed=5, damage="corrupt")
    data = open(p("aperio.svs"), "rb").read()
    open(p("truncated.svs"), "wb").write(data[:len(data) * 6 // 10])   # later pages lost
    open(p("truncated-early.svs"), "wb").write(data[:len(data) * 3 // 10])  # into level 0
    img = tissue(1500, 1100, 6)
    with open(p("g.ppm"), "wb") as f:
        f.write(b"P6\n1500 1100\n255\n" + img.tobytes())
    vips("tiffsave", p("g.ppm"), p("pyramid.tif"), "--tile", "--pyramid", "--compression",
         "jpeg", "--Q", "85", "--tile-width", "256", "--tile-height", "256",
         "--xres", "4000", "--yres", "4000")  # px per mm: 0.25 um
    wide = tissue(4200, 500, 7)
    write_generic(p("single.tif"), [wide])
    half = img[::2, ::2][:520, :700]  # 700x520, not 750x550
    write_generic(p("nonhalf.tif"), [img, np.ascontiguousarray(half)])
    vips("tiffsave", p("g.ppm"), p("plain.tif"))
    vips("crop", p("g.ppm"), p("plain-small.tif"), "0", "0", "300", "200")
    with open(p("w.ppm"), "wb") as f:
        f.write(b"P6\n4200 1200\n255\n" + tissue(4200, 1200, 8).tobytes())
    vips("tiffsave", p("w.ppm"), p("single-vips.tif"), "--tile", "--compression", "jpeg",
         "--Q", "90", "--tile-width", "256", "--tile-height", "256", "--xres", "4000",
         "--yres", "4000")
    head = open(p("single-vips.tif"), "rb").read(8)
    assert int.from_bytes(head[4:8], "little") > 1 << 20, "single-vips.tif: directory in the head"
    os.remove(p("g.ppm"))
    os.remove(p("w.ppm"))


if __name__ == "__main__":
    main()
