#!/usr/bin/python3
"""make_osl_slides.py DIR: synthetic slides of the vendors only OpenSlide reads,
each as OpenSlide 3.4.1 detects and opens it, with identifying canaries where
that vendor keeps them:

  philips.tiff    Philips TIFF: DataObject XML description (serial number,
                  acquisition date, base64 barcode, free text), Software,
                  DateTime, a Label and a Macro page
  leica.scn       Leica SCN (2010/10/01): XML description (collection name,
                  base64 barcode, creation date, device version), a macro image
  ventana.bif     Ventana BIF (BigTIFF): iScan XMP (barcode, unit number, user,
                  scan date), a Label_Image page and a Thumbnail page
  hamamatsu.ndpi  NDPI: stripped JPEG levels, reference tag 65427, property
                  map 65449 (serial, date), DateTime, a macro (lens -1) JPEG
                  with a comment
  trestle.tif     Trestle (MedScan): tiled JPEG levels whose tiles overlap
                  (OverlapsXY), a ;-separated key=value description (slide
                  name, case, operator, comment, scan date, a note without
                  '='), DateTime, Artist, HostComputer, DocumentName
and damaged ones (cut short: Philips, Ventana, Trestle; a broken NDPI level
0), a VMS index and a MIRAX Slidedat.ini (multi-file slides, rejected).
Needs Debian's python3-tifffile, python3-numpy and vips (libvips-tools).
"""
import base64, os, subprocess, sys, tempfile
import numpy as np
import tifffile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_slides import tissue, jpeg_tiles, pixel_page  # noqa: E402

CANARIES = ["CANARY-PH-SERIAL", "CANARY-PH-BC", "CANARY-PH-TEXT", "CANARY-PH-LABELPIX",
            "CANARY-PH-MACROPIX", "CANARY-LC-NAME", "CANARY-LC-BC", "CANARY-LC-DEVVER",
            "CANARY-LC-MACROPIX", "CANARY-BIF-BC", "CANARY-BIF-UNIT", "CANARY-BIF-USER",
            "CANARY-BIF-LABELPIX", "CANARY-BIF-THUMB", "CANARY-NDPI-REF", "CANARY-NDPI-SERIAL",
            "CANARY-NDPI-MACRO", "CANARY-TR-NAME", "CANARY-TR-CASE", "CANARY-TR-USER",
            "CANARY-TR-TEXT", "CANARY-TR-NOTE", "CANARY-TR-ARTIST", "CANARY-TR-HOST",
            "CANARY-TR-DOC", "2021:07:14", "2021-07-14", "20210714"]
TILE = 256


def b64(s):
    return base64.b64encode(s.encode()).decode()


