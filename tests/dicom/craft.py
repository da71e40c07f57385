#!/usr/bin/env python3
"""craft.py: the byte-level parts of the DICOM test corpus that DCMTK's
tools cannot write (make_corpus.sh calls it; Python 3 standard library only,
deterministic: no clock, no randomness without a fixed seed).

  craft.py pixels DIR              ct16.raw (16x16, 16 bits) and mr8.raw (64x64, 8 bits)
  craft.py mixed OUT               nested sequences mixing defined and undefined lengths
  craft.py bad CT OUTDIR           malformed files cut from a valid explicit VR LE file
  craft.py preamble CT OUT         CT with identifying text in its 128-byte preamble
  craft.py large CT OUT            CT with 256x256 pixels (128 KiB) and a 70000-byte private
                                   OB: top-level values the de-identifier streams as bulk
  craft.py fix-uid FILE UID-ROOT   replace (0002,0003) by a fixed UID of the same length
  craft.py charsets OUTDIR         cs-*.dcm: one CT per character set family, names and
                                   text in that set, Other Patient IDs and Original
                                   Attributes Sequences
  craft.py charset-canaries        the names' bytes in each set, one hex string a line
  craft.py sop-classes OUTDIR      one small instance per storage SOP class (and a few
                                   classes sluice does not know), with Burned In
                                   Annotation absent, NO and YES; expected.tsv says
                                   which are ingested (cli_dicom_sop.sh)
  craft.py subjects OUTDIR         instances whose Patient ID names no one (empty,
                                   spaces, NULs, no element) and one that does
                                   (cli_subjects.sh)
  craft.py insert FILE TAG VR TEXT add a top-level element (gggg,eeee) in tag order to an
                                   explicit VR LE file (check_checker.sh: private elements
                                   that dcmodify will not write)
"""
import os
import random
import struct
import sys

UNDEF = 0xFFFFFFFF
LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR",
            b"UT", b"UV"}


def pixels(outdir):
    ct = b"".join(struct.pack("<H", (x * 37 + y * 101) % 4096) for y in range(16) for x in range(16))
    open(outdir + "/ct16.raw", "wb").write(ct)
    r = random.Random(7)  # texture, so that the JPEG spans several 1 KiB fragments
    mr = bytes(((x * 3 + y * 2) + r.randrange(40)) & 255 for y in range(64) for x in range(64))
    open(outdir + "/mr8.raw", "wb").write(mr)


# ---- explicit VR little endian writer ----

def pad(vr, v):
    if len(v) % 2:
        v += b"\0" if vr in (b"UI", b"OB") else b" "
    return v


def el(g, e, vr, value):
    vr = vr.encode()
    v = pad(vr, value.encode() if isinstance(value, str) else value)
    if vr in LONG_VRS:
        return struct.pack("<HH2sHI", g, e, vr, 0, len(v)) + v
    return struct.pack("<HH2sH", g, e, vr, len(v)) + v


def item(body, defined):
    if defined:
        return struct.pack("<HHI", 0xFFFE, 0xE000, len(body)) + body
    return (struct.pack("<HHI", 0xFFFE, 0xE000, UNDEF) + body +
            struct.pack("<HHI", 0xFFFE, 0xE00D, 0))


def seq(g, e, items, defined):
    body = b"".join(items)
    if defined:
        return struct.pack("<HH2sHI", g, e, b"SQ", 0, len(body)) + body
    return (struct.pack("<HH2sHI", g, e, b"SQ", 0, UNDEF) + body +
            struct.pack("<HHI", 0xFFFE, 0xE0DD, 0))


def part10(sop_class, sop_inst, dataset):
    meta = (el(0x0002, 0x0001, "OB", b"\0\1") + el(0x0002, 0x0002, "UI", sop_class) +
            el(0x0002, 0x0003, "UI", sop_inst) + el(0x0002, 0x0010, "UI", "1.2.840.10008.1.2.1"))
    return (b"\0" * 128 + b"DICM" + el(0x0002, 0x0000, "UL", struct.pack("<I", len(meta))) +
            meta + dataset)


