#!/usr/bin/env python3
"""CRAM files whose structure lies, made from a valid CRAM 3.0 (one that
samtools writes): each asks htslib 1.16 for memory its bytes do not back,
or holds what CRAM 3 does not define.  Block and container CRC32s are
recomputed, so only the lie is wrong.

  landmarks.cram  the header container asks for 1.6 billion slices
  huffman.cram    a HUFFMAN table in the first data container's compression
                  header declares 16,777,215 codes in 4 bytes (htslib 1.16
                  writes all 400 MB of the table it allocates)
  codec.cram      an encoding with codec 45, which CRAM 3 does not define
  pastmap.cram    the data series map's last encoding runs past the map
  gzipped.cram    the compression header's block says gzip (htslib and
                  htsjdk never compress it; it cannot be checked unread)

usage: cram_lies.py IN.cram OUTDIR"""
import os, sys, zlib


def itf8(b, p):
    """The offset past the ITF8 at p."""
    return p + 1 + sum(b[p] >= t for t in (0x80, 0xc0, 0xe0, 0xf0))


def itf8_value(b, p):
    n = itf8(b, p) - p
    if n == 1:
        return b[p]
    v = b[p] & (0xff >> (n + 1) if n < 5 else 0x0f)
    for k in range(1, n):
        v = (v << (4 if k == 4 else 8)) | (b[p + k] & (0x0f if k == 4 else 0xff))
    return v


def ltf8(b, p):
    n = 0
    while n < 8 and b[p] & (0x80 >> n):
        n += 1
    return p + 1 + n


def container(b, p):
    """(offset of the block count, of the first block, of the end)"""
    length = int.from_bytes(b[p:p + 4], "little")
    q = p + 4
    for _ in range(4):                          # contig, start, span, records
        q = itf8(b, q)
    q = ltf8(b, ltf8(b, q))                     # record counter, bases
    nblocks = q
    q = itf8(b, q)
    nland = itf8_value(b, q)
    q = itf8(b, q)
    for _ in range(nland):
        q = itf8(b, q)
    return nblocks, q + 4, q + 4 + length       # past the header's CRC32


def compression_header(b):
    """(block start, data start, data end) of the first data container's
    compression header"""
    _, _, p = container(b, 26)                  # the SAM header's container
    _, blk, _ = container(b, p)
    q = itf8(b, itf8(b, blk + 2))               # content id, compressed size
    size = itf8_value(b, q)
    q = itf8(b, q)
    return blk, q, q + size


def encodings(b, start, end):
    """[(key offset, codec offset, size offset, params offset, size)] of the
    data series map"""
    p = itf8(b, start) + itf8_value(b, start)   # past the preservation map
    p = itf8(b, p)                              # the data series map's size
    count = itf8_value(b, p)
    p = itf8(b, p)
    out = []
    for _ in range(count):
        key, c = p, p + 2
        s = itf8(b, c)
        params = itf8(b, s)
        size = itf8_value(b, s)
        out.append((key, c, s, params, size))
        p = params + size
    return out


def fix_crc(b, blk, end):
    b[end:end + 4] = zlib.crc32(bytes(b[blk:end])).to_bytes(4, "little")


def main():
    src, out = sys.argv[1], sys.argv[2]
    orig = open(src, "rb").read()
    assert orig[:6] == b"CRAM\x03\x00", "a CRAM 3.0 is needed"
    os.makedirs(out, exist_ok=True)

    b = bytearray(orig)
    nblocks, _, _ = container(b, 26)
    p = itf8(b, nblocks)                        # the landmark count
    b[p:itf8(b, p)] = bytes([0xf5, 0xfc, 0x2d, 0x8a, 0x0c])
    open(os.path.join(out, "landmarks.cram"), "wb").write(b)

    blk, start, end = compression_header(orig)
    encs = encodings(orig, start, end)

    b = bytearray(orig)
    huff = [e for e in encs if b[e[1]] == 3 and e[4] >= 4][0]
    b[huff[3]:huff[3] + 4] = bytes([0xe0, 0xff, 0xff, 0xff])
    fix_crc(b, blk, end)
    open(os.path.join(out, "huffman.cram"), "wb").write(b)

    b = bytearray(orig)
    ext = [e for e in encs if b[e[1]] == 1][0]
    b[ext[1]] = 45
    fix_crc(b, blk, end)
    open(os.path.join(out, "codec.cram"), "wb").write(b)

    b = bytearray(orig)
    last = encs[-1]
    assert b[last[2]] < 0x80
    b[last[2]] = 0x7f
    fix_crc(b, blk, end)
    open(os.path.join(out, "pastmap.cram"), "wb").write(b)

    b = bytearray(orig)
    b[blk] = 1                                  # the block's method: gzip
    fix_crc(b, blk, end)
    open(os.path.join(out, "gzipped.cram"), "wb").write(b)


if __name__ == "__main__":
    main()
