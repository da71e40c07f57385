#!/usr/bin/env python3
"""genogen.py: deterministic genomics corpora for bench/run.

    bench/genogen.py ref OUT.fa [--size 30M] [--seed 1]
    bench/genogen.py vcf REF.fa OUT.vcf.gz [--records 1000000] [--samples 4] [--seed 1]
    bench/genogen.py canaries           # what the scans look for

ref: three contigs (half, a third and a sixth of --size) of random
sequence, each starting with a run of N (as assemblies do), with short
tandem repeats planted about every 250 bases (homopolymers and 2-4 base
units, 5-16 copies), so that indels in them have somewhere to left-align.
Indexed with `samtools faidx`.  30 Mb take about 10 s.

vcf: a multi-sample VCF as a caller writes it, bgzipped: about 80% SNVs
(a tenth of them multiallelic), 20% indels, most of them in the planted
repeats and written at the repeat's right end (so normalisation moves
them), some multiallelic (one and two units deleted); INFO AC/AF/ANN of
Number=A, FORMAT GT:AD:DP:GQ:PL (AD Number=R, PL Number=G).  The header has
the identifying lines real files carry (##commandline and ##source with
paths, ##reference as a path, ##SAMPLE, ##PEDIGREE) and sample names, all
canaries.  Records are written the way a scatter-gather pipeline
concatenates them: sorted within each 500 kb region, the regions in the
order their jobs finished (shuffled): the input is partly unsorted, so
both sluice and the bcftools pipeline really sort.  1,000,000 records take
about 40 s on 2 cores (bgzip on the other core).
"""
import argparse
import os
import random
import re
import subprocess
import sys

sys.dont_write_bytecode = True


def parse_size(s):
    s = str(s).strip().upper()
    mult = {"K": 1e3, "M": 1e6, "G": 1e9}
    return int(float(s[:-1]) * mult[s[-1]]) if s[-1] in mult else int(s)


def canaries(seed=1):
    return [f"CNRY-VCF-{k}-{seed}" for k in ("SAMPLE1", "SAMPLE2", "SAMPLE3", "SAMPLE4", "CMDPATH",
                                              "SRCPATH", "REFPATH", "SAMPLELINE", "INDIVIDUAL",
                                              "DESCPATH")]


# ---- reference ----

