# cli_reads.sh: SAM, BAM and CRAM through sluice, checked with samtools.  A
# small reference and reads are generated (tests/genomics/make_reads.py:
# canaries in every identifying header field and in the reads' RG and PG
# tags); each is ingested with --reference and exported as CRAM 3.0 with a
# .crai index.  The reads must round-trip (same names, flags, positions,
# CIGARs, sequences and qualities as the input), samtools must accept the
# file and its index, no canary may be in any stored byte (decompressed),
# and the bytes must not depend on the input's encoding, the thread count,
# the input's path or the reference's path.  Unsorted input (SAM claiming
# coordinate order, BAM saying unsorted, read pairs as an aligner writes
# them) must come out exactly as `samtools sort` orders it, with the same
# bytes whatever --reads-sort-memory (a tiny one forces spilled runs);
# CRAM 3.1 must be accepted by samtools; read names replaced by a keyed hash
# or a counter must keep no original name and keep mates together; the
# decoding threads must not change a byte.  The export: each .crai named
# after its CRAM, the reference as reference/DIGEST16.fa (.fa.gz for a BGZF
# one) with its index, found by samtools in the export folder through the
# @SQ UR with no -T; a second export changes nothing.  Bad inputs (truncated BAM,
# contig not in the reference, wrong contig length or M5) are rejected with
# their reasons.  Runs with REF_PATH/REF_CACHE set to URLs: a lookup would
# fail loudly.
source "$TESTS/lib.sh"
for t in samtools bgzip python3; do
	command -v $t > /dev/null || skip_all "$t not found (scripts/install-deps.sh installs it)"
done
export REF_PATH="http://127.0.0.1:9/CNRY_REF_PATH_TOUCHED/%s" REF_CACHE="http://127.0.0.1:9/%s"
newkey key
python3 "$TESTS/genomics/make_reads.py" in || fail "make_reads.py failed"
mkdir ref && mv in/ref.fa ref/ && samtools faidx ref/ref.fa
mkdir bad sortin
mv in/missingcontig.sam in/badmd5.sam in/badlength.sam bad/
mv in/unsorted.sam sortin/
# the same shuffled reads in a BAM whose header says unsorted; read pairs
sed 's/SO:coordinate/SO:unsorted/' sortin/unsorted.sam | samtools view --no-PG -b -o sortin/unsorted-so.bam -
samtools view --no-PG -b -o sortin/pairs.bam in/pairs.sam && rm in/pairs.sam
samtools view --no-PG -b -o in/main.bam in/main.sam
samtools view --no-PG -C -T ref/ref.fa -o in/main.cram in/main.sam
# truncated: cut inside a BGZF block, and at a block boundary (no EOF block)
head -c $(( $(stat -c %s in/main.bam) - 500 )) in/main.bam > bad/cut-block.bam
head -c $(( $(stat -c %s in/main.bam) - 28 )) in/main.bam > bad/cut-eof.bam
# a tag of type 'd', which htslib's SAM parser takes and its CRAM encoder
# refuses (htslib 1.16 then leaked the container it was filling)
awk '/^@/ { print; next } ++n == 2 { $0 = $0 "\tXD:d:1.5" } n <= 3' in/main.sam > bad/dtag.sam
# the header's BGZF block says it runs past the end of the file, which ends
# in a valid end-of-file block: with decoding threads attached before the
# header, htslib 1.16 waited forever in bgzf_check_EOF
python3 - in/main.bam bad/longblock.bam <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
n = (b[16] | b[17] << 8) + 1
first = b[:n]
first[16:18] = (n + 200).to_bytes(2, "little")
open(sys.argv[2], "wb").write(first + b[-28:])
PY
# CRAMs whose structure lies (a header container asking for 1.6 billion
# slices, a HUFFMAN table declaring 16.7 million codes in 4 bytes, codec 45,
# an encoding past its map: htslib 1.16 allocated, and for the table wrote,
# what they asked; a compression header said to be gzipped, which cannot be
# checked unread), and one cut short
python3 "$TESTS/genomics/cram_lies.py" in/main.cram bad || fail "cram_lies.py failed"
head -c $(( $(stat -c %s in/main.cram) - 100 )) in/main.cram > bad/cut.cram

