#!/usr/bin/python3
"""make_multi_slides.py DIR: synthetic multi-file slides as OpenSlide 3.4.1
opens them, with identifying canaries wherever the two formats keep them.
Deterministic, prints nothing on success.  Needs python3-numpy and vips
(libvips-tools, for JPEG).

DIR/mirax/CANARY-MRX-FILENAME.mrxs   3DHISTECH MIRAX.  OpenSlide only checks
    that the .mrxs exists (it never reads it); this one holds a line of text
    with CANARY-MRX-MRXSFILE.  The slide is the folder beside it, named as
    the .mrxs without ".mrxs":
  CANARY-MRX-FILENAME/Slidedat.ini  INI: [GENERAL] SLIDE_NAME (CANARY-MRX-NAME),
      PROJECT_NAME (CANARY-MRX-PROJECT), SLIDE_ID (CANARY-MRX-SLIDEID...),
      SLIDE_CREATIONDATETIME / SLIDE_UTC_CREATIONDATETIME (2021-07-14),
      SCANNER_OPERATOR (CANARY-MRX-USER, a key made up here), the barcode
      text as BARCODE_VALUE in the barcode layer's section (CANARY-MRX-BCVALUE,
      key name not confirmed from a real slide); OpenSlide exposes every key
      as mirax.GROUP.KEY.  Level 0 2048x1536 as 8x6 images of 256x256
      (IMAGENUMBER_X/Y, DIGITIZER_WIDTH/HEIGHT), 4 zoom levels
      (LAYER_0_LEVEL_n_SECTION, IMAGE_CONCAT_FACTOR 0,1,1,1), MPP 0.2425,
      OBJECTIVE_MAGNIFICATION 20, no overlap, one photo per image.
  CANARY-MRX-FILENAME/Index.dat   "01.02" + SLIDE_ID (a canary), then the
      hierarchical records (one per zoom level; level 0 on two linked data
      pages) and the nonhierarchical ones: macro (ScanDataLayer_SlideThumbnail),
      label (ScanDataLayer_SlideBarcode), thumbnail (ScanDataLayer_SlidePreview),
      VIMSLIDE_POSITION_BUFFER.
  CANARY-MRX-FILENAME/Data0000.dat  header ("01.02", SLIDE_ID, "000", 256 zero
      bytes), then the JPEG images of zoom levels 0 and 1.
  CANARY-MRX-FILENAME/Data0001.dat  the same header ("001"), the JPEG images of
      levels 2 and 3, the position buffer (9 bytes a photo), and the associated
      JPEGs: macro (COM CANARY-MRX-MACROPIX), label (COM CANARY-MRX-LABELPIX,
      magenta and green bars), thumbnail (COM CANARY-MRX-THUMB).

DIR/vms/CANARY-VMS-FILENAME.vms   Hamamatsu VMS key file, group [Virtual
    Microscope Specimen]: 2 x 1 JPEGs (ImageFile, ImageFile(1,0)), MapFile,
    OptimisationFile, MacroImage, SourceLens 20, PhysicalWidth/Height (MPP
    0.2425), and canaries Reference (CANARY-VMS-REF), AuthCode
    (CANARY-VMS-AUTH), HardwareSerial (CANARY-VMS-SERIAL), Creator
    (CANARY-VMS-CREATOR), all exposed by OpenSlide as hamamatsu.KEY; a second
    group [Comments] (CANARY-VMS-GROUP2) OpenSlide does not expose.
  CANARY-VMS-FILENAME.jpg        level 0 left half, 1024x1536, restart markers
      every 16 MCUs (4:4:4, 8x8 MCUs); COM CANARY-VMS-JPEGCOM (OpenSlide: openslide.comment)
  CANARY-VMS-FILENAME(1,0).jpg   level 0 right half; COM CANARY-VMS-JPEGCOM2
  CANARY-VMS-FILENAME_map2.jpg   the map (level 1), 512x384, restart markers
  CANARY-VMS-FILENAME.opt        optimisation file: 40-byte records, an MCU
      row's offset in each (all JPEGs in turn, map last)
  CANARY-VMS-FILENAME_macro.jpg  macro, 600x200, magenta and green bars,
      COM CANARY-VMS-MACROPIX

Damaged (to be rejected):
  mirax-nodata/CANARY-MRX-FILENAME.mrxs (+ folder)  Data0000.dat missing
  mirax-cutindex/CANARY-MRX-FILENAME.mrxs (+ folder)  Index.dat cut in half
  vms-noimage/CANARY-VMS-FILENAME.vms (+ files)  ImageFile's JPEG missing
"""
import os, shutil, struct, subprocess, sys, tempfile
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_slides import tissue, jpeg_tiles, seg  # noqa: E402