def make_ref(out, size, seed):
    rnd = random.Random(seed * 7919 + 1)
    sizes = [size // 2, size // 3, size - size // 2 - size // 3]
    with open(out, "w") as f:
        for ci, n in enumerate(sizes):
            nrun = min(10000, n // 20)
            # random bases: 4 per random byte
            raw = rnd.randbytes((n + 3) // 4)
            tbl = [bytes(b"ACGT"[(b >> s) & 3] for s in (0, 2, 4, 6)) for b in range(256)]
            seq = bytearray(b"".join(tbl[b] for b in raw)[:n])
            seq[:nrun] = b"N" * nrun
            pos = nrun + 50
            while pos < n - 200:
                unit = bytes(rnd.choice(b"ACGT") for _ in range(rnd.choice((1, 1, 2, 2, 3, 4))))
                copies = rnd.randint(5, 16) if len(unit) == 1 else rnd.randint(4, 12)
                rep = unit * copies
                seq[pos:pos + len(rep)] = rep
                pos += len(rep) + rnd.randint(60, 440)
            f.write(f">chr{ci + 1}\n")
            for i in range(0, n, 60):
                f.write(seq[i:i + 60].decode())
                f.write("\n")
    subprocess.run(["samtools", "faidx", out], check=True)


def read_fasta(path):
    seqs, name, parts = {}, None, []
    with open(path) as f:
        for line in f:
            if line.startswith(">"):
                if name:
                    seqs[name] = "".join(parts)
                name, parts = line[1:].split()[0], []
            else:
                parts.append(line.strip())
    if name:
        seqs[name] = "".join(parts)
    return seqs


REPEAT = re.compile(r"([ACGT])\1{4,}|([ACGT]{2})\2{3,}|([ACGT]{3})\3{3,}|([ACGT]{4})\4{3,}")


# ---- VCF ----

HEADER = """##fileformat=VCFv4.2
##fileDate=20210714
##source=/opt/pipelines/{c[SRCPATH]}/caller-4.2.6
##reference=file:///data/{c[REFPATH]}/ref.fa
{contigs}##commandline="caller --threads 16 -R /data/{c[REFPATH]}/ref.fa -I /data/{c[CMDPATH]}/sample.bam -O calls.vcf.gz"
##SAMPLE=<ID={c[SAMPLE1]},Description="tumour of {c[SAMPLELINE]}",Individual={c[INDIVIDUAL]}>
##PEDIGREE=<Child={c[SAMPLE1]},Mother={c[SAMPLE2]},Father={c[SAMPLE3]}>
##FILTER=<ID=LowQual,Description="Low quality">
##INFO=<ID=DP,Number=1,Type=Integer,Description="Approximate read depth">
##INFO=<ID=AC,Number=A,Type=Integer,Description="Allele count in genotypes">
##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency">
##INFO=<ID=MQ,Number=1,Type=Float,Description="RMS mapping quality">
##INFO=<ID=DB,Number=0,Type=Flag,Description="dbSNP membership">
##INFO=<ID=ANN,Number=A,Type=String,Description="Functional annotation from /data/{c[DESCPATH]}/genes.gff">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">
##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">
##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype quality">
##FORMAT=<ID=PL,Number=G,Type=Integer,Description="Phred-scaled genotype likelihoods">
"""

EFFECTS = ["missense_variant", "synonymous_variant", "intron_variant", "intergenic_variant",
           "frameshift_variant", "splice_region_variant"]


def make_vcf(ref, out, nrec, nsamples, seed):
    rnd = random.Random(seed * 104729 + 3)
    seqs = read_fasta(ref)
    names = list(seqs)
    total = sum(len(s) for s in seqs.values())
    c = {k.split("-")[2]: k for k in canaries(seed)}
    samples = [c[f"SAMPLE{i + 1}"] for i in range(4)][:nsamples]
    samples += [f"CNRY-VCF-SAMPLEX{i}-{seed}" for i in range(len(samples), nsamples)]
    contigs = "".join(f"##contig=<ID={n},length={len(seqs[n])}>\n" for n in names)
    head = HEADER.format(c=c, contigs=contigs)
    head += "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples) + "\n"

    # events per contig, in order: (pos0, ref, alts)
    n_indel_rep = nrec * 15 // 100
    n_indel_rnd = nrec * 5 // 100
    events = {n: [] for n in names}
    reps = {n: [(m.start(), m.end(), len(next(g for g in m.groups() if g))) for m in REPEAT.finditer(s)]
            for n, s in seqs.items()}
    allreps = [(n, r) for n in names for r in reps[n]]
    picked = rnd.sample(range(len(allreps)), min(n_indel_rep, len(allreps)))
    for i in picked:
        n, (s, e, u) = allreps[i]
        seq = seqs[n]
        k = (e - s) // u
        kind = rnd.random()
        if kind < 0.45:          # one unit deleted, at the right end
            a = e - u - 1
            events[n].append((a, seq[a:e], [seq[a]]))
        elif kind < 0.85:        # one unit inserted, at the right end
            a = e - 1
            events[n].append((a, seq[a], [seq[a] + seq[e - u:e]]))
        elif k >= 3:             # multiallelic: one and two units deleted
            a = e - 2 * u - 1
            events[n].append((a, seq[a:e], [seq[a:e - u], seq[a]]))
        else:
            a = e - 1
            events[n].append((a, seq[a], [seq[a] + seq[e - u:e], seq[a] + seq[e - u:e] * 2]))
    nsnv = nrec - len(picked) - n_indel_rnd
    for kind, count in (("snv", nsnv), ("indel", n_indel_rnd)):
        for _ in range(count):
            r = rnd.randrange(total)
            for n in names:
                if r < len(seqs[n]):
                    break
                r -= len(seqs[n])
            seq = seqs[n]
            a = min(max(r, 10), len(seq) - 20)
            while seq[a] == "N" or "N" in seq[a:a + 8]:
                a = rnd.randrange(len(seq) // 20 + 10, len(seq) - 20)
            if kind == "snv":
                others = [b for b in "ACGT" if b != seq[a]]
                rnd.shuffle(others)
                m = 1 if rnd.random() < 0.9 else rnd.choice((2, 3))
                events[n].append((a, seq[a], others[:m]))
            elif rnd.random() < 0.5:
                L = rnd.randint(1, 6)
                events[n].append((a, seq[a:a + L + 1], [seq[a]]))
            else:
                ins = "".join(rnd.choice("ACGT") for _ in range(rnd.randint(1, 6)))
                events[n].append((a, seq[a], [seq[a] + ins]))

    def fmt_sample(nal):
        ng = nal * (nal + 1) // 2
        if rnd.random() < 0.03:
            gt = "./."
        else:
            x, y = sorted((rnd.randrange(nal), rnd.randrange(nal)))
            gt = f"{x}/{y}"
        ad = [rnd.randrange(40) for _ in range(nal)]
        pl = ",".join(str(rnd.randrange(990)) for _ in range(ng - 1))
        return f"{gt}:{','.join(map(str, ad))}:{sum(ad)}:{rnd.randrange(99)}:0,{pl}"

    # scatter-gather: 500 kb regions, each sorted, written in shuffled order
    chunks = []
    for n in names:
        ev = sorted(events[n])
        by = {}
        for e in ev:
            by.setdefault(e[0] // 500000, []).append(e)
        chunks += [(n, k) for k in sorted(by)]
        events[n] = by
    rnd.shuffle(chunks)
    p = subprocess.Popen(["bgzip", "-@", "2", "-c"], stdin=subprocess.PIPE, stdout=open(out, "wb"))
    w = p.stdin
    w.write(head.encode())
    buf = []
    for n, k in chunks:
        for a, refa, alts in events[n][k]:
            nal = 1 + len(alts)
            ac = ",".join(str(rnd.randint(1, 2 * nsamples)) for _ in alts)
            af = ",".join(f"{rnd.random():.4f}" for _ in alts)
            ann = ",".join(rnd.choice(EFFECTS) + f"|GENE{a // 20000}" for _ in alts)
            info = f"DP={rnd.randrange(20, 400)};AC={ac};AF={af};MQ={rnd.uniform(20, 60):.2f}" \
                   + (";DB" if rnd.random() < 0.3 else "") + f";ANN={ann}"
            vid = f"rs{rnd.randrange(10 ** 8)}" if rnd.random() < 0.3 else "."
            cols = [n, str(a + 1), vid, refa, ",".join(alts), f"{rnd.uniform(10, 3000):.2f}",
                    "PASS" if rnd.random() < 0.9 else "LowQual", info, "GT:AD:DP:GQ:PL"]
            cols += [fmt_sample(nal) for _ in range(nsamples)]
            buf.append("\t".join(cols))
            if len(buf) >= 4096:
                w.write(("\n".join(buf) + "\n").encode())
                buf = []
    if buf:
        w.write(("\n".join(buf) + "\n").encode())
    w.close()
    if p.wait():
        raise SystemExit("genogen: bgzip failed")
    return sum(len(events[n][k]) for n, k in chunks)


def main():
    if sys.argv[1:] == ["canaries"]:
        print("\n".join(canaries()))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("ref")
    r.add_argument("out")
    r.add_argument("--size", default="30M")
    r.add_argument("--seed", type=int, default=1)
    v = sub.add_parser("vcf")
    v.add_argument("ref")
    v.add_argument("out")
    v.add_argument("--records", type=int, default=1000000)
    v.add_argument("--samples", type=int, default=4)
    v.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.cmd == "ref":
        make_ref(a.out, parse_size(a.size), a.seed)
    else:
        n = make_vcf(a.ref, a.out, a.records, a.samples, a.seed)
        print(n)


if __name__ == "__main__":
    main()
