#!/usr/bin/env python3
"""dicomgen.py: deterministic DICOM corpora for the bench (Python 3 standard
library only).  Files are DICOM Part 10, explicit VR little endian, written
byte by byte (no DCMTK per file: 100,000 files take seconds, not hours).

  dicomgen.py ct OUTDIR [--size 1G] [--seed 1]      a PACS export of CT/MR series
  dicomgen.py small OUTDIR [--count 100000] [--seed 1]  small SR, KO and MR files
  dicomgen.py canaries [--seed 1]                   the identifying values planted
                                                    (text, UID root, dates), one a line

Every identifying value is a canary: text holding CANARY (names, IDs,
accession numbers, institution, physicians, operators, addresses, free text,
private elements, SR text and names at depth), a date from the corpus's
date pools (birth and study dates; dates hold no letters, so they are
searched by value), or a UID under CANARY_UID_ROOT.  Values a de-identifier
may keep (manufacturer, codes, sizes, pixel data) hold none.

The same seed and sizes give the same bytes on every run and machine.
"""
import argparse
import array
import math
import os
import random
import struct
import sys

CANARY = "CANARY"
CANARY_UID_ROOT = "1.2.826.0.1.3680043.9.7777"
ROOT = CANARY_UID_ROOT + ".8"           # this generator's UIDs
TS_EXPLICIT_LE = "1.2.840.10008.1.2.1"
CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
SR_COMPREHENSIVE = "1.2.840.10008.5.1.4.1.1.88.33"
KO_STORAGE = "1.2.840.10008.5.1.4.1.1.88.59"
IMPL_CLASS = "1.2.826.0.1.3680043.9.7778.1"   # not under the canary root
IMPL_VERSION = "SLBENCHGEN1"

LONG_VRS = frozenset(("OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"))
UNDEF = 0xFFFFFFFF

SURNAMES = ["SMITH", "JONES", "TAYLOR", "BROWN", "WILLIAMS", "WILSON", "JOHNSON", "DAVIES",
            "ROBINSON", "WRIGHT", "THOMPSON", "EVANS", "WALKER", "WHITE", "ROBERTS", "GREEN",
            "HALL", "WOOD", "JACKSON", "CLARKE", "PATEL", "KHAN", "LEWIS", "JAMES"]
GIVEN = ["OLIVER", "AMELIA", "GEORGE", "ISLA", "HARRY", "AVA", "NOAH", "MIA", "JACK", "EMILY",
         "LEO", "GRACE", "ARTHUR", "SOPHIA", "MUHAMMAD", "FREYA", "OSCAR", "LILY"]
HOSPITALS = ["ST ELSEWHERE HOSPITAL", "GENERAL INFIRMARY", "ROYAL COUNTY HOSPITAL",
             "UNIVERSITY MEDICAL CENTRE"]
STREETS = ["HIGH STREET", "STATION ROAD", "CHURCH LANE", "MILL ROAD", "VICTORIA ROAD"]


# ---- dates: pools, so that a scan has a finite list to look for ----

def _date_pool(r, first_year, last_year, n):
    out = set()
    while len(out) < n:
        y = r.randint(first_year, last_year)
        m = r.randint(1, 12)
        d = r.randint(1, 28)
        out.add("%04d%02d%02d" % (y, m, d))
    return sorted(out)


def date_pools(seed):
    r = random.Random("dates-%d" % seed)
    return _date_pool(r, 1932, 1989, 60), _date_pool(r, 2019, 2024, 120)


# ---- explicit VR little endian encoding ----

def _pad(vr, v):
    if len(v) & 1:
        v += b"\0" if vr in ("UI", "OB", "UN") else b" "
    return v


def el(tag, vr, value):
    """One element: tag as 0xGGGGEEEE, value str or bytes (already binary
    for US/UL/OB/OW...)."""
    if isinstance(value, str):
        value = value.encode("latin-1")
    value = _pad(vr, value)
    g, e = tag >> 16, tag & 0xFFFF
    if vr in LONG_VRS:
        return struct.pack("<HH2sHI", g, e, vr.encode(), 0, len(value)) + value
    if len(value) > 0xFFFF:
        raise ValueError("value too long for %s (%08X)" % (vr, tag))
    return struct.pack("<HH2sH", g, e, vr.encode(), len(value)) + value