# digest_of REPORT NAME ROLE (a report is read once into REPORT.tsv: python
# starts slowly on a loaded machine)
digest_of() {
	[[ $1.tsv -nt $1 ]] || python3 - "$1" > "$1.tsv" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    for o in r["outputs"]:
        print("%s\t%s\t%s" % (r["path"].rsplit("/", 1)[-1], o["role"], o["digest"]))
PY
	awk -F'\t' -v n="${2##*/}" -v r="$3" '$1 == n && $2 == r { print $3 }' "$1.tsv"
}
# fields 1-11 of every read, sorted (ties in position may come in any order)
reads_of() { samtools view -T ref/ref.fa "$1" | cut -f1-11 | LC_ALL=C sort; }

# ---- ingest, export, round trip ----
run_cmd sluice ingest --store st --key-file key --reference ref/ref.fa --report rep.jsonl --json \
	--threads 2 in
[[ $RC == 0 ]] || fail "ingest exited $RC: $STDERR"
echo "$STDOUT" > sum.json
check_accounting sum.json rep.jsonl
for f in main.sam main.bam main.cram single2.sam; do
	assert_eq "$(status_of rep.jsonl "/$f")" "ingested: " "$f"
done
pass "SAM, BAM and CRAM ingested"
verify_ok st
d_main=$(digest_of rep.jsonl main.sam primary)
for f in main.bam main.cram; do
	for role in primary index; do
		assert_eq "$(digest_of rep.jsonl $f $role)" "$(digest_of rep.jsonl main.sam $role)" "$f $role"
	done
done
pass "SAM, BAM and CRAM of the same reads give the same bytes"
sluice export --store st --to ex 2>/dev/null
for name in main.sam single2.sam; do
	d=$(digest_of rep.jsonl "$name" primary)
	f=$(find ex -name "reads-${d:0:16}.cram")
	[[ -f $f ]] || fail "$name: no exported file for $d"
	[[ -f $f.crai ]] || fail "$name: no .crai beside $f"
	samtools quickcheck "$f" || fail "$name: samtools quickcheck refuses the output"
	[[ $(head -c 6 "$f" | od -An -tu1 | tr -s ' ') == " 67 82 65 77 3 0" ]] || fail "$name: not CRAM 3.0"
	samtools idxstats "$f" > /dev/null 2>&1 || fail "$name: samtools does not accept the index"
	reads_of "$f" > ours.txt || fail "$name: samtools cannot read our output"
	reads_of "in/$name" > theirs.txt
	[[ -s theirs.txt ]] || fail "$name: no reads in the input?"
	cmp -s ours.txt theirs.txt || { diff ours.txt theirs.txt | head -5; fail "$name: reads differ"; }
	samtools index in/main.bam 2>/dev/null || true
done
f=$(find ex -name "reads-${d_main:0:16}.cram")
for r in chr1:5000-9000 chr2:100-3000; do
	assert_eq "$(samtools view -c -T ref/ref.fa "$f" $r)" "$(samtools view -c in/main.bam $r)" "region $r through the .crai"
done
# RG tags: every read has one, the input's groups map one to one onto new IDs; no PG tag
python3 - in/main.sam <(samtools view -T ref/ref.fa "$f") <<'PY' || fail "RG tags not rewritten consistently"
import re, sys
def tags(path):
    out = {}
    for l in open(path):
        if l.startswith("@"):
            continue
        f = l.rstrip("\n").split("\t")
        t = dict((x[:2], x[5:]) for x in f[11:])
        out[f[0]] = t
    return out
a, b = tags(sys.argv[1]), tags(sys.argv[2])
assert a.keys() == b.keys()
m = {}
for k in a:
    assert "PG" not in b[k], "PG tag kept"
    new = b[k]["RG"]
    assert re.fullmatch(r"G[0-9a-f]{24}", new), new
    assert m.setdefault(a[k]["RG"], new) == new, "one group, two new IDs"
