/* readsgen.c: a deterministic BAM of paired reads for bench/run's `reads`
 * workload, written through htslib (bench/run builds it with cc and
 * pkg-config htslib into its work folder; Python would take minutes for
 * 5,000,000 reads).
 *
 *     sl-readsgen REF.fa OUT.bam NREADS SEED
 *
 * REF.fa must be indexed (samtools faidx).  The reads are what an aligner
 * writes before sorting: pairs of 150 bp reads, mates adjacent, in the order
 * of the input FASTQ (random positions), SO:unsorted.  Fragments of about
 * 350 bp are drawn uniformly over the contigs (avoiding N); each read has
 * about 1% mismatches, one read in 50 a 1-3 base insertion or deletion,
 * Illumina-binned qualities (2, 12, 23, 37) that drop towards the 3' end,
 * MAPQ 60 (0 for a few), tags NM, AS and RG.  One pair in 200 has one mate
 * unmapped (placed at its mate), one in 500 is wholly unmapped (no contig).
 * Canaries (CNRY-BAM-...) in @RG ID/SM/LB/PU/DS/CN, @SQ UR/AS, @PG CL and
 * @CO lines, and in each read's RG tag (the group ID); none in read names,
 * sequences or other fields (sluice keeps those).  Two read groups.
 */
#include <htslib/faidx.h>
#include <htslib/sam.h>
#include <htslib/kstring.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state;
static uint64_t rnd(void) /* splitmix64: deterministic, fast */
{
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}
static uint32_t below(uint32_t n) { return (uint32_t)((rnd() >> 32) * n >> 32); }

#define RLEN 150
static const char *BASES = "ACGT";

struct contig {
	char *name;
	char *seq;
	hts_pos_t len, first; /* first: first base after the leading N run */
};

static int die(const char *msg)
{
	fprintf(stderr, "sl-readsgen: %s\n", msg);
	exit(1);
}

static void revcomp(char *s, int n)
{
	for (int i = 0, j = n - 1; i <= j; i++, j--) {
		char a = s[i], b = s[j];
		s[i] = b == 'A' ? 'T' : b == 'C' ? 'G' : b == 'G' ? 'C' : b == 'T' ? 'A' : 'N';
		s[j] = a == 'A' ? 'T' : a == 'C' ? 'G' : a == 'G' ? 'C' : a == 'T' ? 'A' : 'N';
	}
}

/* One read from ref[pos..]: seq, qual, cigar; returns the reference span
 * and the edit distance in *nm. */
static int make_read(const struct contig *c, hts_pos_t pos, char *seq, char *qual,
		     uint32_t *cigar, size_t *ncig, int *nm)
{
	int span = RLEN, e = 0;
	int indel = below(50) == 0 ? (int)below(6) + 1 : 0; /* 1-3 ins (1..3) or del (4..6) */
	int at = 30 + (int)below(90);
	int i = 0, r = 0;
	*ncig = 0;
	if (indel && indel <= 3) { /* insertion of `indel` bases at read offset at */
		for (; i < at; i++, r++)
			seq[i] = c->seq[pos + r];
		for (int k = 0; k < indel; k++)
			seq[i++] = BASES[below(4)];
		for (; i < RLEN; i++, r++)
			seq[i] = c->seq[pos + r];
		cigar[0] = bam_cigar_gen(at, BAM_CMATCH);
		cigar[1] = bam_cigar_gen(indel, BAM_CINS);
		cigar[2] = bam_cigar_gen(RLEN - at - indel, BAM_CMATCH);
		*ncig = 3;
		span = r;
		e += indel;
	} else if (indel) { /* deletion of indel-3 bases after read offset at */
		int d = indel - 3;
		for (; i < at; i++, r++)
			seq[i] = c->seq[pos + r];
		r += d;
		for (; i < RLEN; i++, r++)
			seq[i] = c->seq[pos + r];
		cigar[0] = bam_cigar_gen(at, BAM_CMATCH);
		cigar[1] = bam_cigar_gen(d, BAM_CDEL);
		cigar[2] = bam_cigar_gen(RLEN - at, BAM_CMATCH);
		*ncig = 3;
		span = r;
		e += d;
	} else {
		memcpy(seq, c->seq + pos, RLEN);
		cigar[0] = bam_cigar_gen(RLEN, BAM_CMATCH);
		*ncig = 1;
	}
	for (i = 0; i < RLEN; i++) {
		if (seq[i] >= 'a')
			seq[i] -= 32;
		if (below(100) == 0) { /* a mismatch */
			char b;
			do
				b = BASES[below(4)];
			while (b == seq[i]);
			seq[i] = b;
			e++;
		}
		/* binned qualities, worse towards the end */
		uint32_t x = below(1000);
		int bad = i > 120 ? 60 : 15;
		qual[i] = x < (unsigned)bad / 3 ? 2 : x < (unsigned)bad ? 12 : x < (unsigned)bad * 4 ? 23 : 37;
	}
	*nm = e;
	return span;
}

