#!/usr/bin/env python3
"""make_reads.py OUTDIR: a small reference and the SAM files tests/cli_reads.sh
ingests (the test makes BAM and CRAM from them with samtools).

Deterministic (fixed seed).  ref.fa has chr1 (20 kb) and chr2 (6 kb) of
random sequence.  Reads are 100 bases taken from the reference with a few
mismatches, some with a deletion or an insertion, on both strands, with
random qualities, in two read groups; a few unmapped reads come last.
Canaries (CNRY...) are in every identifying header field (@RG ID, SM, LB,
PU, DS, CN, DT; @SQ UR, AS, SP; @PG; @CO) and in the reads' RG and PG tags.
Files:

  main.sam          coordinate-sorted, 3000 reads
  unsorted.sam      the same reads shuffled (the header still says coordinate)
  single2.sam       another sample (SM CNRY_SM2), for the subject map
  missingcontig.sam an @SQ for chr9, which the reference lacks
  badmd5.sam        an @SQ M5 that is not the reference's
  badlength.sam     an @SQ LN that is not the reference's
  pairs.sam         400 read pairs as an aligner writes them (SO:unsorted,
                    mates together), names CNRY_NAME_..., some mates on
                    the other contig or unmapped, some supplementary
"""
import hashlib
import os
import random
import sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rnd = random.Random(20240611)


def randseq(n):
    return "".join(rnd.choice("ACGT") for _ in range(n))


SEQ = {"chr1": randseq(20000), "chr2": randseq(6000)}
with open(os.path.join(out, "ref.fa"), "w") as f:
    for name, s in SEQ.items():
        f.write(">%s\n" % name)
        for i in range(0, len(s), 60):
            f.write(s[i:i + 60] + "\n")
MD5 = {n: hashlib.md5(s.encode()).hexdigest() for n, s in SEQ.items()}


def header(sm="CNRY_SM1", sq=None):
    sq = sq or ["@SQ\tSN:chr1\tLN:20000\tUR:file:///data/CNRY_SQ_UR/hg38.fa\tAS:CNRY_AS\tSP:human",
                "@SQ\tSN:chr2\tLN:6000\tM5:%s\tUR:http://example.org/CNRY_SQ_URL/ref.fa" % MD5["chr2"]]
    return "\n".join(["@HD\tVN:1.6\tSO:coordinate"] + sq + [
        "@RG\tID:CNRY_RG1\tSM:%s\tLB:CNRY_LB1\tPU:CNRY_PU1.lane1\tDS:CNRY_DS1 patient John\t"
        "PL:ILLUMINA\tCN:CNRY_CN_centre\tDT:2024-01-01T00:00:00" % sm,
        "@RG\tID:CNRY_RG2\tSM:%s\tLB:CNRY_LB2\tPU:CNRY_PU2\tDS:CNRY_DS2\tPL:ILLUMINA" % sm,
        "@PG\tID:bwa\tPN:bwa\tVN:0.7.17\tCL:bwa mem /data/CNRY_PG_PATH/r1.fq.gz",
        "@PG\tID:markdup\tPN:CNRY_PG_NAME\tPP:bwa\tCL:markdup -I /home/CNRY_PG_HOME/x.bam",
        "@CO\tCNRY_COMMENT sample of patient John Doe"]) + "\n"