assert len(set(m.values())) == len(m) == 2, m
PY
pass "reads round-trip (names, flags, positions, CIGARs, sequences, qualities), RG tags rewritten, PG tags gone; quickcheck, index and region queries accepted"

# ---- the export as samtools finds it: no option, no network ----
# Every index named after its CRAM (main.sam, .bam and .cram share one CRAM
# and its .crai); the reference as reference/DIGEST16.fa with samtools' own
# .fai, found through the @SQ UR by samtools run in the export folder with
# no -T and no REF_PATH file (nor EBI) to find it by M5.
ref16=$(sha256sum ref/ref.fa | cut -c1-16)
cmp -s ex/reference/$ref16.fa ref/ref.fa || fail "the reference is not exported as reference/$ref16.fa"
cmp -s ex/reference/$ref16.fa.fai ref/ref.fa.fai || fail "reference/$ref16.fa.fai is not samtools faidx's"
[[ -z $(find ex -name "$(sha256sum ref/ref.fa | cut -c1-16)*.bin") ]] || fail "the reference also exported as opaque"
assert_eq "$(find ex -name '*.crai' | wc -l)" "$(find ex -name '*.cram' | wc -l)" "one .crai per CRAM"
while IFS= read -r i; do
	[[ -f ${i%.crai} ]] || fail "$i names no CRAM beside it"
done < <(find ex -name '*.crai')
noref() { (cd ex && env -u REF_CACHE REF_PATH=/nonexistent/%s samtools "$@"); }
while IFS= read -r c; do
	c=${c#ex/}
	noref quickcheck "$c" || fail "$c: samtools quickcheck in the export refuses it"
	noref view "$c" 2> noref.err | cut -f1-11 | LC_ALL=C sort > ours.txt ||
		fail "$c: samtools view without -T in the export: $(cat noref.err)"
	reads_of "ex/$c" > theirs.txt
	[[ -s ours.txt ]] && cmp -s ours.txt theirs.txt || fail "$c: samtools view without -T gives other reads"
	assert_eq "$(noref view -c "$c" chr1:5000-9000)" "$(samtools view -c -T ref/ref.fa "ex/$c" chr1:5000-9000)" \
		"$c: region query without -T"
done < <(find ex -name '*.cram')
export_again st ex
# --subject: that subject's files, and the reference they need
s1=$(sluice ls --store st --json | python3 -c "import json,sys; print(sorted(json.loads(l)['attrs']['subject'] for l in sys.stdin if json.loads(l)['format']=='reads' and 'subject' in json.loads(l)['attrs'])[0])")
sluice export --store st --to exs --subject "$s1" 2>/dev/null || fail "export --subject failed"
assert_eq "$(find exs -mindepth 1 -maxdepth 1 | sort | tr '\n' ' ')" "exs/$s1 exs/reference " "export --subject: the subject and the reference"
c=$(find exs -name '*.cram' | head -1)
(cd exs && env -u REF_CACHE REF_PATH=/nonexistent/%s samtools view -c "${c#exs/}" > /dev/null 2>&1) ||
	fail "export --subject: samtools view without -T"
pass "export: each .crai named after its CRAM; reference/$ref16.fa with its .fai; samtools quickcheck and view (reads, region) in the export with no -T and no REF_PATH; a second export changes nothing; --subject exports the reference too"

# ---- header ----
samtools view -H --no-PG "$f" > hdr.txt
assert_eq "$(grep -c '^@PG' hdr.txt)" 1 "one @PG"
assert_contains "$(cat hdr.txt)" $'@PG\tID:sluice\tPN:sluice' "sluice's @PG"
assert_contains "$(cat hdr.txt)" $'@SQ\tSN:chr1\tLN:20000\tM5:' "@SQ with its M5"
assert_contains "$(cat hdr.txt)" $'\tUR:reference/'"$ref16.fa" "@SQ UR: the exported reference"
assert_eq "$(awk -v u="UR:reference/$ref16.fa" '/^@SQ/ && $NF != u' hdr.txt | wc -l)" 0 "every @SQ ends with the UR"
# the one UR is ours (no path of the reference's); nothing else may name a path
sed $'s/\tUR:reference\/[0-9a-f]\{16\}\.fa$//' hdr.txt > hdr-noUR.txt
for k in '@CO' 'UR:' 'AS:' 'SP:' 'CN:' 'DT:' 'CL:' '/'; do
	assert_not_contains "$(cat hdr-noUR.txt)" "$k" "output header"
done
subj=$(sluice ls --store st --json | python3 -c "import json,sys; print(' '.join(sorted({json.loads(l)['attrs'].get('subject','-') for l in sys.stdin if json.loads(l)['format']=='reads'})))")
assert_match "$subj" '^S[0-9a-f]{24} S[0-9a-f]{24}$' "two samples, two subjects"
sm=$(grep '^@RG' hdr.txt | tr '\t' '\n' | grep '^SM:' | sort -u | cut -c4-)
assert_contains "$subj" "$sm" "SM is the subject pseudonym of the catalog"
kind=$(sluice ls --store st --json | python3 -c "import json,sys; print(sorted({json.loads(l)['attrs'].get('kind','-') for l in sys.stdin if json.loads(l)['format']=='reads'}))")
assert_eq "$kind" "['reads']" "kind attribute"
pass "header: @PG/@CO, the input's UR and other fields removed, UR the exported reference, @RG pseudonymised, SM = subject"

# ---- no canary anywhere ----
mkdir plain
for x in $(find ex -type f); do
	case $x in
	*.cram) samtools view -h -T ref/ref.fa "$x" > "plain/$(basename "$x").sam" ;;
	*.crai) gzip -dc "$x" > "plain/$(basename "$x").txt" ;;
	*) cp "$x" plain/ ;;
	esac
