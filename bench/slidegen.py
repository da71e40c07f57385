#!/usr/bin/python3
"""slidegen.py: a deterministic synthetic whole slide for bench/run.

    bench/slidegen.py OUTDIR [--width 40000] [--height 30000] [--seed 1]
    bench/slidegen.py canaries          # what the scans look for

Writes OUTDIR/svs/slide.svs (Aperio-like) and OUTDIR/tiff/slide.tif (the
same level 0 tiles as a single-level tiled JPEG TIFF, photometric YCbCr,
its directory first: sluice claims a TIFF whose directory lies beyond its
first chunk only from 64 MiB on, and vips/libtiff write the directory
last, so a small vips-written TIFF would be refused as no slide).

The picture is what a scanned H&E section looks like to a JPEG encoder:
mostly white glass, a few tissue sections with ragged smooth edges, and
inside them eosin-pink stroma with fibre-like variation and dark purple
nuclei, the stain's strength drifting across the section.  Nothing is
noise at the pixel scale, so tiles compress as real slides do (blank
tiles to a few hundred bytes, tissue to a few KiB at Q 80).

How: numpy draws the tissue mask and stain field at 1/64 scale and one
texture patch (1031x1087, sizes that share nothing with the tile size, so
no two tiles repeat); level 0 is streamed in bands of 480 rows, each band
the patch tiled, coloured and blended by the mask upsampled bilinearly,
into `vips tiffsave` (JPEG Q 80, 4:2:0, 240x240 tiles: libtiff's
abbreviated tiles with shared JPEGTables, as Aperio's).  The 4x and 16x
levels are 4x4 box means of level 0, saved the same way.  tifffile then
writes the SVS around those encoded tiles: level 0 with an Aperio
ImageDescription holding the canaries (Filename, Title, User, Barcode,
ScanScope ID, Date, Time), a stripped thumbnail, the 4x and 16x levels,
a label page and a macro page whose pixels spell canaries (photometric RGB
over YCbCr JPEG data, as Aperio writes it).  Needs Debian's
python3-numpy, python3-tifffile and vips (libvips-tools).  A 40,000 x
30,000 slide takes about 3 minutes on 2 cores.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

TILE = 240
MPP = 0.2520
QUALITY = 80
BAND = 480   # rows per band (a multiple of 16: the 4x and 16x means stay whole)
LOW = 64     # the mask and stain field are drawn at 1/LOW scale


def canaries(seed=1):
    """Every identifying value the generator plants (the scans' list)."""
    c = [f"CNRY-SLIDE-{k}-{seed}" for k in ("FILENAME", "TITLE", "USER", "BARCODE", "SSID",
                                             "LABELPIX", "MACROPIX", "THUMB", "LEVELDESC")]
    return c + ["07/14/21", "11:22:33"]


def texture(rng):
    """One patch of stained tissue: stroma with fibres, nuclei; RGB float32."""
    import numpy as np
    ty, tx = 1031, 1087
    # fibres: noise low-passed in Fourier space, stretched along one axis
    f = np.fft.rfft2(rng.standard_normal((ty, tx)).astype(np.float32))
    ky = np.fft.fftfreq(ty)[:, None]
    kx = np.fft.rfftfreq(tx)[None, :]
    f *= np.exp(-((ky * 9) ** 2 + (kx * 22) ** 2) * 40)
    fib = np.fft.irfft2(f, s=(ty, tx)).astype(np.float32)
    fib /= np.abs(fib).max() + 1e-6
    stroma = np.array([232, 150, 196], np.float32)
    img = stroma + fib[..., None] * np.array([14, 38, 24], np.float32)
    # grain: the fine structure of cytoplasm and collagen, 1-2 pixels across
    g = np.fft.rfft2(rng.standard_normal((ty, tx)).astype(np.float32))
    g *= np.exp(-(ky ** 2 + kx ** 2) * 30)
    g = np.fft.irfft2(g, s=(ty, tx)).astype(np.float32)
    img += (g / (g.std() + 1e-6))[..., None] * np.array([10, 16, 11], np.float32)
    # nuclei: dark purple ellipses with soft rims, about one per 350 px^2
    nuc = np.array([92, 58, 142], np.float32)
    n = ty * tx // 350
    cy, cx = rng.uniform(0, ty, n), rng.uniform(0, tx, n)
    ry, rx = rng.uniform(2.5, 6.5, n), rng.uniform(2.5, 6.5, n)
    dark = rng.uniform(0.6, 1.0, n)
    for i in range(n):
        y0, y1 = int(cy[i] - ry[i] - 2), int(cy[i] + ry[i] + 3)
        x0, x1 = int(cx[i] - rx[i] - 2), int(cx[i] + rx[i] + 3)
        if y0 < 0 or x0 < 0 or y1 > ty or x1 > tx:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1]
        d = ((yy - cy[i]) / ry[i]) ** 2 + ((xx - cx[i]) / rx[i]) ** 2
        a = (np.clip(1.6 - d, 0, 1) * dark[i]).astype(np.float32)[..., None]
        img[y0:y1, x0:x1] = img[y0:y1, x0:x1] * (1 - a) + nuc * a
    return img