def mixed(out):
    """Three levels of sequences alternating undefined and defined lengths
    (sequence and item lengths disagree at every level), an empty item and
    an empty sequence of each kind, identifying values at every depth."""
    root = "1.2.826.0.1.3680043.9.7777.5"
    ct = "1.2.840.10008.5.1.4.1.1.2"
    inst = root + ".1.1"
    depth3 = item(el(0x0008, 0x0020, "DA", "20230405") +
                  el(0x0008, 0x0090, "PN", "CANARY^MIXED^DEPTH3") +
                  el(0x0008, 0x0100, "SH", "C3") + el(0x0008, 0x0102, "SH", "99SLUICE") +
                  el(0x0008, 0x0104, "LO", "Depth three") +
                  el(0x0008, 0x1155, "UI", inst), defined=True)
    depth2 = item(el(0x0008, 0x1155, "UI", root + ".5.1") +
                  el(0x0014, 0x0104, "PN", "CANARY^MIXED^DEPTH2") +
                  el(0x0040, 0xA040, "CS", "PNAME") +
                  el(0x0040, 0xA123, "PN", "CANARY^MIXED^PERSON") +
                  seq(0x0040, 0xA168, [depth3], defined=False), defined=False)
    depth1 = item(el(0x0008, 0x0090, "PN", "CANARY^MIXED^DEPTH1") +
                  el(0x0008, 0x0100, "SH", "P2") + el(0x0008, 0x0102, "SH", "99SLUICE") +
                  el(0x0008, 0x0104, "LO", "Mixed lengths") +
                  el(0x0014, 0x0102, "DA", "20230406") +
                  seq(0x0040, 0x0440, [depth2], defined=True), defined=True)
    ds = (el(0x0008, 0x0016, "UI", ct) + el(0x0008, 0x0018, "UI", inst) +
          el(0x0008, 0x0020, "DA", "20230405") + el(0x0008, 0x0050, "SH", "CANARYACC05") +
          el(0x0008, 0x0060, "CS", "CT") +
          seq(0x0008, 0x1032, [item(b"", defined=True), item(b"", defined=False)], defined=False) +
          seq(0x0008, 0x1110, [], defined=True) +
          seq(0x0008, 0x1111, [], defined=False) +
          el(0x0010, 0x0010, "PN", "CANARY^PATIENT") + el(0x0010, 0x0020, "LO", "CANARYPID") +
          el(0x0010, 0x0030, "DA", "19710203") +
          el(0x0020, 0x000D, "UI", root) + el(0x0020, 0x000E, "UI", root + ".1") +
          seq(0x0040, 0x0260, [depth1, item(el(0x0008, 0x0100, "SH", "P3") +
                                           el(0x0008, 0x1070, "PN", "CANARY^MIXED^OPERATOR"),
                                           defined=False)], defined=False))
    open(out, "wb").write(part10(ct, inst, ds))


# ---- character sets ----

# (file, Specific Character Set, surname, given name, codec): one per family
# PS3.3 C.12.1.1.2 defines: single-byte ISO 8859 parts, UTF-8, GB18030, and
# ISO 2022 with code extensions (Japanese, Korean).
CHARSETS = [
    ("latin1", "ISO_IR 100", "Müller", "Zoë", "latin-1"),
    ("latin2", "ISO_IR 101", "Dvořák", "Řehoř", "iso8859-2"),
    ("cyrillic", "ISO_IR 144", "Гусев", "Пётр", "iso8859-5"),
    ("arabic", "ISO_IR 127", "قباني", "لنزار", "iso8859-6"),
    ("greek", "ISO_IR 126", "Παπαδόπουλος", "Ελένη", "iso8859-7"),
    ("hebrew", "ISO_IR 138", "שרון", "דבורה", "iso8859-8"),
    ("thai", "ISO_IR 166", "สมบัติ", "สมชาย", "tis-620"),
    ("utf8", "ISO_IR 192", "Wang^王", "Сергей", "utf-8"),
    ("gb18030", "GB18030", "王", "小明", "gb18030"),
    ("japanese", "\\ISO 2022 IR 87", "山田", "太郎", "iso2022_jp"),
    ("korean", "\\ISO 2022 IR 149", "홍", "길동", "korean"),
]


