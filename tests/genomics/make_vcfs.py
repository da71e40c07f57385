#!/usr/bin/env python3
"""make_vcfs.py OUTDIR: a small reference and the VCFs tests/cli_vcf.sh ingests.

Deterministic (fixed seed).  ref.fa has chr1 (20 kb) and chr2 (6 kb) of
random sequence with homopolymer, dinucleotide and trinucleotide repeats
planted; the VCFs put indels in those repeats at their right end (so
left-alignment moves them), multiallelic records with INFO and FORMAT fields
of Number=A, R and G (integer, float and string; diploid, haploid and
missing genotypes), and canaries (CNRY...) in every identifying header line
and in the sample names.  Files:

  main.vcf          the corpus, in order
  unsorted.vcf      the same records shuffled
  big.vcf           4000 records (sort spills with a small --vcf-sort-memory)
  refmismatch.vcf   one record whose REF is not the reference's
  missingcontig.vcf a record on a contig the reference lacks
  badlength.vcf     a ##contig whose length differs from the reference's
  badmd5.vcf        a ##contig whose md5 differs
  dupalt.vcf        an ALT equal to REF
  single1.vcf single2.vcf  one sample each, for the subject map
"""
import os
import random
import sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rnd = random.Random(20240607)


def randseq(n):
    return "".join(rnd.choice("ACGT") for _ in range(n))


def plant(seq, pos, s):
    return seq[:pos] + s + seq[pos + len(s):]


chr1 = randseq(20000)
repeats = []  # (start, unit, copies)
for i, (unit, copies) in enumerate([("A", 9), ("CA", 7), ("GTT", 5), ("T", 12), ("AG", 6),
                                    ("C", 8), ("TGC", 4), ("AT", 9)] * 6):
    start = 300 + i * 380
    chr1 = plant(chr1, start, unit * copies)
    repeats.append((start, unit, copies))
chr2 = randseq(6000)
with open(os.path.join(out, "ref.fa"), "w") as f:
    for name, s in (("chr1", chr1), ("chr2", chr2)):
        f.write(">%s\n" % name)
        for i in range(0, len(s), 60):
            f.write(s[i:i + 60] + "\n")
SEQ = {"chr1": chr1, "chr2": chr2}

HEADER = """##fileformat=VCFv4.2
##fileDate=20240101
##source=/home/CNRY_SOURCE_PATH/caller-2.1
##reference=file:///data/CNRY_REF_PATH/hg38.fa
##commandline="caller --in /data/CNRY_CMD_PATH/sample.bam"
##GATKCommandLine=<ID=HaplotypeCaller,CommandLine="HaplotypeCaller -I /data/CNRY_GATK_PATH.bam",Version=4.2>
##bcftools_viewCommand=view -Oz -o /data/CNRY_BCFTOOLS_PATH.vcf.gz; Date=Mon Jan  1 00:00:00 2024
##SAMPLE=<ID=CNRY_S1,Description="patient CNRY_SAMPLE_LINE",Individual=CNRY_INDIVIDUAL>
##PEDIGREE=<Child=CNRY_S1,Mother=CNRY_S2>
##contig=<ID=chr1,length=20000,URL=http://example.org/CNRY_CONTIG_URL>
##contig=<ID=chr2>
##FILTER=<ID=q10,Description="Quality below 10">
##ALT=<ID=DEL,Description="Deletion">
##INFO=<ID=DP,Number=1,Type=Integer,Description="Total depth">
##INFO=<ID=AC,Number=A,Type=Integer,Description="Allele count">
##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency">
##INFO=<ID=RA,Number=R,Type=Integer,Description="Counts per allele">
##INFO=<ID=GI,Number=G,Type=Integer,Description="Per genotype">
##INFO=<ID=AS,Number=A,Type=String,Description="Annotation from /data/CNRY_INFO_DESC_PATH/annot.vcf">
##INFO=<ID=END,Number=1,Type=Integer,Description="End position">
##INFO=<ID=FL,Number=0,Type=Flag,Description="A flag">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">
##FORMAT=<ID=PL,Number=G,Type=Integer,Description="Phred likelihoods">
##FORMAT=<ID=GL,Number=G,Type=Float,Description="Log10 likelihoods">
##FORMAT=<ID=AA,Number=A,Type=Integer,Description="Per ALT">
##FORMAT=<ID=FS,Number=R,Type=String,Description="Per allele string">
##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">
"""
SAMPLES = ["CNRY_S1", "CNRY_S2", "CNRY_S3"]


def other(b):
    return rnd.choice([x for x in "ACGT" if x != b.upper()])


def gt_fields(nal, ploidy):
    ng = nal * (nal + 1) // 2 if ploidy == 2 else nal
    if ploidy == 2:
        a, b = sorted(rnd.randrange(nal) for _ in range(2))
        gt = "%d%s%d" % (a, rnd.choice("/|"), b)
    else:
        gt = str(rnd.randrange(nal))
    ad = ",".join(str(rnd.randrange(30)) for _ in range(nal))
    pl = ",".join(str(rnd.randrange(200)) for _ in range(ng))
    gl = ",".join("%.2f" % -rnd.random() for _ in range(ng))
    aa = ",".join(str(rnd.randrange(9)) for _ in range(nal - 1))
    fs = ",".join(rnd.choice(["x", "y", "z"]) for _ in range(nal))  # one letter: bcftools 1.16 leaves stray bytes after shorter strings
    return "%s:%s:%s:%s:%s:%s:%d" % (gt, ad, pl, gl, aa, fs, rnd.randrange(99))