done
sluice ls --store st --json > plain/ls.txt
sluice log --store st > plain/log.txt
if grep -rl CNRY plain st; then
	fail "a canary reached the store (files above)"
fi
pass "no canary in any stored byte (decompressed), catalog or provenance"

# ---- the same bytes whatever the path, reference path or threads ----
mkdir -p other/CNRY_DIR ref2/CNRY_REFDIR && cp in/main.bam other/CNRY_DIR/ &&
	cp ref/ref.fa ref/ref.fa.fai ref2/CNRY_REFDIR/
run_cmd sluice ingest --store st2 --key-file key --reference ref2/CNRY_REFDIR/ref.fa --report rep2.jsonl \
	--threads 1 other
[[ $RC == 0 ]] || fail "second ingest exited $RC: $STDERR"
for role in primary index; do
	assert_eq "$(digest_of rep2.jsonl main.bam $role)" "$(digest_of rep.jsonl main.bam $role)" \
		"$role: another path, another reference path, 1 thread"
done
pass "deterministic: same bytes across encodings, paths, reference paths and thread counts"

# ---- a reference without its index: indexed in memory, nothing beside it ----
# samtools and bcftools index a FASTA that has no .fai; sluice must too, but
# never write beside a reference that may be read-only or shared, nor keep
# the index in the store.  htslib's CRAM reader and writer open REF.fai
# themselves (and build it there when absent): BAM and CRAM input must give
# the bytes the prebuilt .fai gives, plain and bgzipped (.gzi built too).
# As root a read-only folder stops nothing, so what is checked is that the
# folder's listing does not change.
mkdir -p noidx/plain noidx/bgz noidx/gz
cp ref/ref.fa noidx/plain/
bgzip -c ref/ref.fa > noidx/bgz/ref.fa.gz
gzip -nc ref/ref.fa > noidx/gz/ref.fa.gz
chmod a-w noidx/plain noidx/bgz noidx/gz
listing() { ls -la --time-style=full-iso noidx/*; }
listing > noidx-before.txt
# The bgzipped reference is other bytes, exported as such (the CRAM's UR
# names it): its outputs are compared with those of its prebuilt index.
mkdir -p preidx && cp noidx/bgz/ref.fa.gz preidx/ && samtools faidx preidx/ref.fa.gz
run_cmd sluice ingest --store st-preidx --key-file key --reference preidx/ref.fa.gz \
	--report preidx.jsonl in/main.bam
[[ $RC == 0 ]] || fail "bgzipped reference with its index: ingest exited $RC: $STDERR"
for r in plain/ref.fa bgz/ref.fa.gz; do
	st=st-noidx-${r%%/*}
	want=rep.jsonl
	[[ $r == bgz/* ]] && want=preidx.jsonl
	run_cmd sluice ingest --store $st --key-file key --reference noidx/$r --report $st.jsonl \
		in/main.bam in/main.cram
	[[ $RC == 0 ]] || fail "$r without .fai: ingest exited $RC: $STDERR"
	assert_eq "$(grep -c 'indexing it in memory' <<< "$STDERR")" 1 "$r: the note, once ($STDERR)"
	for f in main.bam main.cram; do
		for role in primary index; do
			assert_eq "$(digest_of $st.jsonl $f $role)" "$(digest_of $want main.bam $role)" \
				"$r without .fai: $f $role"
		done
	done
	verify_ok $st
	assert_eq "$(find $st/tmp -mindepth 1 2>/dev/null | wc -l)" 0 "$r: the store's tmp/ left empty"
	! grep -rqaF -e noidx -e ref.fa $st || fail "$r: the reference's path or name is in the store"
done
assert_eq "$(listing)" "$(cat noidx-before.txt)" "nothing written beside the references"
run_cmd sluice ingest --store st-noidx-gz --key-file key --reference noidx/gz/ref.fa.gz in/main.bam
assert_eq "$RC" 2 "a gzip (not bgzip) reference without an index"
assert_contains "$STDERR" "bgzip" "a gzip reference: why"
pass "a reference without .fai (plain; bgzipped, without .gzi) is indexed in memory, said once: same bytes for BAM and CRAM input, nothing beside it or in the store; gzip refused with its reason"

# ---- the subject map links samples to one subject ----
printf 'local_id,person_id\nCNRY_SM1,CNRY_PERSON\nCNRY_SM2,CNRY_PERSON\n' > map.csv
run_cmd sluice ingest --store st3 --key-file key --reference ref/ref.fa --subject-map map.csv \
	in/main.sam in/single2.sam
[[ $RC == 0 ]] || fail "subject-map ingest exited $RC: $STDERR"
subs=$(sluice ls --store st3 --json | python3 -c "import json,sys; print(' '.join(sorted({json.loads(l)['attrs'].get('subject','-') for l in sys.stdin if json.loads(l)['format']=='reads'})))")
assert_match "$subs" '^S[0-9a-f]{24}$' "two samples of one person: one subject"
pass "the subject map gives two samples of one person one subject"

# ---- rejections ----
run_cmd sluice ingest --store st4 --key-file key --reference ref/ref.fa --report rep4.jsonl bad
[[ $RC == 1 ]] || fail "bad inputs: exit $RC, expected 1"
assert_contains "$(status_of rep4.jsonl missingcontig.sam)" "rejected: contig chr9 is not in the reference" "missing contig"
assert_contains "$(status_of rep4.jsonl badlength.sam)" "length 20001 is not the reference's 20000" "contig length"
assert_contains "$(status_of rep4.jsonl badmd5.sam)" "M5 is not the reference's" "contig M5"
assert_contains "$(status_of rep4.jsonl cut-block.bam)" "rejected: " "truncated BGZF block"
assert_contains "$(status_of rep4.jsonl cut-eof.bam)" "BGZF end-of-file block is missing" "cut at a block boundary"
assert_contains "$(status_of rep4.jsonl dtag.sam)" "read 2: tag XD has type 'd'" "tag type CRAM cannot store"
assert_contains "$(status_of rep4.jsonl longblock.bam)" "header cannot be read" "BGZF block past the end"
assert_contains "$(status_of rep4.jsonl landmarks.cram)" "CRAM container 1: its header's counts do not fit" "CRAM landmark count"
assert_contains "$(status_of rep4.jsonl huffman.cram)" "CRAM container 2: a HUFFMAN table in its compression header declares 16777215 codes in 4 bytes" "CRAM HUFFMAN count"
assert_contains "$(status_of rep4.jsonl codec.cram)" "CRAM container 2: its compression header uses codec 45, which CRAM 2.1 and 3.x do not define" "CRAM codec"
assert_contains "$(status_of rep4.jsonl pastmap.cram)" "CRAM container 2: an encoding in its compression header runs past its map" "CRAM encoding size"
assert_contains "$(status_of rep4.jsonl gzipped.cram)" "CRAM container 2: its compression header is compressed" "CRAM compressed compression header"
assert_contains "$(status_of rep4.jsonl cut.cram)" "runs past its end" "truncated CRAM"
pass "rejected with reasons: missing contig, contig length, contig M5, truncated BAM, tag type, block past the end, CRAM container counts, CRAM compression headers (HUFFMAN count, codec, encoding size, compressed), truncated CRAM"
# with decoding threads: a rejection, not a hang (KILL: sluice waits for its
# workers on TERM)
RC=0
timeout -s KILL 60 "$SLUICE" ingest --store st4t --key-file key --reference ref/ref.fa --reads-threads 3 \
	--report rep4t.jsonl bad/longblock.bam 2> /dev/null || RC=$?
[[ $RC == 1 ]] || fail "BGZF block past the end with --reads-threads 3: exit $RC, expected 1 (137: hung)"
assert_contains "$(status_of rep4t.jsonl longblock.bam)" "header cannot be read" "BGZF block past the end, threads"
pass "a BGZF block past the end with decoding threads is rejected, not a hang"

run_cmd sluice ingest --store st6 --key-file key --report rep6.jsonl in/main.sam
assert_contains "$(status_of rep6.jsonl main.sam)" "needs the reference" "no --reference"
pass "without --reference reads are rejected with the reason"

# ---- unsorted input: sorted as samtools sort sorts, with bounded memory ----
# cram_of STORE REPORT NAME: the exported CRAM of NAME's primary output
cram_of() {
	[[ -d ex-$1 ]] || sluice export --store "$1" --to "ex-$1" 2>/dev/null
	local d
	d=$(digest_of "$2" "$3" primary)
	find "ex-$1" -name "reads-${d:0:16}.cram"
}
# fact_of STORE REPORT NAME KEY: the reads fact KEY of NAME's item
fact_of() {
	sluice log --store "$1" | python3 -c '
import json, sys
item = [json.loads(l)["item"] for l in open(sys.argv[1]) if json.loads(l)["path"].endswith("/" + sys.argv[2])]
for l in sys.stdin:
    r = json.loads(l)
    if r["item"] == item[0]:
        print(json.dumps(r["facts"]["reads"][sys.argv[3]]))' "$2" "$3" "$4"
}
# fields 1-11 of every read in file order
records_of() { samtools view -T ref/ref.fa "$1" | cut -f1-11; }
run_cmd sluice ingest --store sts --key-file key --reference ref/ref.fa --report reps.jsonl --threads 2 sortin
[[ $RC == 0 ]] || fail "unsorted ingest exited $RC: $STDERR"
for f in unsorted.sam unsorted-so.bam pairs.bam; do
	assert_eq "$(status_of reps.jsonl "/$f")" "ingested: " "$f"
	out=$(cram_of sts reps.jsonl $f)
	samtools quickcheck "$out" || fail "$f: samtools quickcheck refuses the output"
	assert_eq "$(samtools view -H "$out" | grep '^@HD')" $'@HD\tVN:1.6\tSO:coordinate' "$f: output @HD"
	records_of "$out" > ours.txt
	samtools sort --no-PG -O sam "sortin/$f" 2>/dev/null | samtools view - | cut -f1-11 > theirs.txt
	cmp -s ours.txt theirs.txt || { diff ours.txt theirs.txt | head -5; fail "$f: not samtools sort's records and order"; }
done
d_uns=$(digest_of reps.jsonl unsorted.sam primary)
assert_eq "$(fact_of sts reps.jsonl unsorted.sam resorted)" true "SO:coordinate out of order: read again and sorted"
assert_eq "$(digest_of reps.jsonl unsorted-so.bam primary)" "$d_uns" "the same reads, sorted from the start or after a false SO:coordinate"
pass "unsorted SAM/BAM and aligner-order pairs: records and order of samtools sort (names, flags, positions, CIGARs, mates, sequences, qualities), @HD SO:coordinate"

samtools sort --no-PG -o sorted.bam sortin/pairs.bam 2>/dev/null
mkdir streamin && mv sorted.bam streamin/
run_cmd sluice ingest --store sts --key-file key --reference ref/ref.fa --report repst.jsonl streamin
d=$(digest_of repst.jsonl sorted.bam primary)
assert_eq "$(fact_of sts repst.jsonl sorted.bam order)" '"streamed"' "samtools-sorted input streamed"
assert_eq "$d" "$(digest_of reps.jsonl pairs.bam primary)" "streamed and sorted give the same bytes"
pass "sorted input streamed, with the bytes of the sorted path"

run_cmd sluice ingest --store sts2 --key-file key --reference ref/ref.fa --report reps2.jsonl \
	--reads-sort-memory 16K --threads 1 sortin
[[ $RC == 0 ]] || fail "16K sort ingest exited $RC: $STDERR"
for f in unsorted.sam unsorted-so.bam pairs.bam; do
	for role in primary index; do
		assert_eq "$(digest_of reps2.jsonl $f $role)" "$(digest_of reps.jsonl $f $role)" "$f $role with 16K of sort memory"
	done
done
runs=$(fact_of sts2 reps2.jsonl unsorted.sam sort_runs)
(( runs > 100 )) || fail "16K of sort memory: $runs runs spilled, expected many"
pass "--reads-sort-memory 16K: $runs runs spilled (merged 32 at a time), same bytes as in memory"

# ---- CRAM 3.1 ----
run_cmd sluice ingest --store st31 --key-file key --reference ref/ref.fa --report rep31.jsonl \
	--reads-cram-version 3.1 sortin/pairs.bam
[[ $RC == 0 ]] || fail "3.1 ingest exited $RC: $STDERR"
out=$(cram_of st31 rep31.jsonl pairs.bam)
[[ $(head -c 6 "$out" | od -An -tu1 | tr -s ' ') == " 67 82 65 77 3 1" ]] || fail "not CRAM 3.1"
samtools quickcheck "$out" || fail "3.1: samtools quickcheck refuses the output"
[[ -f $out.crai ]] || fail "3.1: no .crai"
assert_eq "$(samtools view -c -T ref/ref.fa "$out" chr2:100-3000)" \
	"$(samtools view -c streamin/sorted.bam chr2:100-3000 2>/dev/null || { samtools index streamin/sorted.bam; samtools view -c streamin/sorted.bam chr2:100-3000; })" \
	"3.1 region query through the .crai"
records_of "$out" > ours.txt
records_of "$(cram_of sts reps.jsonl pairs.bam)" > theirs.txt
cmp -s ours.txt theirs.txt || fail "3.1 and 3.0 hold different reads"
assert_contains "$(sluice log --store st31 | tail -1)" '"cram":"3.1"' "3.1 in the policy"
pass "--reads-cram-version 3.1: CRAM 3.1 accepted by samtools (quickcheck, view, region through the .crai)"

# ---- read names: keyed hash, counter ----
# mates: input reads matched to output reads by place, flag and sequence;
# each input name must become one output name and no two names one
check_names() { # OUT.cram PATTERN
	python3 - <(samtools view sortin/pairs.bam) <(samtools view -T ref/ref.fa "$1") "$2" <<'PY'
import re, sys
def reads(path):
    for l in open(path):
        f = l.split("\t")
        yield (f[2], f[3], f[1], f[9], f[10]), f[0]
a, b = dict(reads(sys.argv[1])), list(reads(sys.argv[2]))
assert len(a) == len(b), "read counts differ"
m, back = {}, {}
for k, new in b:
    assert re.fullmatch(sys.argv[3], new), new
    assert m.setdefault(a[k], new) == new, "mates or alignments of one template got two names"
    assert back.setdefault(new, a[k]) == a[k], "two templates got one name"
if sys.argv[3] == r"[0-9]+":  # numbered in output order
    firsts = []
    for _, new in b:
        if new not in firsts:
            firsts.append(new)
    assert firsts == [str(i) for i in range(1, len(firsts) + 1)], firsts[:10]
PY
}
for mode in hash counter; do
	for t in "1 0" "2 3"; do
		read -r th rt <<< "$t"
		run_cmd sluice ingest --store stn-$mode-$th --key-file key --reference ref/ref.fa \
			--report repn-$mode-$th.jsonl --threads $th --reads-threads $rt \
			--reads-names $mode sortin/pairs.bam
		[[ $RC == 0 ]] || fail "--reads-names $mode ingest exited $RC: $STDERR"
	done
	for role in primary index; do
		assert_eq "$(digest_of repn-$mode-2.jsonl pairs.bam $role)" \
			"$(digest_of repn-$mode-1.jsonl pairs.bam $role)" "--reads-names $mode $role: threads 1/0 and 2/3"
	done
	out=$(cram_of stn-$mode-1 repn-$mode-1.jsonl pairs.bam)
	samtools view -h -T ref/ref.fa "$out" > names.sam
	if grep -q CNRY_NAME names.sam || grep -rq CNRY_NAME stn-$mode-1; then
		fail "--reads-names $mode: an original read name is in the output or the store"
	fi
	pat='R[0-9a-f]{24}'
	[[ $mode == counter ]] && pat='[0-9]+'
	check_names "$out" "$pat" || fail "--reads-names $mode: names not replaced one to one"
	assert_contains "$(sluice log --store stn-$mode-1 | tail -1)" "\"names\":\"$mode\"" "$mode in the policy"
done
run_cmd sluice ingest --store sts --key-file key --reference ref/ref.fa --report repk.jsonl \
	--reads-names hash sortin/pairs.bam
assert_eq "$(status_of repk.jsonl pairs.bam)" "ingested: " "another --reads-names is another policy"
pass "--reads-names hash and counter: no original name in any stored byte, mates and supplementary alignments share one name, counter in output order, same bytes with --threads 1/2 and --reads-threads 0/3"

run_cmd sluice ingest --store stu --key-file key --reference ref/ref.fa --reads-cram-version 2.1 sortin
assert_eq "$RC" 2 "--reads-cram-version 2.1"
assert_contains "$STDERR" "reads-cram-version" "--reads-cram-version 2.1"
run_cmd sluice ingest --store stu --key-file key --reference ref/ref.fa --reads-names drop sortin
assert_eq "$RC" 2 "--reads-names drop"
run_cmd sluice ingest --store stu --key-file key --reference ref/ref.fa --reads-sort-memory 0 sortin
assert_eq "$RC" 2 "--reads-sort-memory 0"
pass "bad option values refused"

# ---- a BGZF reference: exported as .fa.gz with .fai and .gzi, named so in the UR ----
mkdir gzref && bgzip -c ref/ref.fa > gzref/ref.fa.gz && samtools faidx gzref/ref.fa.gz
mkdir gzin && cp in/main.sam gzin/
run_cmd sluice ingest --store stz --key-file key --reference gzref/ref.fa.gz gzin
[[ $RC == 0 ]] || fail "ingest against a BGZF reference exited $RC: $STDERR"
sluice export --store stz --to exz 2>/dev/null || fail "export of the BGZF reference's store failed"
z16=$(sha256sum gzref/ref.fa.gz | cut -c1-16)
for x in "" .fai .gzi; do
	cmp -s exz/reference/$z16.fa.gz$x gzref/ref.fa.gz$x || fail "reference/$z16.fa.gz$x is not the input's (or samtools faidx's)"
done
c=$(find exz -name '*.cram')
assert_eq "$(samtools view -H "$c" | awk '/^@SQ/ { print $NF }' | sort -u)" "UR:reference/$z16.fa.gz" "UR of a BGZF reference"
(cd exz && env -u REF_CACHE REF_PATH=/nonexistent/%s samtools view "${c#exz/}") | cut -f1-11 | LC_ALL=C sort > ours.txt
reads_of in/main.sam > theirs.txt
cmp -s ours.txt theirs.txt || fail "BGZF reference: samtools view without -T in the export gives other reads"
pass "a BGZF reference: reference/$z16.fa.gz with its .fai and .gzi, the UR naming it, samtools view without -T in the export"
