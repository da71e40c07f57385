# cli_vcf.sh: VCF and BCF through sluice, checked against bcftools.  A small
# reference and VCFs are generated (tests/genomics/make_vcfs.py: indels in
# repeats, multiallelics with Number=A/R/G fields, haploid and missing
# genotypes, canaries in sample names and every identifying header line);
# each is ingested with --reference and exported; its records must equal
# `bcftools norm -m -any -f REF | bcftools sort` of the same input, bcftools
# must accept the file and its index, no canary may be in any stored byte
# (decompressed), and the bytes must not depend on the thread count, the
# input's path, its encoding (VCF, bgzipped VCF, BCF) or its record order.
# Bad inputs (REF mismatch, unknown contig, wrong contig length or MD5, ALT
# equal to REF, truncated BGZF) are rejected with their reasons.  Runs with
# REF_PATH/REF_CACHE set to URLs: a lookup would fail loudly.
source "$TESTS/lib.sh"
for t in bcftools bgzip samtools python3; do
	command -v $t > /dev/null || skip_all "$t not found (scripts/install-deps.sh installs it)"
done
export REF_PATH="http://127.0.0.1:9/CNRY_REF_PATH_TOUCHED/%s" REF_CACHE="http://127.0.0.1:9/%s"
newkey key
python3 "$TESTS/genomics/make_vcfs.py" in || fail "make_vcfs.py failed"
mkdir ref && mv in/ref.fa ref/ && samtools faidx ref/ref.fa
mkdir bad
mv in/refmismatch.vcf in/missingcontig.vcf in/badlength.vcf in/badmd5.vcf in/dupalt.vcf bad/
bgzip -c in/main.vcf > in/main.vcf.gz
bcftools view -Ob -o in/main.bcf in/main.vcf
# truncated: cut inside a BGZF block, and at a block boundary (no EOF block)
bgzip -c in/big.vcf > big.vcf.gz
head -c $(( $(stat -c %s big.vcf.gz) - 500 )) big.vcf.gz > bad/cut-block.vcf.gz
head -c $(( $(stat -c %s big.vcf.gz) - 28 )) big.vcf.gz > bad/cut-eof.vcf.gz
# a data line cut before its REF column (htslib parses it: no alleles)
awk '/^#/ || n++ < 3' in/main.vcf > bad/shortline.vcf && printf 'chr1\t5\n' >> bad/shortline.vcf

# records JSON: the data lines of a VCF, for comparison
records() { bcftools view -H "$1"; }
# same_records OURS ORACLE WHAT: equal in order, records equal in (CHROM,
# POS, REF, ALT) compared as a set (bcftools sort leaves their order open)
same_records() {
	python3 - "$1" "$2" "$3" <<'PY' || fail "$3: records differ from bcftools norm | sort"
import sys, itertools
def groups(path):
    out = []
    # bcftools 1.16 writes ".," for a missing Number=R string when splitting; sluice "."
    lines = (l.rstrip("\n").replace(":.,:", ":.:") for l in open(path))
    for k, g in itertools.groupby(lines, key=lambda l: tuple(l.split("\t")[:2] + [x.upper() for x in l.split("\t")[3:5]])):
        out.append((k, sorted(g)))
    return out
a, b = groups(sys.argv[1]), groups(sys.argv[2])
if a != b:
    for x, y in zip(a, b):
        if x != y:
            print("ours:    ", x, "\nbcftools:", y, file=sys.stderr)
            break
    print("%s: %d groups, bcftools %d" % (sys.argv[3], len(a), len(b)), file=sys.stderr)
    sys.exit(1)
PY
}
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

# ---- ingest, export, compare with bcftools ----
run_cmd sluice ingest --store st --key-file key --reference ref/ref.fa --report rep.jsonl --json \
	--threads 2 in
[[ $RC == 0 ]] || fail "ingest exited $RC: $STDERR"
echo "$STDOUT" > sum.json
check_accounting sum.json rep.jsonl
for f in main.vcf main.vcf.gz main.bcf unsorted.vcf big.vcf single1.vcf single2.vcf; do
	assert_eq "$(status_of rep.jsonl "/$f")" "ingested: " "$f"