CANARIES = ["CANARY-MRX-FILENAME", "CANARY-MRX-MRXSFILE", "CANARY-MRX-NAME",
            "CANARY-MRX-PROJECT", "CANARY-MRX-SLIDEID", "CANARY-MRX-USER",
            "CANARY-MRX-BCVALUE", "CANARY-MRX-MACROPIX", "CANARY-MRX-LABELPIX",
            "CANARY-MRX-THUMB", "CANARY-VMS-FILENAME", "CANARY-VMS-REF", "CANARY-VMS-AUTH",
            "CANARY-VMS-SERIAL", "CANARY-VMS-CREATOR", "CANARY-VMS-GROUP2",
            "CANARY-VMS-JPEGCOM", "CANARY-VMS-MACROPIX", "2021-07-14"]
MRX, VMS = "CANARY-MRX-FILENAME", "CANARY-VMS-FILENAME"
SLIDE_ID = "CANARY-MRX-SLIDEID-0A1B2C3D4E5F6"
MPP = 0.2425
IMG = 256            # MIRAX image (camera tile) size
NX, NY = 8, 6        # images across and down at level 0
ZOOMS = 4


def pyramid(img, n):
    """Level k: area mean of 2^k x 2^k blocks (sizes divide exactly here)."""
    out = [img]
    for _ in range(n - 1):
        p = out[-1].astype(np.float32)
        h, w = p.shape[0] // 2, p.shape[1] // 2
        out.append(np.round(p[:2 * h, :2 * w].reshape(h, 2, w, 2, 3).mean(axis=(1, 3)))
                   .astype(np.uint8))
    return out


def vips_jpeg(img, q=85, restart=0):
    d = tempfile.mkdtemp()
    try:
        ppm, jpg = os.path.join(d, "i.ppm"), os.path.join(d, "o.jpg")
        with open(ppm, "wb") as f:
            f.write(b"P6\n%d %d\n255\n" % (img.shape[1], img.shape[0]) + img.tobytes())
        cmd = ["vips", "jpegsave", ppm, jpg, "--Q", str(q), "--strip"]
        if restart:
            cmd += ["--restart-interval", str(restart)]
        subprocess.run(cmd, check=True)
        return open(jpg, "rb").read()
    finally:
        shutil.rmtree(d)


def with_com(jpg, text):
    """A COM segment right after SOI."""
    return jpg[:2] + seg(0xFE, text.encode()) + jpg[2:]


def bars(w, h):
    """Magenta and green vertical bars: colours no tissue has."""
    a = np.zeros((h, w, 3), np.uint8)
    a[:, :, :] = (255, 0, 255)
    for x in range(0, w, 40):
        a[:, x:x + 20] = (0, 255, 0)
    return a


# ---------------------------------------------------------------- MIRAX