def encode(text, codec):
    if codec == "korean":  # G1 designated by ESC $ ) C, then EUC-KR bytes
        return b"\x1b$)C" + text.encode("euc_kr")
    return text.encode(codec)


def charsets(outdir):
    ct = "1.2.840.10008.5.1.4.1.1.2"
    pix = b"".join(struct.pack("<H", (x * 37 + y * 101) % 4096) for y in range(16) for x in range(16))
    for n, (name, spec, surname, given, codec) in enumerate(CHARSETS):
        root = "1.2.826.0.1.3680043.9.7777.7.%d" % (n + 1)
        sur, giv = encode(surname, codec), encode(given, codec)
        pn = b"CANARY" + sur + b"^" + giv
        if codec != "latin-1":  # the ideographic group too (PS3.5 6.2.1)
            pn = b"CANARY^CS=" + sur + b"^" + giv
        other_ids = seq(0x0010, 0x1002, [item(el(0x0010, 0x0020, "LO", "CANARYOTHER%d" % n) +
                                              el(0x0010, 0x0022, "CS", "TEXT"), True)], True)
        modified = seq(0x0400, 0x0550, [item(el(0x0010, 0x0010, "PN", pn) +
                                             el(0x0010, 0x0020, "LO", "CANARYOLDPID"), True)], True)
        original = seq(0x0400, 0x0561, [item(
            modified + el(0x0400, 0x0562, "DT", "20230407101010") +
            el(0x0400, 0x0563, "LO", b"CANARY " + sur) + el(0x0400, 0x0564, "LO", "CANARYSRC") +
            el(0x0400, 0x0565, "CS", "COERCE"), True)], True)
        ds = (el(0x0008, 0x0005, "CS", spec) +
              el(0x0008, 0x0008, "CS", "ORIGINAL\\PRIMARY\\AXIAL") +
              el(0x0008, 0x0016, "UI", ct) + el(0x0008, 0x0018, "UI", root + ".3") +
              el(0x0008, 0x0020, "DA", "20230405") + el(0x0008, 0x0030, "TM", "101010") +
              el(0x0008, 0x0050, "SH", "CANARYACC7") + el(0x0008, 0x0060, "CS", "CT") +
              el(0x0008, 0x0070, "LO", "SLUICE TEST VENDOR") +
              el(0x0008, 0x0080, "LO", b"CANARY " + sur + b" HOSPITAL") +
              el(0x0008, 0x0090, "PN", pn) + el(0x0008, 0x1030, "LO", b"CANARY " + giv) +
              el(0x0010, 0x0010, "PN", pn) + el(0x0010, 0x0020, "LO", "CANARYPID") +
              el(0x0010, 0x0030, "DA", "19710203") + el(0x0010, 0x0040, "CS", "O") +
              other_ids + el(0x0010, 0x4000, "LT", b"CANARY comment " + sur) +
              el(0x0018, 0x0060, "DS", "120") +
              el(0x0020, 0x000D, "UI", root) + el(0x0020, 0x000E, "UI", root + ".2") +
              el(0x0020, 0x0010, "SH", "CANARYSTUDY") + el(0x0020, 0x0011, "IS", "1") +
              el(0x0020, 0x0013, "IS", "1") +
              el(0x0028, 0x0002, "US", struct.pack("<H", 1)) +
              el(0x0028, 0x0004, "CS", "MONOCHROME2") +
              el(0x0028, 0x0010, "US", struct.pack("<H", 16)) +
              el(0x0028, 0x0011, "US", struct.pack("<H", 16)) +
              el(0x0028, 0x0100, "US", struct.pack("<H", 16)) +
              el(0x0028, 0x0101, "US", struct.pack("<H", 12)) +
              el(0x0028, 0x0102, "US", struct.pack("<H", 11)) +
              el(0x0028, 0x0103, "US", struct.pack("<H", 0)) +
              el(0x0028, 0x1050, "DS", "40") + el(0x0028, 0x1051, "DS", "400") +
              el(0x0028, 0x1052, "DS", "-1024") + el(0x0028, 0x1053, "DS", "1") +
              original + el(0x7FE0, 0x0010, "OW", pix))
        open("%s/cs-%s.dcm" % (outdir, name), "wb").write(part10(ct, root + ".3", ds))