def us(tag, n):
    return (tag, el(tag, "US", struct.pack("<H", n)))


def item(elements, defined=True):
    body = b"".join(v for _, v in sorted(elements, key=lambda t: t[0]))
    if defined:
        return struct.pack("<HHI", 0xFFFE, 0xE000, len(body)) + body
    return struct.pack("<HHI", 0xFFFE, 0xE000, UNDEF) + body + struct.pack("<HHI", 0xFFFE, 0xE00D, 0)


def sq(tag, items, defined=True):
    body = b"".join(items)
    g, e = tag >> 16, tag & 0xFFFF
    if defined:
        return struct.pack("<HH2sHI", g, e, b"SQ", 0, len(body)) + body
    return (struct.pack("<HH2sHI", g, e, b"SQ", 0, UNDEF) + body +
            struct.pack("<HHI", 0xFFFE, 0xE0DD, 0))


def E(tag, vr, value):
    """(tag, encoded element): data sets are lists of these, sorted on write."""
    return (tag, el(tag, vr, value))


def S(tag, items, defined=True):
    return (tag, sq(tag, items, defined))


def part10(sop_class, sop_inst, elements, source_ae):
    meta = (el(0x00020001, "OB", b"\0\1") + el(0x00020002, "UI", sop_class) +
            el(0x00020003, "UI", sop_inst) + el(0x00020010, "UI", TS_EXPLICIT_LE) +
            el(0x00020012, "UI", IMPL_CLASS) + el(0x00020013, "SH", IMPL_VERSION) +
            el(0x00020016, "AE", source_ae))
    elements.sort(key=lambda t: t[0])
    return b"".join([b"\0" * 128, b"DICM", el(0x00020000, "UL", struct.pack("<I", len(meta))),
                     meta] + [v for _, v in elements])


def code(value, scheme, meaning):
    return item([E(0x00080100, "SH", value), E(0x00080102, "SH", scheme),
                 E(0x00080104, "LO", meaning)])


# ---- people, studies: the identifying values ----

class Patient:
    def __init__(self, r, idx, births):
        self.idx = idx
        sur, giv = r.choice(SURNAMES), r.choice(GIVEN)
        self.name = "%s%s^%s^%s" % (CANARY, sur, giv, chr(65 + r.randrange(26)))
        self.pid = "%s%07d" % (CANARY, 1000000 + idx * 7 + r.randrange(7))
        self.birth = r.choice(births)
        self.sex = r.choice("MF")
        self.age = "%03dY" % r.randint(20, 90)
        self.size = "%.2f" % r.uniform(1.5, 1.95)
        self.weight = "%d" % r.randint(48, 120)
        self.address = "%s %d %s, %sTOWN" % (CANARY, r.randint(1, 200), r.choice(STREETS), CANARY)
        self.phone = "%s 0%d" % (CANARY, r.randint(1000000000, 1999999999))
        self.other_id = "%sOTH%06d" % (CANARY, idx)
        self.hospital = "%s %s" % (CANARY, r.choice(HOSPITALS))

    def elements(self):
        return [E(0x00100010, "PN", self.name), E(0x00100020, "LO", self.pid),
                E(0x00100021, "LO", CANARY + " TRUST"), E(0x00100030, "DA", self.birth),
                E(0x00100040, "CS", self.sex), E(0x00101000, "LO", self.other_id),
                E(0x00101001, "PN", self.name.replace("^", "^OTHER^", 1)),
                S(0x00101002, [item([E(0x00100020, "LO", self.other_id + "X"),
                                     E(0x00100022, "CS", "TEXT")])]),
                E(0x00101010, "AS", self.age), E(0x00101020, "DS", self.size),
                E(0x00101030, "DS", self.weight), E(0x00101040, "LO", self.address),
                E(0x00102154, "SH", self.phone[:16]),
                E(0x00104000, "LT", "%s comment: patient %s prefers morning appointments"
                  % (CANARY, self.name.split("^")[0]))]