def mirax_slidedat(data_names):
    s = ["[GENERAL]",
         "SLIDE_VERSION=01.03",
         "SLIDE_ID=" + SLIDE_ID,
         "SLIDE_NAME=CANARY-MRX-NAME",
         "PROJECT_NAME=CANARY-MRX-PROJECT",
         "SLIDE_CREATIONDATETIME=2021-07-14 11:22:33",
         "SLIDE_UTC_CREATIONDATETIME=2021-07-14T09:22:33Z",
         "SCANNER_OPERATOR=CANARY-MRX-USER",
         "CURRENT_SLIDE_VERSION=1.9",
         "IMAGENUMBER_X=%d" % NX, "IMAGENUMBER_Y=%d" % NY,
         "OBJECTIVE_MAGNIFICATION=20",
         "OBJECTIVE_NAME=Plan-Apochromat",
         "CAMERA_TYPE=CIS_VCC_F52U25CL",
         "CameraImageDivisionsPerSide=1",
         "",
         "[HIERARCHICAL]",
         "HIER_COUNT=1",
         "HIER_0_NAME=Slide zoom level",
         "HIER_0_COUNT=%d" % ZOOMS]
    for i in range(ZOOMS):
        s += ["HIER_0_VAL_%d=ZoomLevel_%d" % (i, i),
              "HIER_0_VAL_%d_SECTION=LAYER_0_LEVEL_%d_SECTION" % (i, i)]
    s += ["NONHIER_COUNT=2",
          "NONHIER_0_NAME=Scan data layer",
          "NONHIER_0_COUNT=3",
          "NONHIER_0_VAL_0=ScanDataLayer_SlideThumbnail",
          "NONHIER_0_VAL_0_SECTION=NONHIERLAYER_0_LEVEL_0_SECTION",
          "NONHIER_0_VAL_1=ScanDataLayer_SlideBarcode",
          "NONHIER_0_VAL_1_SECTION=NONHIERLAYER_0_LEVEL_1_SECTION",
          "NONHIER_0_VAL_2=ScanDataLayer_SlidePreview",
          "NONHIER_0_VAL_2_SECTION=NONHIERLAYER_0_LEVEL_2_SECTION",
          "NONHIER_1_NAME=VIMSLIDE_POSITION_BUFFER",
          "NONHIER_1_COUNT=1",
          "NONHIER_1_VAL_0=default",
          "NONHIER_1_VAL_0_SECTION=NONHIERLAYER_1_LEVEL_0_SECTION",
          "INDEXFILE=Index.dat",
          "",
          "[DATAFILE]",
          "FILE_COUNT=%d" % len(data_names)]
    s += ["FILE_%d=%s" % (i, n) for i, n in enumerate(data_names)]
    for i in range(ZOOMS):
        s += ["", "[LAYER_0_LEVEL_%d_SECTION]" % i,
              "OVERLAP_X=0", "OVERLAP_Y=0",
              "MICROMETER_PER_PIXEL_X=%g" % (MPP * 2 ** i),
              "MICROMETER_PER_PIXEL_Y=%g" % (MPP * 2 ** i),
              "IMAGE_FORMAT=JPEG", "IMAGE_FILL_COLOR_BGR=16777215",
              "DIGITIZER_WIDTH=%d" % IMG, "DIGITIZER_HEIGHT=%d" % IMG,
              "IMAGE_CONCAT_FACTOR=%d" % (0 if i == 0 else 1)]
    s += ["", "[NONHIERLAYER_0_LEVEL_0_SECTION]", "THUMBNAIL_IMAGE_TYPE=JPEG",
          "THUMBNAIL_IMAGE_WIDTH=600", "THUMBNAIL_IMAGE_HEIGHT=200",
          "", "[NONHIERLAYER_0_LEVEL_1_SECTION]", "BARCODE_IMAGE_TYPE=JPEG",
          "BARCODE_VALUE=CANARY-MRX-BCVALUE",
          "", "[NONHIERLAYER_0_LEVEL_2_SECTION]", "PREVIEW_IMAGE_TYPE=JPEG",
          "", "[NONHIERLAYER_1_LEVEL_0_SECTION]", "VIMSLIDE_POSITION_DATA_FORMAT_VERSION=1", ""]
    return "\r\n".join(s).encode()


class Index:
    """Index.dat as a list of int32 words after the version and slide id;
    pointers are byte offsets in the file."""
    def __init__(self):
        self.head = b"01.02" + SLIDE_ID.encode()
        self.words = []

    def here(self):
        return len(self.head) + 4 * len(self.words)

    def put(self, *w):
        at = self.here()
        self.words += list(w)
        return at

    def bytes(self):
        return self.head + struct.pack("<%di" % len(self.words), *self.words)


def data_header(n):
    return b"01.02" + SLIDE_ID.encode() + b"%03d" % n + bytes(256)