def charset_canaries():
    for _, _, surname, given, codec in CHARSETS:
        for t in (surname, given):
            b = encode(t, codec)
            # the escape sequence alone is no canary: the bytes after it are
            print((b[4:] if codec == "korean" else b).hex())


# ---- malformed files ----

def top_elements(buf):
    """(offset, group, element, vr, header length, value length) of each
    top-level element of an explicit VR LE Part 10 file whose sequences
    have defined lengths."""
    assert buf[128:132] == b"DICM"
    off = 132
    while off < len(buf):
        g, e, vr = struct.unpack_from("<HH2s", buf, off)
        if vr in LONG_VRS:
            (n,) = struct.unpack_from("<I", buf, off + 8)
            hl = 12
        else:
            (n,) = struct.unpack_from("<H", buf, off + 6)
            hl = 8
        assert n != UNDEF, "want defined lengths"
        yield off, g, e, vr, hl, n
        off += hl + n


def find(buf, g, e):
    for t in top_elements(buf):
        if t[1] == g and t[2] == e:
            return t
    raise SystemExit("craft.py: (%04X,%04X) not in the file" % (g, e))


def bad(ct_path, outdir):
    ct = open(ct_path, "rb").read()
    # cut in the middle of Institution Name's value
    off, _, _, _, hl, _ = find(ct, 0x0008, 0x0080)
    open(outdir + "/bad-truncated.dcm", "wb").write(ct[:off + hl + 6])
    # Study Description's 16-bit length says 65520: far past the end of the file
    off, _, _, _, _, _ = find(ct, 0x0008, 0x1030)
    b = bytearray(ct)
    struct.pack_into("<H", b, off + 6, 0xFFF0)
    open(outdir + "/bad-length-past-end.dcm", "wb").write(bytes(b))
    # an OB that is not Pixel Data, of undefined length, never delimited
    off, _, _, _, _, _ = find(ct, 0x7FE0, 0x0010)
    junk = bytes((i * 7 + 3) & 255 for i in range(300)).replace(b"\xfe\xff", b"\xfe\x00")
    open(outdir + "/bad-undefined-length-ob.dcm", "wb").write(
        ct[:off] + struct.pack("<HH2sHI", 0x0042, 0x0011, b"OB", 0, UNDEF) + junk)
    # Patient ID with an odd length (9), its padding byte dropped
    off, _, _, _, hl, n = find(ct, 0x0010, 0x0020)
    value = ct[off + hl:off + hl + n].rstrip(b" ")
    assert len(value) % 2 == 1, "want an odd-length Patient ID in the template"
    el9 = ct[off:off + 6] + struct.pack("<H", len(value)) + value
    open(outdir + "/bad-odd-length.dcm", "wb").write(ct[:off] + el9 + ct[off + hl + n:])
    # cut between elements, just before Pixel Data: an image without pixels
    off, _, _, _, _, _ = find(ct, 0x7FE0, 0x0010)
    open(outdir + "/bad-no-pixels.dcm", "wb").write(ct[:off])


