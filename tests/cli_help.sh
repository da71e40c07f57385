# cli_help.sh: README.md and the binary's help agree, so neither drifts:
# every option README.md names is one some command's --help lists, and
# every option a --help lists (the format options included, which come from
# the formats' option tables) is in README.md.  Each command's --help exits
# 0 and starts with its usage line; --version starts with "sluice X.Y.Z"
# and names the libraries README.md's example names.
source "$TESTS/lib.sh"
cmds=(keygen ingest verify export cat ls log migrate)
: > help.txt
for c in "${cmds[@]}"; do
	run_cmd sluice "$c" --help
	assert_eq "$RC" 0 "sluice $c --help: exit status"
	assert_match "$STDOUT" "^usage: sluice $c( |$)" "sluice $c --help: usage line"
	printf '%s\n' "$STDOUT" >> help.txt
done
run_cmd sluice --help
assert_eq "$RC" 0 "sluice --help: exit status"
printf '%s\n' "$STDOUT" >> help.txt
run_cmd sluice --version
assert_match "$STDOUT" '^sluice [0-9]+\.[0-9]+\.[0-9]+' "sluice --version"
# README.md's example names the same libraries, in the same order (their
# versions are this machine's)
names=$(awk '{ print $1 }' <<< "$STDOUT" | paste -sd' ')
readme_names=$(awk '/^    \$ sluice --version$/ { on = 1; next } on && !NF { exit } on { print $1 }' \
	"$TESTS/../README.md" | paste -sd' ')
assert_eq "$readme_names" "$names" "README.md's sluice --version example"
pass "every command's --help exits 0 with its usage line; --version names the release"

python3 - "$TESTS/../README.md" help.txt <<'PY' || fail "README.md and --help disagree"
import re, sys
# options README.md names that are not sluice's own, and why
NOT_OURS = {"--sluice": "scripts/demo.sh's", "--quick": "bench/run's"}
opt = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*[a-z0-9]")
readme = set(opt.findall(open(sys.argv[1]).read())) - set(NOT_OURS)
helps = set(opt.findall(open(sys.argv[2]).read())) - {"--help"}
missing_help, missing_readme = sorted(readme - helps), sorted(helps - readme)
assert not missing_help, f"README.md names options no --help lists: {missing_help}"
assert not missing_readme, f"--help lists options README.md does not name: {missing_readme}"
PY
pass "the options README.md names are the options the --help texts list"