def levels_of(img, n):
    out = [img]
    for _ in range(n - 1):
        p = out[-1]
        h, w = p.shape[0] // 2 * 2, p.shape[1] // 2 * 2
        out.append(p[:h, :w].reshape(h // 2, 2, w // 2, 2, 3).mean(axis=(1, 3)).astype(np.uint8))
    return out


def write_tiled(tw, lv, **kw):
    lh, lw = lv.shape[:2]
    tw.write(iter(jpeg_tiles(lv, TILE, TILE, q=90)), shape=(lh, lw, 3), dtype="uint8",
             tile=(TILE, TILE), compression=7, photometric="ycbcr", subsampling=(2, 2),
             metadata=None, **kw)


def philips_xml(nlev):
    attr = lambda n, v: '<Attribute Name="%s" Group="0x0" Element="0x0" PMSVR="IString">%s</Attribute>' % (n, v)
    reps = "".join('<DataObject ObjectType="PixelDataRepresentation">%s</DataObject>' %
                   attr("DICOM_PIXEL_SPACING", '"%.6f" "%.6f"' % (0.00025 * 2 ** i, 0.00025 * 2 ** i))
                   for i in range(nlev))
    wsi = ('<DataObject ObjectType="DPScannedImage">' + attr("PIM_DP_IMAGE_TYPE", "WSI") +
           attr("DICOM_PIXEL_SPACING", '"0.000250" "0.000250"') +
           '<Attribute Name="PIIM_PIXEL_DATA_REPRESENTATION_SEQUENCE" PMSVR="IDataObjectArray">'
           '<Array>' + reps + '</Array></Attribute></DataObject>')
    label = ('<DataObject ObjectType="DPScannedImage">' + attr("PIM_DP_IMAGE_TYPE", "LABELIMAGE") +
             attr("PIM_DP_IMAGE_DATA", b64("CANARY-PH-LABELPIX")) + '</DataObject>')
    return ('<?xml version="1.0" encoding="UTF-8" ?><DataObject ObjectType="DPUfsImport">' +
            attr("DICOM_MANUFACTURER", "PHILIPS") +
            attr("DICOM_MANUFACTURERS_MODEL_NAME", "UFS Scanner") +
            attr("DICOM_DEVICE_SERIAL_NUMBER", "CANARY-PH-SERIAL") +
            attr("DICOM_ACQUISITION_DATETIME", "20210714112233.000000") +
            attr("PIM_DP_UFS_BARCODE", b64("CANARY-PH-BC")) +
            attr("PIM_DP_SOURCE_FILE", "CANARY-PH-TEXT") +
            '<Attribute Name="PIM_DP_SCANNED_IMAGES" PMSVR="IDataObjectArray"><Array>' + wsi +
            label + '</Array></Attribute></DataObject>')


def write_philips(path, w=1500, h=1100, seed=11):
    lv = levels_of(tissue(w, h, seed), 3)
    with tifffile.TiffWriter(path) as tw:
        for i, p in enumerate(lv):
            write_tiled(tw, p, software="Philips DP v1.0" if i == 0 else False,
                        description=philips_xml(len(lv)) if i == 0 else "level=%d" % i,
                        subfiletype=1 if i else 0,
                        extratags=[(306, "s", 0, "2021:07:14 11:22:33", True)])
        tw.write(pixel_page(300, 240, "CANARY-PH-LABELPIX"), photometric="rgb",
                 description="Label", metadata=None, software=False)
        tw.write(pixel_page(600, 200, "CANARY-PH-MACROPIX"), photometric="rgb",
                 description="Macro", metadata=None, software=False)


def leica_xml(main, nm_px, margin):
    (w, h), (cw, ch) = main, (main[0] + 2 * margin, main[1] + 2 * margin)
    dims = "".join('<dimension sizeX="%d" sizeY="%d" r="%d" ifd="%d"/>' %
                   (-(-w // 2 ** i), -(-h // 2 ** i), i, i) for i in range(2))
    settings = ('<scanSettings><objectiveSettings><objective>%s</objective></objectiveSettings>'
                '<illuminationSettings><numericalAperture>0.40</numericalAperture>'
                '<illuminationSource>brightfield</illuminationSource></illuminationSettings>'
                '</scanSettings>')
    image = ('<image name="%s" uuid="%s"><creationDate>2021-07-14T11:22:33.00Z</creationDate>'
             '<device model="Leica SCN400" version="CANARY-LC-DEVVER"/>'
             '<pixels sizeX="%d" sizeY="%d">%s</pixels>'
             '<view sizeX="%d" sizeY="%d" offsetX="%d" offsetY="%d" spacingZ="0"/>%s</image>')
    main_img = image % ("CANARY-LC-NAME main", "u1", w, h, dims, w * nm_px, h * nm_px,
                        margin * nm_px, margin * nm_px, settings % "20")
    macro = image % ("macro", "u2", 400, 300, '<dimension sizeX="400" sizeY="300" r="0" ifd="2"/>',
                     cw * nm_px, ch * nm_px, 0, 0, settings % "0.5")
    return ('<?xml version="1.0" encoding="utf-8"?>'
            '<scn xmlns="http://www.leica-microsystems.com/scn/2010/10/01">'
            '<collection name="CANARY-LC-NAME" uuid="c1" sizeX="%d" sizeY="%d">'
            '<barcode>%s</barcode>%s%s</collection></scn>' %
            (cw * nm_px, ch * nm_px, b64("CANARY-LC-BC"), main_img, macro))


def write_leica(path, w=1400, h=1000, seed=12):
    lv = levels_of(tissue(w, h, seed), 2)
    with tifffile.TiffWriter(path, bigtiff=True) as tw:
        for i, p in enumerate(lv):
            write_tiled(tw, p, description=leica_xml((w, h), 500, 64) if i == 0 else None,
                        software=False, subfiletype=0,
                        resolution=(20000.0 / 2 ** i, 20000.0 / 2 ** i),
                        resolutionunit="CENTIMETER")
        tw.write(pixel_page(400, 300, "CANARY-LC-MACROPIX"), photometric="rgb",
                 metadata=None, software=False)


def iscan_xmp():
    return ('<?xml version="1.0" encoding="utf-8"?><Metadata><iScan BarCode="CANARY-BIF-BC" '
            'UnitNumber="CANARY-BIF-UNIT" UserName="CANARY-BIF-USER" ScanDate="2021-07-14" '
            'ScannerModel="iScan HT" Magnification="20" ScanRes="0.465" BuildVersion="3.3.1.1"/>'
            '</Metadata>').encode()


def write_ventana(path, w=1500, h=1100, seed=13):
    lv = levels_of(tissue(w, h, seed), 3)
    with tifffile.TiffWriter(path, bigtiff=True) as tw:
        tw.write(pixel_page(300, 240, "CANARY-BIF-LABELPIX"), photometric="rgb",
                 description="Label_Image", metadata=None, software=False,
                 extratags=[(700, "B", 0, iscan_xmp(), True)])
        for i, p in enumerate(lv):
            write_tiled(tw, p, description="level=%d mag=%g quality=90" % (i, 20 / 2 ** i),
                        software=False, subfiletype=0)
        tw.write(pixel_page(200, 150, "CANARY-BIF-THUMB"), photometric="rgb",
                 description="Thumbnail", metadata=None, software=False)


def vips_jpeg(img, q=90):
    d = tempfile.mkdtemp()
    ppm, jpg = os.path.join(d, "i.ppm"), os.path.join(d, "o.jpg")
    with open(ppm, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (img.shape[1], img.shape[0]) + img.tobytes())
    subprocess.run(["vips", "jpegsave", ppm, jpg, "--Q", str(q), "--strip"], check=True)
    data = open(jpg, "rb").read()
    os.remove(ppm), os.remove(jpg), os.rmdir(d)
    return data


def ndpi_page(tw, data, w, h, lens, res, extra=()):
    tags = [(65420, "I", 1, 1, True), (65421, "f", 1, lens, True), (65424, "i", 1, 0, True),
            (306, "s", 0, "2021:07:14 11:22:33", True), (271, "s", 0, "Hamamatsu", True),
            (272, "s", 0, "C13220", True)] + list(extra)
    # photometric RGB: with YCbCr tifffile rounds RowsPerStrip up to the
    # subsampling, and NDPI needs it to equal the height (OpenSlide decodes
    # the strip as the JPEG stream it is, whatever the tag says)
    tw.write(iter([data]), shape=(h, w, 3), dtype="uint8", compression=7, photometric="rgb",
             rowsperstrip=h, metadata=None, software=False,
             resolution=(res, res), resolutionunit="CENTIMETER", extratags=tags)


def write_ndpi(path, w=1024, h=768, seed=14, damage=None):
    lv = levels_of(tissue(w, h, seed), 2)
    macro = vips_jpeg(np.full((208, 600, 3), 200, np.uint8))
    macro = macro[:2] + b"\xFF\xFE\x00\x13CANARY-NDPI-MACRO" + macro[2:]
    ident = [(65427, "s", 0, "CANARY-NDPI-REF", True),
             (65449, "s", 0, "SerialNumber=CANARY-NDPI-SERIAL\r\nCreated=2021:07:14\r\n", True)]
    with tifffile.TiffWriter(path) as tw:
        for i, p in enumerate(lv):
            data = vips_jpeg(p)
            if damage and i == 0:
                data = data[:600] + bytes(range(256)) * 40
            ndpi_page(tw, data, p.shape[1], p.shape[0], 20.0, 22000.0 / 2 ** i,
                      ident if i == 0 else ())
        ndpi_page(tw, macro, 600, 208, -1.0, 1000.0)


def overlapped(img, ov):
    """A level as Trestle stores it: TILE-square tiles advancing TILE - ov, so
    neighbours share ov pixels; the TIFF's size is the level's plus the
    overlaps (OpenSlide 3.4.1 subtracts (tiles - 1) * ov per side)."""
    h, w = img.shape[:2]
    adv = TILE - ov
    def count(n):
        k = 1
        while -(-(n + (k - 1) * ov) // TILE) != k:
            k += 1
        return k
    nx, ny = count(w), count(h)
    pad = np.pad(img, ((0, ny * TILE), (0, nx * TILE), (0, 0)), mode="edge")
    out = np.empty((ny * TILE, nx * TILE, 3), np.uint8)
    for ty in range(ny):
        for tx in range(nx):
            out[ty * TILE:(ty + 1) * TILE, tx * TILE:(tx + 1) * TILE] = \
                pad[ty * adv:ty * adv + TILE, tx * adv:tx * adv + TILE]
    return out[:h + (ny - 1) * ov, :w + (nx - 1) * ov]


def trestle_desc(overlaps):
    # keys as OpenSlide 3.4.1 parses them (OverlapsXY: a space, then x y per
    # level; Objective Power; Background Color), and free text a scanner
    # keeps beside them
    return ";".join(["Background Color=FFFFFF", "White Balance=F0F0F0", "Objective Power=20",
                     "JPEG Quality=90", "OverlapsXY= " + " ".join("%d %d" % (o, o) for o in overlaps),
                     "Slide Name=CANARY-TR-NAME", "Case Number=CANARY-TR-CASE",
                     "Operator=CANARY-TR-USER", "Comment=CANARY-TR-TEXT",
                     "Scan Date=2021-07-14 11:22:33",
                     # a segment without '=': OpenSlide makes it a property
                     # without a value (and GLib complains; sluice must not print)
                     "CANARY-TR-NOTE"])


def write_trestle(path, w=1500, h=1100, seed=15):
    lv = levels_of(tissue(w, h, seed), 3)
    overlaps = [16, 8, 4]
    ident = [(306, "s", 0, "2021:07:14 11:22:33", True), (315, "s", 0, "CANARY-TR-ARTIST", True),
             (316, "s", 0, "CANARY-TR-HOST", True), (269, "s", 0, "CANARY-TR-DOC", True)]
    with tifffile.TiffWriter(path) as tw:
        for i, (p, ov) in enumerate(zip(lv, overlaps)):
            # XResolution holds the MPP itself (OpenSlide's reading of Trestle)
            write_tiled(tw, overlapped(p, ov), software="MedScan 2.0" if i == 0 else False,
                        description=trestle_desc(overlaps) if i == 0 else None,
                        subfiletype=1 if i else 0, resolution=(0.5 * 2 ** i, 0.5 * 2 ** i),
                        resolutionunit="NONE", extratags=ident if i == 0 else [])


def main():
    import tifffile as _t  # noqa: F401 (the monkeypatch in make_slides applies)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    p = lambda n: os.path.join(out, n)
    write_philips(p("philips.tiff"))
    write_leica(p("leica.scn"))
    write_ventana(p("ventana.bif"))
    write_ndpi(p("hamamatsu.ndpi"))
    write_trestle(p("trestle.tif"))
    data = open(p("trestle.tif"), "rb").read()
    open(p("trestle-cut.tif"), "wb").write(data[:len(data) * 6 // 10])
    write_ndpi(p("broken.ndpi"), damage=True)
    data = open(p("philips.tiff"), "rb").read()
    open(p("philips-cut.tiff"), "wb").write(data[:len(data) // 2])
    data = open(p("ventana.bif"), "rb").read()
    open(p("ventana-cut.bif"), "wb").write(data[:len(data) * 4 // 10])
    with open(p("slide.vms"), "w") as f:
        f.write("[Virtual Microscope Specimen]\nNoLayers=1\nNoJpegColumns=1\nNoJpegRows=1\n"
                "ImageFile=CANARY-VMS.jpg\n")
    with open(p("Slidedat.ini"), "w") as f:
        f.write("[GENERAL]\nSLIDE_ID=CANARY-MIRAX-ID\n[HIERARCHICAL]\nHIER_COUNT=0\n")


if __name__ == "__main__":
    main()