def preamble(ct_path, out):
    ct = open(ct_path, "rb").read()
    text = (b"CANARY PREAMBLE of Mr Canary, born 19710203. " * 3)[:128]
    open(out, "wb").write(text + ct[128:])


def large(ct_path, out):
    ct = open(ct_path, "rb").read()
    parts = [ct[:132]]
    added = False
    for off, g, e, _, hl, n in top_elements(ct):
        if not added and (g, e) > (0x0019, 0x0000):
            bulk = (b"CANARY private bulk value " * 2700)[:70000]
            parts.append(el(0x0019, 0x0010, "LO", "SLUICE CANARY BULK") +
                         el(0x0019, 0x1001, "OB", bulk))
            added = True
        if (g, e) in ((0x0028, 0x0010), (0x0028, 0x0011)):
            parts.append(ct[off:off + hl] + struct.pack("<H", 256))
        elif (g, e) == (0x7FE0, 0x0010):
            px = b"".join(struct.pack("<H", (x * 13 + y * 29 + (x * y) % 17) % 4096)
                          for y in range(256) for x in range(256))
            parts.append(el(0x7FE0, 0x0010, "OW", px))
        else:
            parts.append(ct[off:off + hl + n])
    open(out, "wb").write(b"".join(parts))


def fix_uid(path, root):
    """dcmmkdir gives each DICOMDIR a fresh Media Storage SOP Instance UID;
    put a fixed one of the same length in its place (no offset moves)."""
    buf = bytearray(open(path, "rb").read())
    for off, g, e, _, hl, n in top_elements(bytes(buf)):
        if g != 0x0002:
            break
        if e == 0x0003:
            new = (root + ".1" + "1" * n)[:n - 1] + "\0"
            assert n % 2 == 0 and len(root) + 3 < n and len(new) == n
            buf[off + hl:off + hl + n] = new.encode()
            open(path, "wb").write(bytes(buf))
            return
    raise SystemExit("craft.py: no (0002,0003) in " + path)


def insert(path, tag, vr, text):
    g, e = (int(x, 16) for x in tag.strip("()").split(","))
    buf = open(path, "rb").read()
    at = len(buf)
    for off, eg, ee, _, _, _ in top_elements(buf):
        if eg != 0x0002 and (eg, ee) > (g, e):
            at = off
            break
    open(path, "wb").write(buf[:at] + el(g, e, vr, text) + buf[at:])


# ---- one small instance of any SOP class (sop-classes, subjects) ----

def instance(cls, root, modality, pid=None, bia=None, image=True, meta_cls=None, name="CANARY^PATIENT",
             bulk=False):
    """A minimal explicit VR LE instance: class, UIDs under root (study root,
    series root.1, instance root.1.1), Modality, Patient's Name, Patient ID
    (pid None: no element; b"" or spaces: as given), Burned In Annotation
    (None: no element), and a 2x2 8-bit image when image.  The file meta
    names meta_cls (default cls); cls None leaves (0008,0016) out.  bulk: a
    70,000-byte private element in group 0019, before the study and Burned
    In Annotation, which sluice streams past as bulk data."""
    ds = el(0x0008, 0x0008, "CS", "ORIGINAL\\PRIMARY") if image else b""
    if cls:
        ds += el(0x0008, 0x0016, "UI", cls)
    ds += (el(0x0008, 0x0018, "UI", root + ".1.1") + el(0x0008, 0x0020, "DA", "20230405") +
           el(0x0008, 0x0060, "CS", modality) + el(0x0008, 0x0070, "LO", "SLUICE TEST VENDOR"))
    if name is not None:
        ds += el(0x0010, 0x0010, "PN", name)
    if pid is not None:
        ds += el(0x0010, 0x0020, "LO", pid)
    ds += el(0x0010, 0x0030, "DA", "19710203")
    if bulk:
        ds += el(0x0019, 0x0010, "LO", "SLUICE TEST") + el(0x0019, 0x1000, "OB", bytes(70000))
    ds += (el(0x0020, 0x000D, "UI", root) +
           el(0x0020, 0x000E, "UI", root + ".1"))
    if image:
        ds += el(0x0028, 0x0002, "US", struct.pack("<H", 1)) + el(0x0028, 0x0004, "CS", "MONOCHROME2")
        for e, v in ((0x0010, 2), (0x0011, 2), (0x0100, 8), (0x0101, 8), (0x0102, 7), (0x0103, 0)):
            ds += el(0x0028, e, "US", struct.pack("<H", v))
    if bia is not None:
        ds += el(0x0028, 0x0301, "CS", bia)
    if image:
        ds += el(0x7FE0, 0x0010, "OB", bytes([0, 64, 128, 255]))
    return part10(meta_cls or cls, root + ".1.1", ds)


