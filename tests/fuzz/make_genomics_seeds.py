#!/usr/bin/env python3
"""Seeds for fuzz_genomics: small VCF, bgzipped VCF, BCF, SAM, BAM and CRAM
files against the reference fuzz_genomics.c writes (same base formula).
Needs bcftools, samtools and bgzip.  usage: make_genomics_seeds.py OUTDIR"""
import os, subprocess, sys, tempfile

CONTIGS = [("chr1", 2000, 0), ("chr2", 1000, 1000)]


def base(i):
    return "ACGT"[(i * 7 + i // 13) % 4]


def seq(contig, start, n):  # 1-based start
    off = dict((c, o) for c, _, o in CONTIGS)[contig]
    return "".join(base(off + start - 1 + k) for k in range(n))


def vcf_text():
    h = ["##fileformat=VCFv4.2",
         "##contig=<ID=chr1,length=2000>", "##contig=<ID=chr2,length=1000>",
         "##INFO=<ID=AC,Number=A,Type=Integer,Description=\"ac\">",
         "##INFO=<ID=AD,Number=R,Type=Integer,Description=\"ad\">",
         "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"gt\">",
         "##FORMAT=<ID=PL,Number=G,Type=Integer,Description=\"pl\">",
         "##commandline=\"caller /home/CNRY_USER/run.sh\"",
         "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tCNRY_S1\tCNRY_S2"]
    recs = []
    r = seq("chr2", 100, 1)
    recs.append("chr2\t100\t.\t%s\t%s\t50\tPASS\tAC=1;AD=3,4\tGT:PL\t0/1:0,10,100\t1/1:100,10,0"
                % (r, "A" if r != "A" else "C"))
    r = seq("chr1", 200, 3)
    recs.append("chr1\t200\trs1\t%s\t%s,%s\t60\tPASS\tAC=1,2;AD=1,2,3\tGT:PL\t0/2:1,2,3,4,5,6\t1/2:6,5,4,3,2,1"
                % (r, r[0], r + "T"))
    r = seq("chr1", 50, 1)
    recs.append("chr1\t50\t.\t%s\t%s\t.\t.\t.\tGT\t0|1\t./." % (r, "G" if r != "G" else "T"))
    r = seq("chr1", 300, 6)
    recs.append("chr1\t300\t.\t%s\t%s\t.\t.\tAC=1\tGT\t0/1\t0/0" % (r, r[:1] + r[3:]))
    return "\n".join(h + recs) + "\n"


def sam_text():
    h = ["@HD\tVN:1.6\tSO:unsorted", "@SQ\tSN:chr1\tLN:2000", "@SQ\tSN:chr2\tLN:1000",
         "@RG\tID:CNRY_RG\tSM:CNRY_SM\tLB:CNRY_LB", "@PG\tID:bwa\tCL:bwa mem /data/CNRY_PATH",
         "@CO\tCNRY_COMMENT"]
    reads = []
    for i, (ctg, pos, flag) in enumerate([("chr1", 500, 99), ("chr2", 20, 0), ("chr1", 100, 16),
                                          ("chr1", 700, 147), ("*", 0, 4)]):
        s = seq(ctg, pos, 30) if ctg != "*" else "ACGT" * 7 + "AC"
        cig = "30M" if ctg != "*" else "*"
        mate = ("=", 700, 230) if flag == 99 else (("=", 500, -230) if flag == 147 else ("*", 0, 0))
        reads.append("CNRY_READ%d\t%d\t%s\t%d\t60\t%s\t%s\t%d\t%d\t%s\t%s\tRG:Z:CNRY_RG\tCO:Z:CNRY_C"
                     % (i, flag, ctg, pos, cig, mate[0], mate[1], mate[2], s, "I" * 30))
    return "\n".join(h + reads) + "\n"


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as t:
        ref = os.path.join(t, "ref.fa")
        with open(ref, "w") as f:
            for name, n, off in CONTIGS:
                f.write(">%s\n%s\n" % (name, "".join(base(off + k) for k in range(n))))
        vcf = os.path.join(out, "small.vcf")
        open(vcf, "w").write(vcf_text())
        subprocess.run(["bgzip", "-c", vcf], stdout=open(os.path.join(out, "small.vcf.gz"), "wb"), check=True)
        subprocess.run(["bcftools", "view", "-Ob", "-o", os.path.join(out, "small.bcf"), vcf], check=True)
        sam = os.path.join(out, "small.sam")
        open(sam, "w").write(sam_text())
        subprocess.run(["samtools", "view", "-b", "-o", os.path.join(out, "small.bam"), sam], check=True)
        subprocess.run(["samtools", "view", "-C", "-T", ref, "--output-fmt-option", "no_ref=0",
                        "-o", os.path.join(out, "small.cram"), sam], check=True)


main()
