# cli_memory.sh: large inputs are streamed: peak memory does not grow with
# the input's size (a 400 MB file costs what a 20 MB one does).  Memory, not
# time: this asserts a bound, never a speed.
source "$TESTS/lib.sh"
newkey key
mkdir small large
head -c 20000000 /dev/urandom > small/f.bin
head -c 400000000 /dev/zero > large/f.bin
peak_kib() { python3 - "$@" <<'PY'
import os, subprocess, sys
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, status, ru = os.wait4(p.pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, "ingest failed"
print(ru.ru_maxrss)
PY
}
a=$(peak_kib "$SLUICE" ingest --store s1 --key-file key --opaque small --threads 2 small)
b=$(peak_kib "$SLUICE" ingest --store s2 --key-file key --opaque large --threads 2 large)
echo "peak RSS: 20 MB input ${a} KiB, 400 MB input ${b} KiB"
(( b < a + 32768 )) || fail "peak memory grew with the input: ${a} KiB -> ${b} KiB"
verify_ok s2
pass "memory flat as the input grows 20x"