def write_mirax(out, seed=21):
    base = tissue(NX * IMG, NY * IMG, seed)
    levels = pyramid(base, ZOOMS)
    names = ["Data0000.dat", "Data0001.dat"]
    data = [bytearray(data_header(0)), bytearray(data_header(1))]
    hier = []           # per zoom level: [(image_index, offset, length, fileno)]
    for z, lv in enumerate(levels):
        c = 2 ** z                              # level 0 images per image, across
        ix, iy = -(-NX // c), -(-NY // c)       # images across, down at this level
        pad = np.full((iy * IMG, ix * IMG, 3), 255, np.uint8)
        pad[:lv.shape[0], :lv.shape[1]] = lv
        tiles = jpeg_tiles(pad, IMG, IMG, q=85)
        fileno = 0 if z < 2 else 1
        items = []
        for k, t in enumerate(tiles):
            gx, gy = k % ix, k // ix
            items.append((gy * c * NX + gx * c, len(data[fileno]), len(t), fileno))
            data[fileno] += t
        hier.append(items)
    # nonhierarchical data: macro, label, thumbnail, position buffer
    assoc = [with_com(vips_jpeg(bars(600, 200)[:, :, [1, 0, 2]] // 2 + 100), "CANARY-MRX-MACROPIX"),
             with_com(vips_jpeg(bars(300, 240)), "CANARY-MRX-LABELPIX"),
             with_com(vips_jpeg(levels[3]), "CANARY-MRX-THUMB")]
    pos = b"".join(struct.pack("<Bii", 1, x * IMG, y * IMG) for y in range(NY) for x in range(NX))
    nonhier = []
    for blob in assoc + [pos]:
        nonhier.append((len(data[1]), len(blob), 1))
        data[1] += blob

    ix = Index()
    roots = ix.put(0, 0)
    htab = ix.put(*[0] * ZOOMS)
    ntab = ix.put(*[0] * len(nonhier))
    ix.words[0], ix.words[1] = htab, ntab
    hier_ptrs = []
    for z, items in enumerate(hier):
        first = ix.put(0, 0)                    # a page of no items, then the list
        pages = [items[:len(items) // 2], items[len(items) // 2:]] if z == 0 else [items]
        ix.words[(first - len(ix.head)) // 4 + 1] = ix.here()
        for p, page in enumerate(pages):
            at = ix.put(len(page), 0)
            for it in page:
                ix.put(*it)
            if p + 1 < len(pages):
                ix.words[(at - len(ix.head)) // 4 + 1] = ix.here()
        hier_ptrs.append(first)
    non_ptrs = []
    for off, ln, fno in nonhier:
        first = ix.put(0, ix.here() + 8)
        ix.put(1, 0, 0, 0, off, ln, fno)
        non_ptrs.append(first)
    for i, p in enumerate(hier_ptrs):
        ix.words[(htab - len(ix.head)) // 4 + i] = p
    for i, p in enumerate(non_ptrs):
        ix.words[(ntab - len(ix.head)) // 4 + i] = p
    assert roots == len(ix.head)

    folder = os.path.join(out, MRX)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(out, MRX + ".mrxs"), "wb") as f:
        f.write(b"[GENERAL]\r\nSLIDE_NAME=CANARY-MRX-MRXSFILE\r\n")
    with open(os.path.join(folder, "Slidedat.ini"), "wb") as f:
        f.write(mirax_slidedat(names))
    with open(os.path.join(folder, "Index.dat"), "wb") as f:
        f.write(ix.bytes())
    for n, d in zip(names, data):
        with open(os.path.join(folder, n), "wb") as f:
            f.write(bytes(d))


# ---------------------------------------------------------------- VMS

def scan_start(j):
    """Offset of the entropy-coded data (after the SOS segment)."""
    i = 2
    while True:
        m, n = j[i + 1], j[i + 2] << 8 | j[i + 3]
        if m == 0xDA:
            return i + 2 + n
        i += 2 + n


def mcu_row_offsets(j, rows, per_row):
    """Offsets of the data starting each MCU row: the scan start, then just
    after every per_row-th restart marker."""
    out, k, i = [scan_start(j)], 0, scan_start(j)
    while len(out) < rows:
        i = j.index(b"\xFF", i)
        if 0xD0 <= j[i + 1] <= 0xD7:            # RSTn
            k += 1
            if k % per_row == 0:
                out.append(i + 2)
            i += 2
        else:                                    # FF00 stuffing or fill
            i += 2 if j[i + 1] == 0 else 1
    return out


def write_vms(out, seed=22, w=2048, h=1536):
    img = tissue(w, h, seed)
    half = w // 2
    # 4:4:4 (vips at Q >= 90), 8x8 MCUs: OpenSlide 3.4.1 on Debian 12 fails
    # to decode full-resolution tiles of 4:2:0 VMS JPEGs ("Corrupt JPEG
    # data: found marker 0xd9 instead of RST0"), scaled levels work
    restart, mcu, q = 16, 8, 90
    parts = [with_com(vips_jpeg(np.ascontiguousarray(img[:, :half]), q, restart),
                      "CANARY-VMS-JPEGCOM"),
             with_com(vips_jpeg(np.ascontiguousarray(img[:, half:]), q, restart),
                      "CANARY-VMS-JPEGCOM2")]
    mp = pyramid(img, 3)[2]
    mapj = vips_jpeg(mp, q, restart)
    macro = with_com(vips_jpeg(bars(600, 200)), "CANARY-VMS-MACROPIX")
    opt = b""
    for j, (pw, ph) in zip(parts + [mapj], [(half, h), (half, h), mp.shape[1::-1]]):
        per_row = -(-pw // mcu) // restart
        for off in mcu_row_offsets(j, -(-ph // mcu), per_row):
            opt += struct.pack("<q", off) + bytes(32)
    names = {"img": VMS + ".jpg", "img10": VMS + "(1,0).jpg", "map": VMS + "_map2.jpg",
             "opt": VMS + ".opt", "macro": VMS + "_macro.jpg"}
    os.makedirs(out, exist_ok=True)
    key = ["[Virtual Microscope Specimen]",
           "NoLayers=1", "NoJpegColumns=2", "NoJpegRows=1",
           "ImageFile=" + names["img"], "ImageFile(1,0)=" + names["img10"],
           "MapFile=" + names["map"], "OptimisationFile=" + names["opt"],
           "MacroImage=" + names["macro"],
           "AuthCode=CANARY-VMS-AUTH", "Reference=CANARY-VMS-REF",
           "HardwareModel=C9600-12", "HardwareSerial=CANARY-VMS-SERIAL",
           "Creator=CANARY-VMS-CREATOR",
           "SourceLens=20",
           "PhysicalWidth=%d" % round(w * MPP * 1000), "PhysicalHeight=%d" % round(h * MPP * 1000),
           "LayerSpacing=0", "PhysicalMacroWidth=76000", "PhysicalMacroHeight=26000",
           "XOffsetFromSlideCentre=1000000", "YOffsetFromSlideCentre=-500000",
           "", "[Comments]", "Text=CANARY-VMS-GROUP2", ""]
    with open(os.path.join(out, VMS + ".vms"), "wb") as f:
        f.write("\r\n".join(key).encode())
    for k, d in (("img", parts[0]), ("img10", parts[1]), ("map", mapj), ("opt", opt),
                 ("macro", macro)):
        with open(os.path.join(out, names[k]), "wb") as f:
            f.write(d)


def main():
    out = sys.argv[1]
    p = lambda *n: os.path.join(out, *n)
    for d in ("mirax", "mirax-nodata", "mirax-cutindex", "vms", "vms-noimage"):
        shutil.rmtree(p(d), ignore_errors=True)
    write_mirax(p("mirax"))
    write_vms(p("vms"))
    for d in ("mirax-nodata", "mirax-cutindex"):
        shutil.copytree(p("mirax"), p(d))
    os.remove(p("mirax-nodata", MRX, "Data0000.dat"))
    ix = open(p("mirax-cutindex", MRX, "Index.dat"), "rb").read()
    open(p("mirax-cutindex", MRX, "Index.dat"), "wb").write(ix[:len(ix) // 2])
    shutil.copytree(p("vms"), p("vms-noimage"))
    os.remove(p("vms-noimage", VMS + ".jpg"))


if __name__ == "__main__":
    main()
