#!/usr/bin/python3
"""check_multi.py: what OpenSlide 3.4.1 makes of a multi-file slide (MIRAX
.mrxs, Hamamatsu .vms), through ctypes (libopenslide0) as check_osl.py.

  check_multi.py info SLIDE       one JSON line: vendor, level-0 size, MPP,
                                  objective power, level count, associated
                                  image names; exits 1 if OpenSlide cannot
                                  open SLIDE (the error on stderr)
  check_multi.py dump SLIDE OUT   level 0 as OpenSlide decodes it (RGBA,
                                  premultiplied as OpenSlide gives it, rows
                                  top down) into OUT as a .npy array
  check_multi.py canaries FILE... exits 1 naming each CANARIES string of
                                  make_multi_slides.py found in FILEs' bytes

To compare an output (a tiled TIFF) with OpenSlide's decoding of the input,
check_osl.py INPUT OUTPUT serves as it is: it opens INPUT by path, which
for these formats is the .mrxs or .vms.
"""
import ctypes, json, sys
import numpy as np
from check_osl import osl, read_level  # noqa: F401 (read_level: for importers)

osl.openslide_get_associated_image_names.restype = ctypes.POINTER(ctypes.c_char_p)
osl.openslide_get_associated_image_names.argtypes = [ctypes.c_void_p]
osl.openslide_get_property_value.restype = ctypes.c_char_p
osl.openslide_get_property_value.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
osl.openslide_get_level_count.restype = ctypes.c_int32


def open_slide(path):
    h = osl.openslide_open(path.encode())
    if not h:
        raise RuntimeError("not a slide OpenSlide knows: " + path)
    err = osl.openslide_get_error(h)
    if err:
        osl.openslide_close(h)
        raise RuntimeError(err.decode(errors="replace"))
    return h


def info(path):
    h = open_slide(path)
    prop = lambda k: (lambda v: v.decode() if v else None)(
        osl.openslide_get_property_value(h, k.encode()))
    names, p = [], osl.openslide_get_associated_image_names(h)
    i = 0
    while p[i]:
        names.append(p[i].decode())
        i += 1
    w, ht = ctypes.c_int64(), ctypes.c_int64()
    osl.openslide_get_level_dimensions(h, 0, ctypes.byref(w), ctypes.byref(ht))
    r = {"vendor": prop("openslide.vendor"), "width": w.value, "height": ht.value,
         "mpp_x": prop("openslide.mpp-x"), "mpp_y": prop("openslide.mpp-y"),
         "objective_power": prop("openslide.objective-power"),
         "levels": osl.openslide_get_level_count(h), "associated": names}
    osl.openslide_close(h)
    return r


def level0_rgba(path):
    h = open_slide(path)
    w, ht = ctypes.c_int64(), ctypes.c_int64()
    osl.openslide_get_level_dimensions(h, 0, ctypes.byref(w), ctypes.byref(ht))
    buf = (ctypes.c_uint32 * (w.value * ht.value))()
    osl.openslide_read_region(h, buf, 0, 0, 0, w.value, ht.value)
    err = osl.openslide_get_error(h)
    osl.openslide_close(h)
    if err:
        raise RuntimeError(err.decode(errors="replace"))
    a = np.frombuffer(buf, np.uint32).reshape(ht.value, w.value)
    return np.stack([(a >> s) & 255 for s in (16, 8, 0, 24)], axis=-1).astype(np.uint8)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    try:
        if cmd == "info":
            print(json.dumps(info(args[0]), sort_keys=True))
        elif cmd == "dump":
            np.save(args[1], level0_rgba(args[0]))
        elif cmd == "canaries":
            from make_multi_slides import CANARIES
            found = [(f, c) for f in args for c in CANARIES if c.encode() in open(f, "rb").read()]
            for f, c in found:
                print("%s: %s" % (f, c))
            sys.exit(1 if found else 0)
        else:
            sys.exit("usage: check_multi.py info|dump|canaries ...")
    except RuntimeError as e:
        sys.exit("%s: %s" % (args[0], e))


if __name__ == "__main__":
    main()