done
assert_eq "$(status_of rep.jsonl ref/ref.fa)" "ingested: " "the reference"
assert_eq "$(python3 -c "import json; print([json.loads(l)['format'] for l in open('rep.jsonl') if l.find('ref.fa')>0])")" "['opaque']" "the reference's format"
pass "every valid input ingested (VCF, bgzipped VCF, BCF, unsorted), the reference as opaque"
verify_ok st
sluice export --store st --to ex 2>/dev/null
n=0
for name in main.vcf unsorted.vcf big.vcf single1.vcf; do
	d=$(digest_of rep.jsonl "$name" primary)
	f=$(find ex -name "variants-${d:0:16}.vcf.gz" | sort | head -1) # one per item with these bytes
	[[ -f $f ]] || fail "$name: no exported file for $d"
	[[ -f $f.tbi || -f $f.csi ]] || fail "$name: no index beside $f"
	bcftools index -s "$f" > /dev/null 2>&1 || fail "$name: bcftools does not accept the index"
	bcftools view -r chr1:1-20000 "$f" > /dev/null 2>&1 || fail "$name: region query through the index failed"
	records "$f" > ours.txt || fail "$name: bcftools cannot read our output"
	bcftools norm -m -any -f ref/ref.fa "in/$name" 2>/dev/null | bcftools sort 2>/dev/null |
		bcftools view -H > oracle.txt
	[[ -s oracle.txt ]] || fail "$name: the oracle produced nothing"
	same_records ours.txt oracle.txt "$name"
	n=$((n + $(wc -l < ours.txt)))
done
pass "records equal to bcftools norm -m -any -f REF | bcftools sort ($n records), indexes accepted"

# ---- the export as bcftools finds it ----
# the reference beside the variants (reference/DIGEST16.fa, samtools' .fai),
# never as an opaque file; every index named after its data file; bcftools
# run in the export folder reads each file and checks its REF against the
# exported reference; a second export changes nothing
ref16=$(sha256sum ref/ref.fa | cut -c1-16)
cmp -s ex/reference/$ref16.fa ref/ref.fa || fail "the reference is not exported as reference/$ref16.fa"
cmp -s ex/reference/$ref16.fa.fai ref/ref.fa.fai || fail "reference/$ref16.fa.fai is not samtools faidx's"
[[ -z $(find ex -name "$ref16*.bin") ]] || fail "the reference also exported as opaque"
while IFS= read -r i; do
	[[ -f ${i%.*} ]] || fail "$i names no data file beside it"
done < <(find ex -name '*.tbi' -o -name '*.csi')
while IFS= read -r v; do
	v=${v#ex/}
	(cd ex && bcftools view -H "$v" > /dev/null 2>&1) || fail "$v: bcftools view in the export refuses it"
	(cd ex && bcftools norm --check-ref e -f reference/$ref16.fa "$v" > /dev/null 2>&1) ||
		fail "$v: REF differs from the exported reference"
done < <(find ex -name '*.vcf.gz')
export_again st ex
pass "export: reference/$ref16.fa with its .fai; indexes named after their files; bcftools view and norm --check-ref in the export; a second export changes nothing"

# ---- header ----
main=$(find ex -name "variants-$(digest_of rep.jsonl main.vcf primary | cut -c1-16).vcf.gz" | sort | head -1)
bcftools view --no-version -h "$main" > hdr.txt
for k in '##fileformat=VCFv4.2' '##reference=sha256:' '##contig=<ID=chr2,length=6000,md5=' \
	'##INFO=<ID=AS,Number=A,Type=String,Description="(removed by sluice: it named a path)">' \
	'##ALT=<ID=DEL' '##FILTER=<ID=q10'; do
	assert_contains "$(cat hdr.txt)" "$k" "output header"
done
for k in '##source' '##commandline' '##GATKCommandLine' '##bcftools_' '##SAMPLE' '##PEDIGREE' \
	'##fileDate' 'URL='; do
	assert_not_contains "$(cat hdr.txt)" "$k" "output header"
done
ref_digest=$(sha256 ref/ref.fa)
assert_contains "$(cat hdr.txt)" "##reference=sha256:$ref_digest" "##reference names the reference object"
samples=$(bcftools query -l "$main" | tr '\n' ' ')
assert_match "$samples" '^S[0-9a-f]{24} S[0-9a-f]{24} S[0-9a-f]{24} $' "sample names are subject pseudonyms"
pass "header: identifying lines removed, contigs completed, samples pseudonymised"

# ---- no canary anywhere ----
mkdir plain
for f in $(find ex -type f); do
	case $f in
	*.vcf.gz | *.tbi | *.csi) bgzip -dc "$f" > "plain/$(basename "$f").txt" ;;
	*) cp "$f" plain/ ;;
	esac