S = "1.2.840.10008.5.1.4.1.1."
# name, SOP Class UID, Modality, an image, presumed to carry burned-in text
# (sluice's table: codecs/dicom/sop_class.c); the classes sluice may meet,
# and classes it does not know
SOP_CLASSES = [
    ("ct", S + "2", "CT", True, False), ("ct-enhanced", S + "2.1", "CT", True, False),
    ("mr", S + "4", "MR", True, False), ("mr-enhanced", S + "4.1", "MR", True, False),
    ("dx", S + "1.1", "DX", True, False), ("xa", S + "12.1", "XA", True, False),
    ("seg", S + "66.4", "SEG", True, False), ("reg", S + "66.1", "REG", False, False),
    ("reg-deformable", S + "66.3", "REG", False, False),
    ("pmap", S + "30", "MR", True, False), ("wsm", S + "77.1.6", "SM", True, False),
    ("vl-micro", S + "77.1.2", "GM", True, False), ("op", S + "77.1.5.1", "OP", True, False),
    ("rtstruct", S + "481.3", "RTSTRUCT", False, False),
    ("rtplan", S + "481.5", "RTPLAN", False, False),
    ("rtdose", S + "481.2", "RTDOSE", True, False), ("rtimage", S + "481.1", "RTIMAGE", True, False),
    ("kos", S + "88.59", "KO", False, False), ("pr", S + "11.1", "PR", False, False),
    ("sr-basic", S + "88.11", "SR", False, False), ("sr-comprehensive", S + "88.33", "SR", False, False),
    ("pdf", S + "104.1", "DOC", False, False),
    ("us", S + "6.1", "US", True, True), ("us-retired", S + "6", "US", True, True),
    ("us-mf", S + "3.1", "US", True, True), ("us-mf-retired", S + "3", "US", True, True),
    ("us-volume", S + "6.2", "US", True, True),
    ("sc", S + "7", "OT", True, True), ("sc-mf-bit", S + "7.1", "OT", True, True),
    ("sc-mf-byte", S + "7.2", "OT", True, True), ("sc-mf-word", S + "7.3", "OT", True, True),
    ("sc-mf-colour", S + "7.4", "OT", True, True),
    ("endoscopy", S + "77.1.1", "ES", True, True), ("endoscopy-video", S + "77.1.1.1", "ES", True, True),
    ("photo", S + "77.1.4", "XC", True, True), ("photo-video", S + "77.1.4.1", "XC", True, True),
    # a known class decides, whatever the Modality says
    ("sr-modality-us", S + "88.33", "US", False, False),
    # not in the table: the ultrasound and secondary capture branches, Modality US
    ("unknown-us-branch", S + "6.99", "OT", True, True),
    ("unknown-sc-branch", S + "7.99", "OT", True, True),
    ("unknown-vl", S + "77.1.99", "SM", True, False),
    ("unknown-66", S + "66.99", "SEG", True, False),
    ("unknown-prefix-30", S + "300", "OT", True, False),
    ("private-us", "1.2.826.0.1.3680043.9.7777.99.1", "US", True, True),
    ("private-ot", "1.2.826.0.1.3680043.9.7777.99.2", "OT", True, False),
]