int main(int argc, char **argv)
{
	if (argc != 5)
		die("usage: sl-readsgen REF.fa OUT.bam NREADS SEED");
	long long nreads = atoll(argv[3]);
	rng_state = 0x5EED0000ull + (uint64_t)atoll(argv[4]);
	faidx_t *fai = fai_load(argv[1]);
	if (!fai)
		die("cannot load the reference's index (samtools faidx REF)");
	int nc = faidx_nseq(fai);
	struct contig *ctg = calloc(nc, sizeof *ctg);
	hts_pos_t total = 0;
	kstring_t hdr = {0, 0, NULL};
	ksprintf(&hdr, "@HD\tVN:1.6\tSO:unsorted\tGO:query\n");
	for (int i = 0; i < nc; i++) {
		ctg[i].name = strdup(faidx_iseq(fai, i));
		ctg[i].seq = faidx_fetch_seq64(fai, ctg[i].name, 0, HTS_POS_MAX, &ctg[i].len);
		if (!ctg[i].seq)
			die("cannot read a contig");
		while (ctg[i].first < ctg[i].len && ctg[i].seq[ctg[i].first] == 'N')
			ctg[i].first++;
		if (ctg[i].len - ctg[i].first < 2000)
			die("a contig is too short");
		total += ctg[i].len - ctg[i].first;
		ksprintf(&hdr, "@SQ\tSN:%s\tLN:%lld\tAS:CNRY-BAM-ASSEMBLY\tUR:file:/home/CNRY-BAM-REFPATH/ref.fa\n",
			 ctg[i].name, (long long)ctg[i].len);
	}
	const char *rg[2] = {"CNRY-BAM-RG1.L001", "CNRY-BAM-RG2.L002"};
	for (int g = 0; g < 2; g++)
		ksprintf(&hdr,
			 "@RG\tID:%s\tSM:CNRY-BAM-SAMPLE\tLB:CNRY-BAM-LIB\tPU:CNRY-BAM-PU.%d\tPL:ILLUMINA"
			 "\tCN:CNRY-BAM-CENTER\tDT:2021-07-14\tDS:CNRY-BAM-DS tumour of patient\n",
			 rg[g], g + 1);
	ksprintf(&hdr, "@PG\tID:bwa\tPN:bwa\tVN:0.7.17-r1188\tCL:bwa mem -t 16 -R @RG\\tID:CNRY-BAM-RG1.L001"
		       " /data/CNRY-BAM-PGPATH/ref.fa /data/CNRY-BAM-PGPATH/R1.fq.gz /data/CNRY-BAM-PGPATH/R2.fq.gz\n");
	ksprintf(&hdr, "@CO\tuser CNRY-BAM-COUSER ran this on /scratch/CNRY-BAM-COPATH\n");

	htsFile *out = hts_open(argv[2], "wb");
	if (!out)
		die("cannot open the output");
	hts_set_threads(out, 2);
	sam_hdr_t *h = sam_hdr_parse(hdr.l, hdr.s);
	if (!h || sam_hdr_write(out, h) < 0)
		die("cannot write the header");
	bam1_t *b = bam_init1();
	char seq[2][RLEN + 8], qual[2][RLEN];
	uint32_t cig[2][4];
	size_t ncig[2];
	int nm[2];
	char name[96], aux[64];
	long long npairs = nreads / 2;
	for (long long p = 0; p < npairs; p++) {
		int tid = -1;
		hts_pos_t pos[2] = {-1, -1}, span[2] = {0, 0};
		int isize = 250 + (int)below(100) + (int)below(100); /* about 350, triangular */
		uint32_t kind = below(1000);
		int unmapped_both = kind < 2, unmapped_mate = kind >= 2 && kind < 7;
		int g = (int)below(2);
		snprintf(name, sizeof name, "A00488:61:HMLGNDSXX:%d:%d:%d:%d", g + 1, 1101 + (int)(p / 40000),
			 (int)(p % 40000), (int)((p * 7919) % 36000));
		if (!unmapped_both) {
			hts_pos_t r = (hts_pos_t)(((rnd() >> 11) * (double)total) / (double)(1ull << 53));
			for (tid = 0; tid < nc && r >= ctg[tid].len - ctg[tid].first; tid++)
				r -= ctg[tid].len - ctg[tid].first;
			if (tid == nc)
				tid = nc - 1, r = 0;
			hts_pos_t start = ctg[tid].first + r;
			if (start + isize + 10 > ctg[tid].len)
				start = ctg[tid].len - isize - 10;
			pos[0] = start;
			span[0] = make_read(&ctg[tid], pos[0], seq[0], qual[0], cig[0], &ncig[0], &nm[0]);
			pos[1] = start + isize - RLEN;
			span[1] = make_read(&ctg[tid], pos[1], seq[1], qual[1], cig[1], &ncig[1], &nm[1]);
			revcomp(seq[1], RLEN);
		} else {
			for (int m = 0; m < 2; m++) {
				for (int i = 0; i < RLEN; i++)
					seq[m][i] = BASES[below(4)], qual[m][i] = 2 + (int)below(3) * 10;
				ncig[m] = 0;
			}
		}
		/* read 1 forward, read 2 reverse; which mate is read 1 flips */
		int first = (int)below(2);
		for (int m = 0; m < 2; m++) {
			int me = m, mate = 1 - m;
			uint16_t flag = BAM_FPAIRED | (m == first ? BAM_FREAD1 : BAM_FREAD2);
			int32_t mytid = tid, matetid = tid;
			hts_pos_t mypos = pos[me], matepos = pos[mate];
			int mapq = below(40) == 0 ? 0 : 60;
			int myun = unmapped_both || (unmapped_mate && me == 1);
			int mateun = unmapped_both || (unmapped_mate && mate == 1);
			if (myun)
				flag |= BAM_FUNMAP, mapq = 0;
			if (mateun)
				flag |= BAM_FMUNMAP;
			if (!myun && !mateun)
				flag |= BAM_FPROPER_PAIR;
			if (me == 1 && !myun)
				flag |= BAM_FREVERSE;
			if (mate == 1 && !mateun)
				flag |= BAM_FMREVERSE;
			if (myun && !unmapped_both) /* placed at its mate */
				mypos = pos[mate];
			if (mateun && !unmapped_both)
				matepos = pos[me];
			hts_pos_t tlen = 0;
			if (!myun && !mateun) {
				hts_pos_t l = pos[0], r = pos[1] + span[1];
				tlen = me == 0 ? r - l : -(r - l);
			}
			if (unmapped_both)
				mytid = matetid = -1, mypos = matepos = -1;
			size_t l_aux = 0;
			int k = snprintf(aux, sizeof aux, "RGZ%s", rg[g]);
			l_aux = (size_t)k + 1;
			if (!myun) {
				aux[l_aux++] = 'N', aux[l_aux++] = 'M', aux[l_aux++] = 'C';
				aux[l_aux++] = (char)nm[me];
				aux[l_aux++] = 'A', aux[l_aux++] = 'S', aux[l_aux++] = 'C';
				aux[l_aux++] = (char)(RLEN - 5 * nm[me]);
			}
			if (bam_set1(b, strlen(name), name, flag, mytid, mypos, (uint8_t)mapq,
				     myun ? 0 : ncig[me], cig[me], matetid, matepos, tlen, RLEN, seq[me],
				     NULL, l_aux) < 0)
				die("bam_set1 failed");
			memcpy(bam_get_qual(b), qual[me], RLEN);
			memcpy(bam_get_aux(b), aux, l_aux);
			b->l_data += (int)l_aux;
			if (sam_write1(out, h, b) < 0)
				die("write failed");
		}
	}
	bam_destroy1(b);
	sam_hdr_destroy(h);
	if (hts_close(out) < 0)
		die("close failed");
	for (int i = 0; i < nc; i++)
		free(ctg[i].name), free(ctg[i].seq);
	free(ctg);
	free(hdr.s);
	fai_destroy(fai);
	return 0;
}