done
sluice ls --store st --json > plain/ls.txt
sluice log --store st > plain/log.txt
if grep -rl CNRY plain st; then
	fail "a canary reached the store (files above)"
fi
pass "no canary in any stored byte (decompressed), catalog or provenance"

# ---- the same bytes whatever the encoding, order, path or threads ----
d_main=$(digest_of rep.jsonl main.vcf primary)
assert_eq "$(digest_of rep.jsonl main.vcf.gz primary)" "$d_main" "bgzipped VCF gives the same output"
assert_eq "$(digest_of rep.jsonl main.bcf primary)" "$d_main" "BCF gives the same output"
assert_eq "$(digest_of rep.jsonl unsorted.vcf primary)" "$d_main" "unsorted input gives the same output"
mkdir -p other/CNRY_DIR && cp in/main.vcf in/big.vcf other/CNRY_DIR/
run_cmd sluice ingest --store st2 --key-file key --reference ref/ref.fa --report rep2.jsonl --threads 1 \
	--vcf-threads 0 --vcf-sort-memory 64K other
[[ $RC == 0 ]] || fail "second ingest exited $RC: $STDERR"
# a pool of 7: batches of lines parsed and blocks compressed on threads
run_cmd sluice ingest --store st2b --key-file key --reference ref/ref.fa --report rep3.jsonl \
	--vcf-threads 7 other
[[ $RC == 0 ]] || fail "third ingest exited $RC: $STDERR"
for name in main.vcf big.vcf; do
	for role in primary index; do
		assert_eq "$(digest_of rep2.jsonl $name $role)" "$(digest_of rep.jsonl $name $role)" \
			"$name $role: another path, 1 thread, no pool, spilled sort"
		assert_eq "$(digest_of rep3.jsonl $name $role)" "$(digest_of rep.jsonl $name $role)" \
			"$name $role: another path, a pool of 7"
	done
done
runs=$(sluice log --store st2 | python3 -c "import json,sys; print(max(json.loads(l).get('facts',{}).get('vcf',{}).get('sort_runs',0) for l in sys.stdin))")
[[ $runs -gt 1 ]] || fail "a 64K sort memory should spill runs (got $runs)"
pass "deterministic: same bytes across encodings, record order, paths, thread counts, --vcf-threads 0 and 7, spilled sort ($runs runs)"

# ---- the compression level: other bytes, the same records, a clear error ----
assert_exit 2 sluice ingest --store st9 --key-file key --reference ref/ref.fa --vcf-compression-level 0 in/main.vcf
assert_contains "$OUT" "--vcf-compression-level wants a number from 1 to 9" "level 0 refused"
run_cmd sluice ingest --store st9 --key-file key --reference ref/ref.fa --report rep9.jsonl \
	--vcf-compression-level 9 in/big.vcf