def sop_classes(outdir):
    """NAME-absent.dcm, NAME-no.dcm, NAME-yes.dcm per class (Burned In
    Annotation absent, NO, YES); expected.tsv: file, ingested|rejected.
    us-meta-only-*: an ultrasound class named only by the file meta;
    ct-bulk-*, us-bulk-*: Burned In Annotation after a bulk element, so not
    in the elements sluice reads before it writes."""
    rows = []
    cases = [(n, c, m, img, prone, None, False) for n, c, m, img, prone in SOP_CLASSES]
    cases.append(("us-meta-only", None, "OT", True, True, S + "6.1", False))
    cases.append(("ct-bulk", S + "2", "CT", True, False, None, True))
    cases.append(("us-bulk", S + "6.1", "US", True, True, None, True))
    for i, (n, cls, mod, img, prone, meta_cls, bulk) in enumerate(cases):
        for j, bia in enumerate((None, "NO", "YES")):
            root = "1.2.826.0.1.3680043.9.7777.20.%d.%d" % (i + 1, j + 1)
            f = "%s-%s.dcm" % (n, (bia or "absent").lower())
            open(os.path.join(outdir, f), "wb").write(
                instance(cls, root, mod, pid="CANARYPID", bia=bia, image=img, meta_cls=meta_cls,
                         bulk=bulk))
            ok = bia == "NO" or (bia is None and not prone)
            rows.append("%s\t%s\n" % (f, "ingested" if ok else "rejected"))
    open(os.path.join(outdir, "expected.tsv"), "w").write("".join(rows))


def subjects(outdir):
    """CTs and an SR that identify no one, each its own study: ct-pid-empty
    (zero-length Patient ID), ct-pid-blank (spaces), ct-pid-nul (NUL
    padding), sr-no-pid (no Patient ID element, a Patient's Name);
    ct-pid-empty-same-study (a second instance of ct-pid-empty's study);
    ct-pid-p1 (Patient ID CANARY-PID-P1, for the subject map)."""
    r = "1.2.826.0.1.3680043.9.7777.30."
    ct, sr = S + "2", S + "88.11"
    files = [("ct-pid-empty.dcm", ct, r + "1", b"", "CT"), ("ct-pid-blank.dcm", ct, r + "2", b"    ", "CT"),
             ("ct-pid-nul.dcm", ct, r + "3", b"\0\0", "CT"), ("sr-no-pid.dcm", sr, r + "4", None, "SR"),
             ("ct-pid-p1.dcm", ct, r + "5", b"CANARY-PID-P1", "CT")]
    for f, cls, root, pid, mod in files:
        open(os.path.join(outdir, f), "wb").write(
            instance(cls, root, mod, pid=pid, image=cls == ct))
    # the same study as ct-pid-empty, another series and instance
    same = instance(ct, r + "1", "CT", pid=b"").replace((r + "1.1").encode(), (r + "1.2").encode())
    open(os.path.join(outdir, "ct-pid-empty-same-study.dcm"), "wb").write(same)


def main(argv):
    cmds = {"pixels": (pixels, 1), "mixed": (mixed, 1), "bad": (bad, 2), "fix-uid": (fix_uid, 2),
            "insert": (insert, 4), "charsets": (charsets, 1), "charset-canaries": (charset_canaries, 0), "preamble": (preamble, 2), "large": (large, 2),
            "sop-classes": (sop_classes, 1), "subjects": (subjects, 1)}
    if len(argv) < 2 or argv[1] not in cmds or len(argv) - 2 != cmds[argv[1]][1]:
        raise SystemExit(__doc__)
    cmds[argv[1]][0](*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