def smooth_field(rng, h, w, scale):
    """Smooth noise in [-1, 1] at h x w, features about `scale` cells wide."""
    import numpy as np
    f = np.fft.rfft2(rng.standard_normal((h, w)))
    ky = np.fft.fftfreq(h)[:, None]
    kx = np.fft.rfftfreq(w)[None, :]
    f *= np.exp(-(ky ** 2 + kx ** 2) * (scale ** 2) * 8)
    g = np.fft.irfft2(f, s=(h, w))
    return (g / (np.abs(g).max() + 1e-9)).astype(np.float32)


def tissue_fields(rng, W, H):
    """Mask (0 glass .. 1 tissue) and stain strength at 1/LOW scale, with
    one cell of margin for interpolation."""
    import numpy as np
    lh, lw = H // LOW + 2, W // LOW + 2
    y, x = np.mgrid[0:lh, 0:lw].astype(np.float32)
    field = np.zeros((lh, lw), np.float32)
    for _ in range(5):  # a few sections, each a lumpy ellipse
        cy, cx = rng.uniform(0.2, 0.8) * lh, rng.uniform(0.15, 0.85) * lw
        ry, rx = rng.uniform(0.10, 0.22) * lh, rng.uniform(0.08, 0.18) * lw
        field += np.exp(-(((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2))
    field += 0.35 * smooth_field(rng, lh, lw, 6)
    mask = np.clip((field - 0.45) / 0.12, 0, 1)
    # holes (fat, vessels): small round gaps inside the tissue
    mask *= np.clip(1.2 - np.clip(smooth_field(rng, lh, lw, 2) - 0.55, 0, 1) * 6, 0, 1)
    stain = 0.85 + 0.25 * smooth_field(rng, lh, lw, 10)
    return mask, stain


def upsample(a, r0, r1, W):
    """Rows r0..r1 of the low-res array a, bilinear to full width W."""
    import numpy as np
    fy = (np.arange(r0, r1, dtype=np.float32) + 0.5) / LOW - 0.5
    i0 = np.clip(np.floor(fy).astype(np.int64), 0, a.shape[0] - 2)
    wy = np.clip(fy - i0, 0, 1)[:, None]
    v = a[i0] * (1 - wy) + a[i0 + 1] * wy
    fx = (np.arange(W, dtype=np.float32) + 0.5) / LOW - 0.5
    j0 = np.clip(np.floor(fx).astype(np.int64), 0, a.shape[1] - 2)
    wx = np.clip(fx - j0, 0, 1)[None, :]
    return v[:, j0] * (1 - wx) + v[:, j0 + 1] * wx


def vips_save(dst, W, H, downsample):
    """A `vips tiffsave` reading a PPM from its stdin."""
    xres = 1000.0 / (MPP * downsample)  # pixels per mm
    return subprocess.Popen(
        ["vips", "tiffsave", "stdin", dst, "--tile", "--tile-width", str(TILE), "--tile-height",
         str(TILE), "--compression", "jpeg", "--Q", str(QUALITY), "--xres", f"{xres:.4f}",
         "--yres", f"{xres:.4f}"], stdin=subprocess.PIPE)


def render(tmp, W, H, seed):
    """Level 0 into tmp/l0.tif, 4x and 16x into l1.tif, l2.tif."""
    import numpy as np
    rng = np.random.default_rng(seed)
    tex = texture(rng)
    mask, stain = tissue_fields(rng, W, H)
    glass = np.array([241, 241, 243], np.float32)
    ty, tx = tex.shape[:2]
    cols = np.arange(W) % tx
    W1, H1 = W // 4, H // 4
    l1 = np.empty((H1, W1, 3), np.uint8)
    p = vips_save(os.path.join(tmp, "l0.tif"), W, H, 1)
    p.stdin.write(b"P6\n%d %d\n255\n" % (W, H))
    for r0 in range(0, H, BAND):
        r1 = min(H, r0 + BAND)
        m = upsample(mask, r0, r1, W)[..., None]
        s = upsample(stain, r0, r1, W)[..., None]
        t = tex[np.arange(r0, r1) % ty][:, cols]
        # stain strength darkens the tissue colour towards its own hue
        band = glass + ((t - 255) * s + 255 - glass) * m
        band = np.clip(band, 0, 255).astype(np.uint8)
        p.stdin.write(band.tobytes())
        n = (r1 - r0) // 4
        if n and r0 // 4 < H1:
            n = min(n, H1 - r0 // 4)
            blk = band[:n * 4, :W1 * 4].reshape(n, 4, W1, 4, 3).astype(np.uint16).sum(axis=(1, 3))
            l1[r0 // 4:r0 // 4 + n] = ((blk + 8) // 16).astype(np.uint8)
    p.stdin.close()
    if p.wait():
        raise SystemExit("slidegen: vips tiffsave failed (level 0)")
    W2, H2 = W1 // 4, H1 // 4
    l2 = ((l1[:H2 * 4, :W2 * 4].reshape(H2, 4, W2, 4, 3).astype(np.uint16).sum(axis=(1, 3)) + 8)
          // 16).astype(np.uint8)
    for name, img, ds in (("l1.tif", l1, 4), ("l2.tif", l2, 16)):
        p = vips_save(os.path.join(tmp, name), img.shape[1], img.shape[0], ds)
        p.stdin.write(b"P6\n%d %d\n255\n" % (img.shape[1], img.shape[0]))
        p.stdin.write(img.tobytes())
        p.stdin.close()
        if p.wait():
            raise SystemExit(f"slidegen: vips tiffsave failed ({name})")
    return l2


def encoded_tiles(path):
    """(JPEGTables, iterator over the raw tiles, shape) of a vips tiled TIFF."""
    import tifffile
    t = tifffile.TiffFile(path)
    pg = t.pages[0]
    offs, cnts = list(pg.dataoffsets), list(pg.databytecounts)
    jt, shape = bytes(pg.jpegtables), pg.shape
    t.close()

    def it():
        with open(path, "rb") as f:
            for o, c in zip(offs, cnts):
                f.seek(o)
                yield f.read(c)
    return jt, it(), shape


def pixel_page(w, h, text):
    """An uncompressed page whose bytes spell text (a label's content)."""
    import numpy as np
    raw = (text.encode() * (w * h * 3 // len(text) + 1))[:w * h * 3]
    return np.frombuffer(raw, np.uint8).reshape(h, w, 3)


def write_svs(path, tmp, W, H, l2, seed):
    import numpy as np
    import tifffile
    # tiles arrive already JPEG-coded; tifffile still looks the encoder up
    # (imagecodecs is not packaged for Debian 12), so it gets one never called
    def _never(*a, **k):
        raise AssertionError("tifffile asked to encode")
    tifffile.TIFF.COMPRESSORS._codecs[7] = _never
    c = {k: f"CNRY-SLIDE-{k}-{seed}" for k in ("FILENAME", "TITLE", "USER", "BARCODE", "SSID",
                                                "LABELPIX", "MACROPIX", "THUMB", "LEVELDESC")}
    head = (f"Aperio Image Library v12.0.15 \r\n{W}x{H} [0,0 {W}x{H}] ({TILE}x{TILE}) "
            f"JPEG/RGB Q={QUALITY}")
    desc0 = (head + f"|AppMag = 20|StripeWidth = 2040|ScanScope ID = {c['SSID']}"
             f"|Filename = {c['FILENAME']}|Date = 07/14/21|Time = 11:22:33|Time Zone = GMT+01:00"
             f"|User = {c['USER']}|Title = {c['TITLE']}|MPP = {MPP:.4f}|Left = 25.691574"
             f"|Top = 23.449873|LineCameraSkew = -0.000424|LineAreaXOffset = 0.019265"
             f"|LineAreaYOffset = -0.000313|Focus Offset = 0.000000|ImageID = 1004486"
             f"|OriginalWidth = {W}|OriginalHeight = {H}|Filtered = 5|Exposure Time = 109"
             f"|Exposure Scale = 0.000001|Barcode = {c['BARCODE']}")
    tags = [(271, "s", 0, "Aperio", True), (272, "s", 0, "GT450", True)]
    with tifffile.TiffWriter(path, bigtiff=False) as tw:
        for lvl, name in enumerate(("l0.tif", "l1.tif", "l2.tif")):
            jt, tiles, shape = encoded_tiles(os.path.join(tmp, name))
            desc = desc0 if lvl == 0 else (f"Aperio Image Library v12.0.15 \r\n{W}x{H} -> "
                                           f"{shape[1]}x{shape[0]} - |{c['LEVELDESC']}")
            tw.write(tiles, shape=shape, dtype="uint8", tile=(TILE, TILE), compression=7,
                     photometric="rgb", jpegtables=jt, description=desc, metadata=None,
                     software=False, subfiletype=0, extratags=tags)
            if lvl == 0:  # the stripped thumbnail, second as in Aperio files
                th = np.ascontiguousarray(l2[::2, ::2])
                tw.write(th, photometric="rgb", metadata=None, software=False,
                         description=f"Aperio Image Library v12.0.15 \r\nthumb {c['THUMB']}")
        tw.write(pixel_page(580, 540, c["LABELPIX"]), photometric="rgb", subfiletype=1,
                 description="Aperio Image Library v12.0.15\r\nlabel 580x540",
                 metadata=None, software=False)
        tw.write(pixel_page(1280, 430, c["MACROPIX"]), photometric="rgb", subfiletype=9,
                 description="Aperio Image Library v12.0.15\r\nmacro 1280x430",
                 metadata=None, software=False)


def write_tiff(path, tmp):
    """Level 0's tiles again, as a plain tiled TIFF (photometric YCbCr, as
    libtiff-based converters write it), directory first."""
    import tifffile
    jt, tiles, shape = encoded_tiles(os.path.join(tmp, "l0.tif"))
    res = 10000.0 / MPP  # pixels per cm
    with tifffile.TiffWriter(path, bigtiff=False) as tw:
        tw.write(tiles, shape=shape, dtype="uint8", tile=(TILE, TILE), compression=7,
                 photometric="ycbcr", subsampling=(2, 2), jpegtables=jt, metadata=None,
                 software=False, subfiletype=0, resolution=(res, res), resolutionunit="CENTIMETER")


def generate(out, W, H, seed):
    for d in ("svs", "tiff"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    tmp = tempfile.mkdtemp(dir=out)
    try:
        l2 = render(tmp, W, H, seed)
        write_svs(os.path.join(out, "svs", "slide.svs"), tmp, W, H, l2, seed)
        write_tiff(os.path.join(out, "tiff", "slide.tif"), tmp)
    finally:
        shutil.rmtree(tmp)


def main():
    if sys.argv[1:] == ["canaries"]:
        print("\n".join(canaries()))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--width", type=int, default=40000)
    ap.add_argument("--height", type=int, default=30000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.width < 16 * TILE or a.height < 16 * TILE // 2:
        ap.error(f"at least {16 * TILE} x {8 * TILE} (the 16x level must hold a tile row)")
    generate(a.out, a.width, a.height, a.seed)


if __name__ == "__main__":
    main()