def reads(n, tag):
    rows = []
    for i in range(n):
        chrom = "chr1" if rnd.random() < 0.75 else "chr2"
        ref = SEQ[chrom]
        pos = rnd.randrange(0, len(ref) - 120)
        kind = rnd.random()
        if kind < 0.1:  # deletion of 2 after 50 bases
            seq = ref[pos:pos + 50] + ref[pos + 52:pos + 102]
            cigar = "50M2D50M"
        elif kind < 0.2:  # insertion of 3 after 40 bases
            seq = ref[pos:pos + 40] + randseq(3) + ref[pos + 40:pos + 97]
            cigar = "40M3I57M"
        else:
            seq = ref[pos:pos + 100]
            cigar = "100M"
        seq = list(seq)
        for _ in range(rnd.randrange(0, 3)):
            j = rnd.randrange(100)
            seq[j] = rnd.choice("ACGT".replace(seq[j], ""))
        qual = "".join(chr(33 + rnd.randrange(2, 41)) for _ in range(100))
        flag = 16 if rnd.random() < 0.5 else 0
        rg = "CNRY_RG1" if rnd.random() < 0.6 else "CNRY_RG2"
        rows.append((chrom, pos + 1, "%s%05d" % (tag, i), flag, cigar, "".join(seq), qual, rg))
    rows.sort(key=lambda r: (r[0], r[1]))
    lines = ["%s\t%d\t%s\t%d\t60\t%s\t*\t0\t0\t%s\t%s\tRG:Z:%s\tPG:Z:bwa\tCO:Z:CNRY_READ_COMMENT" %
             (r[2], r[3], r[0], r[1], r[4], r[5], r[6], r[7]) for r in rows]
    for i in range(5):  # unmapped, last
        lines.append("%su%d\t4\t*\t0\t0\t*\t*\t0\t0\t%s\t%s\tRG:Z:CNRY_RG2" %
                     (tag, i, randseq(100), "I" * 100))
    return lines


def write(name, hdr, lines):
    with open(os.path.join(out, name), "w") as f:
        f.write(hdr)
        f.write("\n".join(lines) + "\n")


main = reads(3000, "r")
write("main.sam", header(), main)
mapped = main[:-5]
shuffled = mapped[:]
rnd.shuffle(shuffled)
write("unsorted.sam", header(), shuffled + main[-5:])
write("single2.sam", header(sm="CNRY_SM2"), reads(200, "s"))
write("missingcontig.sam", header(sq=["@SQ\tSN:chr1\tLN:20000", "@SQ\tSN:chr9\tLN:1000"]), main[:10])
write("badmd5.sam", header(sq=["@SQ\tSN:chr1\tLN:20000\tM5:%s" % MD5["chr2"], "@SQ\tSN:chr2\tLN:6000"]),
      main[:10])
write("badlength.sam", header(sq=["@SQ\tSN:chr1\tLN:20001", "@SQ\tSN:chr2\tLN:6000"]), main[:10])


def pairs(n):
    """Read pairs as an aligner writes them (mates together, not sorted), the
    names canaries: some mates on the other contig, some unmapped (placed at
    their mate), some with a supplementary alignment of the same name."""
    rows = []
    for i in range(n):
        name = "CNRY_NAME_%05d_patient" % i
        c1 = "chr1" if rnd.random() < 0.7 else "chr2"
        c2 = c1 if rnd.random() < 0.9 else ("chr2" if c1 == "chr1" else "chr1")
        p1 = rnd.randrange(0, len(SEQ[c1]) - 600)
        p2 = p1 + rnd.randrange(0, 400) if c2 == c1 else rnd.randrange(0, len(SEQ[c2]) - 120)
        s1, s2 = SEQ[c1][p1:p1 + 100], SEQ[c2][p2:p2 + 100]
        q = "".join(chr(33 + rnd.randrange(2, 41)) for _ in range(100))
        tlen = p2 + 100 - p1 if c1 == c2 else 0
        if rnd.random() < 0.05:  # mate 2 unmapped, placed at mate 1
            rows.append((name, 73, c1, p1 + 1, 60, "100M", "=", p1 + 1, 0, s1, q))
            rows.append((name, 133, c1, p1 + 1, 0, "*", "=", p1 + 1, 0, randseq(100), q))
            continue
        rn1, rn2 = ("=", "=") if c1 == c2 else (c2, c1)
        rows.append((name, 97, c1, p1 + 1, 60, "100M", rn1, p2 + 1, tlen, s1, q))
        rows.append((name, 145, c2, p2 + 1, 60, "100M", rn2, p1 + 1, -tlen, s2, q))
        if rnd.random() < 0.05:
            ps = rnd.randrange(0, len(SEQ["chr2"]) - 120)
            rows.append((name, 2145, "chr2", ps + 1, 60, "60S40M", rn2 if rn2 != "=" else c1,
                         p1 + 1, 0, randseq(60) + SEQ["chr2"][ps:ps + 40], q))
    return ["%s\t%d\t%s\t%d\t%d\t%s\t%s\t%d\t%d\t%s\t%s\tRG:Z:CNRY_RG1" % r for r in rows]


write("pairs.sam", header().replace("SO:coordinate", "SO:unsorted"), pairs(400))
