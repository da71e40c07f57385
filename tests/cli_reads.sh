# cli_reads.sh: SAM, BAM and CRAM through sluice, checked with samtools.  A
# small reference and reads are generated (tests/genomics/make_reads.py:
# canaries in every identifying header field and in the reads' RG and PG
# tags); each is ingested with --reference and exported as CRAM 3.0 with a
# .crai index.  The reads must round-trip (same names, flags, positions,
# CIGARs, sequences and qualities as the input), samtools must accept the
# file and its index, no canary may be in any stored byte (decompressed),
# and the bytes must not depend on the input's encoding, the thread count,
# the input's path or the reference's path.  Bad inputs (truncated BAM,
# contig not in the reference, wrong contig length or M5, unsorted reads) are
# rejected with their reasons.  Runs with REF_PATH/REF_CACHE set to URLs: a
# lookup would fail loudly.
source "$TESTS/lib.sh"
for t in samtools python3; do
	command -v $t > /dev/null || skip_all "$t not found (scripts/install-deps.sh installs it)"
done
export REF_PATH="http://127.0.0.1:9/CNRY_REF_PATH_TOUCHED/%s" REF_CACHE="http://127.0.0.1:9/%s"
newkey key
python3 "$TESTS/genomics/make_reads.py" in || fail "make_reads.py failed"
mkdir ref && mv in/ref.fa ref/ && samtools faidx ref/ref.fa
mkdir bad
mv in/unsorted.sam in/missingcontig.sam in/badmd5.sam in/badlength.sam bad/
samtools view --no-PG -b -o in/main.bam in/main.sam
samtools view --no-PG -C -T ref/ref.fa -o in/main.cram in/main.sam
# truncated: cut inside a BGZF block, and at a block boundary (no EOF block)
head -c $(( $(stat -c %s in/main.bam) - 500 )) in/main.bam > bad/cut-block.bam
head -c $(( $(stat -c %s in/main.bam) - 28 )) in/main.bam > bad/cut-eof.bam

# digest_of REPORT NAME ROLE
digest_of() {
	python3 - "$1" "$2" "$3" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["path"].endswith("/" + sys.argv[2]) or r["path"] == sys.argv[2]:
        print(next(o["digest"] for o in r["outputs"] if o["role"] == sys.argv[3]))
PY
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

# ---- header ----
samtools view -H --no-PG "$f" > hdr.txt
assert_eq "$(grep -c '^@PG' hdr.txt)" 1 "one @PG"
assert_contains "$(cat hdr.txt)" $'@PG\tID:sluice\tPN:sluice' "sluice's @PG"
assert_contains "$(cat hdr.txt)" $'@SQ\tSN:chr1\tLN:20000\tM5:' "@SQ with its M5"
for k in '@CO' 'UR:' 'AS:' 'SP:' 'CN:' 'DT:' 'CL:' '/'; do
	assert_not_contains "$(cat hdr.txt)" "$k" "output header"
done
subj=$(sluice ls --store st --json | python3 -c "import json,sys; print(' '.join(sorted({json.loads(l)['attrs'].get('subject','-') for l in sys.stdin if json.loads(l)['format']=='reads'})))")
assert_match "$subj" '^S[0-9a-f]{24} S[0-9a-f]{24}$' "two samples, two subjects"
sm=$(grep '^@RG' hdr.txt | tr '\t' '\n' | grep '^SM:' | sort -u | cut -c4-)
assert_contains "$subj" "$sm" "SM is the subject pseudonym of the catalog"
kind=$(sluice ls --store st --json | python3 -c "import json,sys; print(sorted({json.loads(l)['attrs'].get('kind','-') for l in sys.stdin if json.loads(l)['format']=='reads'}))")
assert_eq "$kind" "['reads']" "kind attribute"
pass "header: @PG/@CO/UR and other fields removed, @RG pseudonymised, SM = subject"

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
assert_contains "$(status_of rep4.jsonl unsorted.sam)" "not coordinate-sorted" "unsorted reads"
assert_contains "$(status_of rep4.jsonl cut-block.bam)" "rejected: " "truncated BGZF block"
assert_contains "$(status_of rep4.jsonl cut-eof.bam)" "BGZF end-of-file block is missing" "cut at a block boundary"
pass "rejected with reasons: missing contig, contig length, contig M5, unsorted, truncated BAM"

run_cmd sluice ingest --store st6 --key-file key --report rep6.jsonl in/main.sam
assert_contains "$(status_of rep6.jsonl main.sam)" "needs the reference" "no --reference"
pass "without --reference reads are rejected with the reason"
