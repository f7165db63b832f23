#!/usr/bin/env bash
# Test driver for `make test` and friends. Runs each layer, every test
# executable under a timeout, and ends with one summary line:
#   suites: N passed, N failed, N skipped
# Usage: scripts/test.sh unit|bpf|fuzz|integration|all
set -uo pipefail

BUILD=${BUILD:-build}
PYTEST=${PYTEST:-/usr/bin/python3 -m pytest}
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
# the soak test (tests/integration/test_soak.py) runs in the ASan pass only
SOAK_SECONDS=${SOAK_SECONDS:-120}
TIMEOUT_UNIT=${TIMEOUT_UNIT:-300}
TIMEOUT_INTEG=${TIMEOUT_INTEG:-1500}

passed=0 failed=0 skipped=0
failed_names=()

run() { # run NAME TIMEOUT CMD...
	local name=$1 t=$2 rc
	shift 2
	echo "=== $name"
	timeout --signal=TERM --kill-after=10 "$t" "$@"
	rc=$?
	case $rc in
	0) passed=$((passed + 1)) ;;
	77) skipped=$((skipped + 1)); echo "--- $name: skipped" ;;
	124) failed=$((failed + 1)); failed_names+=("$name (timeout ${t}s)") ;;
	*) failed=$((failed + 1)); failed_names+=("$name (exit $rc)") ;;
	esac
}

layer_unit() {
	local t
	for t in "$BUILD"/tests/unit/test_*; do
		[[ -x $t ]] || continue
		run "unit/$(basename "$t")" "$TIMEOUT_UNIT" "$t"
	done
}

layer_bpf() {
	local t
	for t in "$BUILD"/tests/bpf/test_*; do
		[[ -x $t ]] || continue
		run "bpf/$(basename "$t")" "$TIMEOUT_UNIT" "$t"
	done
}

layer_fuzz() {
	local f name corpus work
	for f in "$BUILD"/fuzz/fuzz_*; do
		[[ -x $f ]] || continue
		name=$(basename "$f")
		corpus=tests/fuzz/corpus/$name
		work=$(mktemp -d)
		[[ -d $corpus ]] && cp -r "$corpus"/. "$work"/
		# Brief run: any crash, leak or UB report fails the suite. The
		# fuzzer's progress goes to a log; its tail is shown on failure.
		run "fuzz/$name" $((FUZZ_SECONDS + 60)) bash -c '
			"$1" -max_total_time="$2" -timeout=10 -rss_limit_mb=2048 \
				-print_final_stats=1 -artifact_prefix="$3/" "$3" \
				>"$3.log" 2>&1
			rc=$?
			if ((rc)); then tail -n 60 "$3.log"; else
				grep -E "^stat::number_of_executed_units" "$3.log"; fi
			exit $rc' _ "$f" "$FUZZ_SECONDS" "$work"
		rm -rf "$work" "$work.log"
	done
}

layer_integration() {
	# pytest exits 5 when it collected nothing: that is a failure here.
	run "integration/sluiced" "$TIMEOUT_INTEG" \
		env SLUICED="$BUILD/sluiced" $PYTEST -q -p no:cacheprovider tests/integration
	# the ASan pass also runs the soak: its time comes on top
	run "integration/sluiced-asan" "$((TIMEOUT_INTEG + SOAK_SECONDS + 60))" \
		env SLUICED="$BUILD/asan/sluiced" \
		SLUICE_SOAK_SECONDS="$SOAK_SECONDS" $PYTEST -q -p no:cacheprovider tests/integration
}

case ${1:-all} in
unit) layer_unit ;;
bpf) layer_bpf ;;
fuzz) layer_fuzz ;;
integration) layer_integration ;;
all) layer_unit; layer_bpf; layer_fuzz; layer_integration ;;
*) echo "usage: $0 unit|bpf|fuzz|integration|all" >&2; exit 2 ;;
esac

echo
for n in "${failed_names[@]}"; do
	echo "FAILED: $n"
done
echo "suites: $passed passed, $failed failed, $skipped skipped"
((failed == 0 && passed > 0))