[[ $RC == 0 ]] || fail "level 9 ingest exited $RC: $STDERR"
d9=$(digest_of rep9.jsonl big.vcf primary)
[[ $d9 != "$(digest_of rep.jsonl big.vcf primary)" ]] || fail "level 9 gave the bytes of level 4"
assert_eq "$(sluice cat --store st9 "$d9" | bgzip -dc | md5sum)" \
	"$(sluice cat --store st "$(digest_of rep.jsonl big.vcf primary)" | bgzip -dc | md5sum)" \
	"level 9 and level 4 hold the same text"
pass "--vcf-compression-level: other bytes, the same text; 0 refused"

# ---- the subject map links samples to the same subject ----
printf 'local_id,person_id\nCNRY_LOCAL1,CNRY_PERSON\nCNRY_LOCAL2,CNRY_PERSON\n' > map.csv
run_cmd sluice ingest --store st3 --key-file key --reference ref/ref.fa --subject-map map.csv \
	in/single1.vcf in/single2.vcf
[[ $RC == 0 ]] || fail "subject-map ingest exited $RC: $STDERR"
subs=$(sluice ls --store st3 --json | python3 -c "import json,sys; print(' '.join(sorted({json.loads(l)['attrs'].get('subject','-') for l in sys.stdin if json.loads(l)['format']=='vcf'})))")
assert_match "$subs" '^S[0-9a-f]{24}$' "two samples of one person: one subject"
pass "the subject map gives two samples of one person one subject"

# ---- rejections ----
run_cmd sluice ingest --store st4 --key-file key --reference ref/ref.fa --report rep4.jsonl bad
[[ $RC == 1 ]] || fail "bad inputs: exit $RC, expected 1"
assert_contains "$(status_of rep4.jsonl refmismatch.vcf)" "rejected: record 2: REF does not match the reference" "REF mismatch"
assert_contains "$(status_of rep4.jsonl missingcontig.vcf)" "rejected: contig chr9 is not in the reference" "missing contig"
assert_contains "$(status_of rep4.jsonl badlength.vcf)" "length 20001 is not the reference's 20000" "contig length"
assert_contains "$(status_of rep4.jsonl badmd5.vcf)" "md5 is not the reference's" "contig md5"
assert_contains "$(status_of rep4.jsonl dupalt.vcf)" "an ALT allele repeats REF" "ALT equal to REF"
assert_contains "$(status_of rep4.jsonl cut-block.vcf.gz)" "rejected: " "truncated BGZF block"
assert_contains "$(status_of rep4.jsonl cut-eof.vcf.gz)" "BGZF end-of-file block is missing" "cut at a block boundary"
assert_contains "$(status_of rep4.jsonl shortline.vcf)" "record 4: the line is cut short" "a line without REF"
pass "rejected with reasons: REF mismatch, missing contig, contig length, contig md5, ALT = REF, truncated BGZF, a line without REF"

run_cmd sluice ingest --store st5 --key-file key --reference ref/ref.fa --report rep5.jsonl \
	--vcf-ref-mismatch exclude bad/refmismatch.vcf
[[ $RC == 0 ]] || fail "--vcf-ref-mismatch exclude: exit $RC: $STDERR"
excl=$(sluice log --store st5 | python3 -c "import json,sys; print(sum(json.loads(l).get('facts',{}).get('vcf',{}).get('ref_mismatch_excluded',0) for l in sys.stdin))")
assert_eq "$excl" 1 "excluded records counted in provenance"
d=$(digest_of rep5.jsonl refmismatch.vcf primary)
sluice cat --store st5 "$d" | bgzip -dc | grep -vc '^#' > n.txt || true
bcftools norm -m -any -c x -f ref/ref.fa bad/refmismatch.vcf 2>/dev/null | grep -vc '^#' > m.txt || true
assert_eq "$(cat n.txt)" "$(cat m.txt)" "records left after exclusion (bcftools -c x)"
pass "--vcf-ref-mismatch exclude leaves the record out and counts it"

run_cmd sluice ingest --store st6 --key-file key --report rep6.jsonl in/main.vcf
assert_contains "$(status_of rep6.jsonl main.vcf)" "needs the reference" "no --reference"
pass "without --reference a VCF is rejected with the reason"