def record(chrom, pos1, ref, alts, samples=3, ploidies=(2, 2, 1), info_extra=""):
    nal = 1 + len(alts)
    info = "DP=%d;AC=%s;AF=%s;RA=%s;GI=%s;AS=%s%s" % (
        rnd.randrange(500), ",".join(str(rnd.randrange(1, 6)) for _ in alts),
        ",".join("%.3f" % rnd.random() for _ in alts),
        ",".join(str(rnd.randrange(50)) for _ in range(nal)),
        ",".join(str(rnd.randrange(50)) for _ in range(nal * (nal + 1) // 2)),
        ",".join(rnd.choice(["ann1", "ann2"]) for _ in alts), info_extra)
    fmt = "GT:AD:PL:GL:AA:FS:DP"
    cols = [chrom, str(pos1), rnd.choice([".", "rs%d" % rnd.randrange(10 ** 6)]), ref,
            ",".join(alts), str(rnd.randrange(10, 99)), rnd.choice(["PASS", "q10", "."]), info, fmt]
    for s in range(samples):
        if rnd.random() < 0.1:
            # genotype missing (a wholly missing sample is not used: bcftools 1.16
            # then drops or garbles Number=R/G strings of every sample)
            f = gt_fields(nal, ploidies[s % len(ploidies)]).split(":")
            f[0] = "./." if ploidies[s % len(ploidies)] == 2 else "."
            f[3] = "."
            cols.append(":".join(f))
        else:
            cols.append(gt_fields(nal, ploidies[s % len(ploidies)]))
    return "\t".join(cols)


records = []
s = chr1
for (start, unit, copies) in repeats:
    end = start + len(unit) * copies  # 0-based, one past the repeat
    kind = rnd.randrange(4)
    p = end - len(unit)  # last copy of the unit
    anchor = p - 1
    if kind == 0:    # deletion of one unit, written at the right end
        records.append(record("chr1", anchor + 1, s[anchor:p + len(unit)], [s[anchor]]))
    elif kind == 1:  # insertion of one unit at the right end
        records.append(record("chr1", end, s[end - 1], [s[end - 1] + unit]))
    elif kind == 2:  # multiallelic: deletion, insertion and a SNP
        records.append(record("chr1", anchor + 1, s[anchor:p + len(unit)],
                              [s[anchor], s[anchor:p + len(unit)] + unit,
                               other(s[anchor]) + s[anchor + 1:p + len(unit)]]))
    else:            # a padded MNP-like representation to trim
        records.append(record("chr1", anchor + 1, s[anchor:anchor + 3],
                              [s[anchor] + other(s[anchor + 1]) + s[anchor + 2]]))
for i in range(60):  # SNPs and multiallelic SNPs away from repeats
    p = 150 + i * 317 + 7
    if any(st - 3 <= p <= st + 40 for st, _, _ in repeats):
        continue
    b = s[p]
    alts = [other(b)] if i % 3 else sorted({other(b), other(b)} | {other(b)})
    records.append(record("chr1", p + 1, b, alts))
for i in range(15):
    p = 100 + i * 350
    records.append(record("chr2", p + 1, chr2[p], [other(chr2[p]), chr2[p] + "G"]))
# a reference block with END, a symbolic allele, a spanning deletion
records.append(record("chr2", 5501, chr2[5500], ["<DEL>"], info_extra=";END=5600"))
records.append(record("chr2", 5701, chr2[5700], [other(chr2[5700]), "*"]))
# two records that coincide once split and normalised (both kept)
records.append(record("chr2", 5801, chr2[5800], [other(chr2[5800])]))
records.append(record("chr2", 5801, chr2[5800], [other(chr2[5800])]))


def key(r):
    c = r.split("\t")
    return (c[0], int(c[1]))


records.sort(key=key)
head = HEADER + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(SAMPLES) + "\n"


def write(name, recs, header=head):
    with open(os.path.join(out, name), "w") as f:
        f.write(header)
        for r in recs:
            f.write(r + "\n")


write("main.vcf", records)
shuffled = records[:]
rnd.shuffle(shuffled)
write("unsorted.vcf", shuffled)

big = []
for i in range(4000):
    p = rnd.randrange(1, 19990)
    big.append(record("chr1", p + 1, s[p], [other(s[p])]))
rnd.shuffle(big)
write("big.vcf", big)

p = 1234
write("refmismatch.vcf", [records[0], record("chr1", p + 1, other(s[p]), [s[p]])] + records[1:3])
write("missingcontig.vcf", records[:2] + [record("chr9", 100, "A", ["G"])])
write("badlength.vcf", records[:2], head.replace("##contig=<ID=chr1,length=20000,",
                                                     "##contig=<ID=chr1,length=20001,"))
write("badmd5.vcf", records[:2], head.replace("##contig=<ID=chr2>",
                                              "##contig=<ID=chr2,md5=0123456789abcdef0123456789abcdef>"))
write("dupalt.vcf", records[:2] + [record("chr1", p + 1, s[p], [s[p]])])
one = head.rsplit("\t", 3)[0] + "\t%s\n"
write("single1.vcf", [("\t".join(r.split("\t")[:10])) for r in records[:20]], one % "CNRY_LOCAL1")
write("single2.vcf", [("\t".join(r.split("\t")[:10])) for r in records[20:40]], one % "CNRY_LOCAL2")