class Study:
    def __init__(self, r, patient, sidx, dates):
        self.patient = patient
        self.uid = "%s.%d.%d" % (ROOT, patient.idx + 1, sidx + 1)
        self.date = r.choice(dates)
        self.time = "%02d%02d%02d" % (r.randint(7, 19), r.randrange(60), r.randrange(60))
        self.accession = "%sA%08d" % (CANARY, patient.idx * 100 + sidx)
        self.study_id = "%sS%d" % (CANARY, sidx + 1)
        self.referrer = "%sREF%s^%s" % (CANARY, r.choice(SURNAMES), r.choice(GIVEN))
        self.requester = "%sREQ%s^%s" % (CANARY, r.choice(SURNAMES), r.choice(GIVEN))
        self.performer = "%sPERF%s^%s" % (CANARY, r.choice(SURNAMES), r.choice(GIVEN))
        self.operator = "%sOP%s^%s" % (CANARY, r.choice(SURNAMES), r.choice(GIVEN))
        self.for_uid = self.uid + ".0"
        self.pps_id = "%sPPS%d" % (CANARY, sidx)

    def elements(self, r_desc):
        p = self.patient
        req = item([E(0x00321032, "PN", self.requester),
                    E(0x00400007, "LO", "%s scheduled step for %s" % (CANARY, p.name)),
                    S(0x00400008, [code("CTCHEST", "99SLBENCH", "CT chest")]),
                    E(0x00400009, "SH", "%sSPS%d" % (CANARY, self.patient.idx)),
                    E(0x00401001, "SH", "%sRP%d" % (CANARY, self.patient.idx))], defined=False)
        perf_ident = item([E(0x00080080, "LO", p.hospital),
                           S(0x00401101, [code(CANARY + "ID01", "99SLBENCH", CANARY + " staff id")]),
                           E(0x00401102, "ST", p.address.replace(CANARY + " ", CANARY + " DEPT ", 1)),
                           E(0x00401103, "LO", CANARY + " 01234 567890")])
        return [E(0x00080020, "DA", self.date), E(0x00080030, "TM", self.time),
                E(0x00080050, "SH", self.accession), E(0x00080080, "LO", p.hospital),
                E(0x00080081, "ST", p.address.replace("TOWN", "CITY")),
                E(0x00080090, "PN", self.referrer), E(0x00081010, "SH", CANARY + "STN01"),
                E(0x00081030, "LO", "%s %s" % (CANARY, r_desc)),
                E(0x00081040, "LO", CANARY + " RADIOLOGY"),
                E(0x00081048, "PN", self.referrer.replace("REF", "REC")),
                E(0x00081050, "PN", self.performer), S(0x00081052, [perf_ident]),
                E(0x00081070, "PN", self.operator),
                S(0x00081110, [item([E(0x00081150, "UI", "1.2.840.10008.3.1.2.3.1"),
                                     E(0x00081155, "UI", self.uid + ".99")])]),
                E(0x00200010, "SH", self.study_id), E(0x0020000D, "UI", self.uid),
                E(0x00321032, "PN", self.requester),
                E(0x00321060, "LO", "%s requested: %s" % (CANARY, r_desc)),
                E(0x00400244, "DA", self.date), E(0x00400245, "TM", self.time),
                E(0x00400253, "SH", self.pps_id),
                E(0x00400254, "LO", CANARY + " procedure step"),
                S(0x00400275, [req], defined=False)] + p.elements()


def private_block(patient):
    return [E(0x00090010, "LO", "SLBENCH PRIVATE"),
            E(0x00091001, "LO", "%s private %s" % (CANARY, patient.pid)),
            E(0x00091002, "PN", patient.name),
            S(0x00091003, [item([E(0x00100010, "PN", patient.name),
                                 E(0x00100030, "DA", patient.birth)])])]


# ---- pixels ----

def phantom(r, rows, cols, k):
    """A CT-like slice (stored values 0..4095, HU + 1024): body ellipse,
    two lungs, a spine, noise; k moves the anatomy slice by slice."""
    a = array.array("H")
    cy, cx = rows / 2, cols / 2
    ry, rx = rows * 0.36, cols * 0.45
    lung_dy = rows * (0.16 + 0.02 * math.sin(k / 3))
    noise = [r.randrange(24) for _ in range(4096)]
    ni = 0
    for y in range(rows):
        dy = (y - cy) / ry
        row = []
        for x in range(cols):
            dx = (x - cx) / rx
            if dx * dx + dy * dy > 1:
                v = 24  # air, -1000 HU
            else:
                lx = abs(x - cx) - cols * 0.2
                ly = y - cy + rows * 0.02
                if (lx * lx) / (cols * 0.12) ** 2 + (ly * ly) / lung_dy ** 2 < 1:
                    v = 200  # lung
                elif (x - cx) ** 2 + (y - cy - rows * 0.25) ** 2 < (rows * 0.05) ** 2:
                    v = 1800  # bone
                else:
                    v = 1064  # soft tissue
            row.append(v + noise[ni & 4095])
            ni += 7
        a.extend(row)
    if sys.byteorder != "little":
        a.byteswap()
    return a.tobytes()


def small_image(r, rows, cols):
    a = array.array("H", (((x * 37 + y * 11) ^ r.randrange(256)) & 4095
                          for y in range(rows) for x in range(cols)))
    if sys.byteorder != "little":
        a.byteswap()
    return a.tobytes()


# ---- CT/MR export ----

def image_common(study, series_uid, series_no, inst_uid, inst_no, modality, sop_class,
                 desc, t_date, t_time, rows, cols, spacing, z):
    return [E(0x00080005, "CS", "ISO_IR 100"), E(0x00080008, "CS", "ORIGINAL\\PRIMARY\\AXIAL"),
            E(0x00080012, "DA", t_date), E(0x00080013, "TM", t_time),
            E(0x00080016, "UI", sop_class), E(0x00080018, "UI", inst_uid),
            E(0x00080021, "DA", t_date), E(0x00080022, "DA", t_date), E(0x00080023, "DA", t_date),
            E(0x00080031, "TM", t_time), E(0x00080032, "TM", t_time), E(0x00080033, "TM", t_time),
            E(0x00080060, "CS", modality), E(0x00080070, "LO", "SLUICE BENCH SCANNERS"),
            E(0x0008103E, "LO", "%s %s" % (CANARY, desc)),
            E(0x00081090, "LO", "BENCH 9000"),
            E(0x00181000, "LO", CANARY + "SN4711"), E(0x00181020, "LO", "VB42"),
            E(0x00181030, "LO", "%s protocol %s" % (CANARY, desc)),
            E(0x00185100, "CS", "HFS"),
            E(0x0020000E, "UI", series_uid), E(0x00200011, "IS", str(series_no)),
            E(0x00200012, "IS", "1"), E(0x00200013, "IS", str(inst_no)),
            E(0x00200032, "DS", "%.1f\\%.1f\\%.2f" % (-cols * spacing / 2, -rows * spacing / 2, z)),
            E(0x00200037, "DS", "1\\0\\0\\0\\1\\0"), E(0x00200052, "UI", study.for_uid),
            E(0x00201040, "LO", ""), E(0x00201041, "DS", "%.2f" % z),
            E(0x00204000, "LT", "%s image comment, %s" % (CANARY, study.patient.name)),
            E(0x00280002, "US", struct.pack("<H", 1)), E(0x00280004, "CS", "MONOCHROME2"),
            us(0x00280010, rows), us(0x00280011, cols),
            E(0x00280030, "DS", "%.4g\\%.4g" % (spacing, spacing)),
            us(0x00280100, 16), us(0x00280101, 12), us(0x00280102, 11), us(0x00280103, 0),
            E(0x00280301, "CS", "NO")]


def ct_corpus(out, size, seed=1):
    """About `size` bytes of CT (512x512x16) and MR (256x256x16) series in a
    PACS-export tree: PATIENT/STUDY/SERIES/IMnnnnn.dcm.  Returns file count."""
    births, dates = date_pools(seed)
    r = random.Random("ct-%d" % seed)
    ct_px = [phantom(random.Random("ct-px-%d-%d" % (seed, k)), 512, 512, k) for k in range(8)]
    mr_px = [phantom(random.Random("mr-px-%d-%d" % (seed, k)), 256, 256, k) for k in range(4)]
    ct_bytes, mr_bytes = len(ct_px[0]) + 3000, len(mr_px[0]) + 3000
    written, nfiles, pidx = 0, 0, 0
    while written < size:
        pat = Patient(r, pidx, births)
        pdir = os.path.join(out, "%s_%s" % (pat.name.split("^")[0], pat.pid))
        for sidx in range(r.randint(1, 2)):
            if written >= size:
                break
            st = Study(r, pat, sidx, dates)
            sdir = os.path.join(pdir, "%s_%s" % (st.date, st.accession))
            series = [("CT", "CT chest axial 1mm", r.randint(120, 300)),
                      ("CT", "CT chest axial 5mm", r.randint(30, 60))]
            if r.random() < 0.5:
                series.append(("MR", "MR T2 axial", r.randint(20, 40)))
            for ser_no, (mod, desc, n) in enumerate(series, 1):
                left = size - written
                per = ct_bytes if mod == "CT" else mr_bytes
                n = max(1, min(n, -(-left // per)))
                ser_uid = "%s.%d" % (st.uid, ser_no)
                ddir = os.path.join(sdir, "SE%03d_%s" % (ser_no, mod))
                os.makedirs(ddir, exist_ok=True)
                common_study = st.elements("chest imaging") + private_block(pat)
                for i in range(n):
                    inst = "%s.%d" % (ser_uid, i + 1)
                    t = "%02d%02d%02d" % (int(st.time[:2]), int(st.time[2:4]), i % 60)
                    if mod == "CT":
                        px, rows, sp, thick = ct_px[i % 8], 512, 0.7, 1.0 if ser_no == 1 else 5.0
                        els = image_common(st, ser_uid, ser_no, inst, i + 1, "CT", CT_STORAGE, desc,
                                           st.date, t, 512, 512, sp, -i * thick)
                        els += [E(0x00180015, "CS", "CHEST"), E(0x00180050, "DS", "%g" % thick),
                                E(0x00180060, "DS", "120"), E(0x00180090, "DS", "500"),
                                E(0x00181100, "DS", "360"), E(0x00181120, "DS", "0"),
                                E(0x00181130, "DS", "150"), E(0x00181140, "CS", "CW"),
                                E(0x00181150, "IS", "500"), E(0x00181151, "IS", "300"),
                                E(0x00181152, "IS", "150"), E(0x00181160, "SH", "BODY"),
                                E(0x00181210, "SH", "B30f"),
                                E(0x00281050, "DS", "40"), E(0x00281051, "DS", "400"),
                                E(0x00281052, "DS", "-1024"), E(0x00281053, "DS", "1"),
                                E(0x00281054, "LO", "HU")]
                        sop = CT_STORAGE
                    else:
                        px, rows, sp = mr_px[i % 4], 256, 0.9
                        els = image_common(st, ser_uid, ser_no, inst, i + 1, "MR", MR_STORAGE, desc,
                                           st.date, t, 256, 256, sp, -i * 4.0)
                        els += [E(0x00180015, "CS", "HEAD"),
                                E(0x00180020, "CS", "SE"), E(0x00180021, "CS", "SK"),
                                E(0x00180022, "CS", "SAT1"), E(0x00180023, "CS", "2D"),
                                E(0x00180050, "DS", "4"), E(0x00180080, "DS", "4000"),
                                E(0x00180081, "DS", "90"), E(0x00180087, "DS", "1.5"),
                                E(0x00180091, "IS", "12"),
                                E(0x00281050, "DS", "600"), E(0x00281051, "DS", "1200")]
                        sop = MR_STORAGE
                    els += common_study
                    els.append((0x7FE00010, el(0x7FE00010, "OW", px)))
                    data = part10(sop, inst, els, CANARY + "PACS")
                    with open(os.path.join(ddir, "IM%05d.dcm" % (i + 1)), "wb") as f:
                        f.write(data)
                    written += len(data)
                    nfiles += 1
                if written >= size:
                    break
        pidx += 1
    return nfiles


# ---- small files: SR, KO, small MR ----

def sr_text_item(rel, concept, text):
    return item([E(0x0040A010, "CS", rel), E(0x0040A040, "CS", "TEXT"),
                 S(0x0040A043, [code(*concept)]), E(0x0040A160, "UT", text)])


def evidence(study, series_uid, sop_class, insts):
    """Current Requested Procedure Evidence Sequence: three deep."""
    return S(0x0040A375, [item([
        S(0x00081115, [item([
            S(0x00081199, [item([E(0x00081150, "UI", sop_class), E(0x00081155, "UI", u)])
                           for u in insts]),
            E(0x0020000E, "UI", series_uid)])]),
        E(0x0020000D, "UI", study.uid)])])


def doc_common(study, series_uid, series_no, inst_uid, modality, sop_class, t_date, t_time):
    return [E(0x00080005, "CS", "ISO_IR 100"), E(0x00080012, "DA", t_date),
            E(0x00080013, "TM", t_time), E(0x00080016, "UI", sop_class),
            E(0x00080018, "UI", inst_uid), E(0x00080023, "DA", t_date),
            E(0x00080033, "TM", t_time), E(0x00080060, "CS", modality),
            E(0x00080070, "LO", "SLUICE BENCH REPORTING"),
            S(0x00081111, []),
            E(0x0020000E, "UI", series_uid), E(0x00200011, "IS", str(series_no)),
            E(0x00200013, "IS", "1")]


def small_corpus(out, count, seed=1):
    """count files: per study 6 MR (64x64x16), 2 Comprehensive SR, 2 KO,
    in PATIENT/STUDY/SERIES folders.  Returns the file count."""
    births, dates = date_pools(seed)
    r = random.Random("small-%d" % seed)
    mr_px = [small_image(random.Random("small-px-%d-%d" % (seed, k)), 64, 64) for k in range(16)]
    n, pidx = 0, 0
    while n < count:
        pat = Patient(r, pidx, births)
        pdir = os.path.join(out, "%s_%s" % (pat.name.split("^")[0], pat.pid))
        for sidx in range(5):
            if n >= count:
                break
            st = Study(r, pat, sidx, dates)
            sdir = os.path.join(pdir, "%s_%s" % (st.date, st.accession))
            common_study = st.elements("knee MR") + private_block(pat)
            mr_uid = st.uid + ".1"
            insts = ["%s.%d" % (mr_uid, i + 1) for i in range(6)]
            t0 = st.time
            files = []
            for i, inst in enumerate(insts):
                els = image_common(st, mr_uid, 1, inst, i + 1, "MR", MR_STORAGE, "MR knee PD",
                                   st.date, t0, 64, 64, 2.5, i * 3.0)
                els += [E(0x00180015, "CS", "KNEE"), E(0x00200060, "CS", "L"),
                        E(0x00180020, "CS", "SE"),
                        E(0x00180021, "CS", "NONE"), E(0x00180022, "CS", ""),
                        E(0x00180023, "CS", "2D"), E(0x00180050, "DS", "3"),
                        E(0x00180080, "DS", "2500"), E(0x00180081, "DS", "30"),
                        E(0x00180091, "IS", "8")] + common_study
                els.append((0x7FE00010, el(0x7FE00010, "OW", mr_px[(pidx * 5 + sidx + i) % 16])))
                files.append(("SE001_MR", "IM%05d.dcm" % (i + 1), MR_STORAGE, inst, els))
            for k in range(2):  # structured reports
                ser = "%s.%d" % (st.uid, 2)
                inst = "%s.%d" % (ser, k + 1)
                els = doc_common(st, ser, 2, inst, "SR", SR_COMPREHENSIVE, st.date, t0)
                els[-1] = E(0x00200013, "IS", str(k + 1))
                content = [
                    sr_text_item("CONTAINS", ("121071", "DCM", "Finding"),
                                 "%s finding for %s (born %s): effusion, no fracture; seen by %s"
                                 % (CANARY, pat.name, pat.birth, st.referrer)),
                    item([E(0x0040A010, "CS", "HAS OBS CONTEXT"), E(0x0040A040, "CS", "PNAME"),
                          S(0x0040A043, [code("121008", "DCM", "Person Observer Name")]),
                          E(0x0040A123, "PN", st.performer)]),
                    item([E(0x0040A010, "CS", "CONTAINS"), E(0x0040A040, "CS", "DATE"),
                          S(0x0040A043, [code("111060", "DCM", "Study Date")]),
                          E(0x0040A121, "DA", st.date)]),
                    item([E(0x0040A010, "CS", "CONTAINS"), E(0x0040A040, "CS", "CONTAINER"),
                          S(0x0040A043, [code("121070", "DCM", "Findings")]),
                          E(0x0040A050, "CS", "SEPARATE"),
                          S(0x0040A730, [sr_text_item("CONTAINS", ("121073", "DCM", "Impression"),
                                                      "%s impression, MRN %s" % (CANARY, pat.pid))])]),
                ]
                els += [E(0x0040A040, "CS", "CONTAINER"),
                        S(0x0040A043, [code("18748-4", "LN", "Diagnostic Imaging Report")]),
                        E(0x0040A050, "CS", "SEPARATE"),
                        S(0x0040A073, [item([E(0x0040A027, "LO", pat.hospital),
                                             E(0x0040A030, "DT", st.date + "120000"),
                                             E(0x0040A075, "PN", st.referrer),
                                             S(0x0040A088, [])])]),
                        S(0x0040A372, []), E(0x0040A491, "CS", "COMPLETE"),
                        E(0x0040A493, "CS", "VERIFIED"),
                        evidence(st, mr_uid, MR_STORAGE, insts),
                        S(0x0040A730, content, defined=(k == 0))] + common_study
                files.append(("SE002_SR", "SR%05d.dcm" % (k + 1), SR_COMPREHENSIVE, inst, els))
            for k in range(2):  # key object selections
                ser = "%s.%d" % (st.uid, 3)
                inst = "%s.%d" % (ser, k + 1)
                els = doc_common(st, ser, 3, inst, "KO", KO_STORAGE, st.date, t0)
                els[-1] = E(0x00200013, "IS", str(k + 1))
                picks = insts[k * 2:k * 2 + 3]
                content = [sr_text_item("CONTAINS", ("113012", "DCM", "Key Object Description"),
                                        "%s key images for %s, ask %s" % (CANARY, pat.name, st.operator))]
                content += [item([E(0x0040A010, "CS", "CONTAINS"), E(0x0040A040, "CS", "IMAGE"),
                                  S(0x00081199, [item([E(0x00081150, "UI", MR_STORAGE),
                                                       E(0x00081155, "UI", u)])])])
                            for u in picks]
                els += [E(0x0040A040, "CS", "CONTAINER"),
                        S(0x0040A043, [code("113000", "DCM", "Of Interest")]),
                        E(0x0040A050, "CS", "SEPARATE"),
                        S(0x0040A504, [item([E(0x00080105, "CS", "DCMR"),
                                             E(0x0040DB00, "CS", "2010")])]),
                        evidence(st, mr_uid, MR_STORAGE, picks),
                        S(0x0040A730, content)]
                els += common_study
                files.append(("SE003_KO", "KO%05d.dcm" % (k + 1), KO_STORAGE, inst, els))
            made = set()
            for sub, name, sop, inst, els in files:
                if n >= count:
                    break
                d = os.path.join(sdir, sub)
                if d not in made:
                    os.makedirs(d, exist_ok=True)
                    made.add(d)
                with open(os.path.join(d, name), "wb") as f:
                    f.write(part10(sop, inst, els, CANARY + "PACS"))
                n += 1
        pidx += 1
    return n


# ---- canaries ----

def canaries(seed=1):
    """Every identifying value a de-identified file must not hold: the
    text marker, the UID root and every date of the pools."""
    births, dates = date_pools(seed)
    return [CANARY, CANARY_UID_ROOT] + births + dates


def parse_size(s):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    s = s.strip().upper().rstrip("B").rstrip("I")
    return int(float(s[:-1]) * units[s[-1]]) if s[-1] in units else int(s)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["ct", "small", "canaries"])
    ap.add_argument("out", nargs="?")
    ap.add_argument("--size", default="1G")
    ap.add_argument("--count", type=int, default=100000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.kind == "canaries":
        print("\n".join(canaries(a.seed)))
        return
    if not a.out:
        ap.error("OUTDIR needed")
    os.makedirs(a.out, exist_ok=True)
    n = ct_corpus(a.out, parse_size(a.size), a.seed) if a.kind == "ct" else \
        small_corpus(a.out, a.count, a.seed)
    print("%d files in %s" % (n, a.out), file=sys.stderr)


if __name__ == "__main__":
    main()
