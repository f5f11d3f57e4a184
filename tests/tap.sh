# tap.sh: TAP helpers for the shell tests (sourced).  RS_BIN, RS_FIXTURES and RS_SRCDIR come from
# the test environment (Makefile.am's AM_TESTS_ENVIRONMENT).
tap_n=0
tap_failed=0
TMPD=$(mktemp -d "${TMPDIR:-/tmp}/rankscope-test.XXXXXX")
trap 'rm -rf "$TMPD"' EXIT

# ok COND-EXIT-STATUS DESCRIPTION: record a test point from the status of the last command.
tap_check() {
	st=$1; shift
	tap_n=$((tap_n + 1))
	if [ "$st" -eq 0 ]; then
		echo "ok $tap_n - $*"
	else
		echo "not ok $tap_n - $*"
		tap_failed=$((tap_failed + 1))
	fi
}

# tap_diag TEXT...: a diagnostic line (each line of the arguments).
tap_diag() {
	printf '%s\n' "$*" | sed 's/^/# /'
}

# tap_skip N REASON: record N test points as skipped (what they need is missing).
tap_skip() {
	k=$1; shift
	while [ "$k" -gt 0 ]; do
		tap_n=$((tap_n + 1))
		echo "ok $tap_n # SKIP $*"
		k=$((k - 1))
	done
}

# tap_skip_all REASON: skip the rest of the script: a "1..0" plan when no point ran yet, else
# one skipped point standing for the rest and the plan (a "1..0" after points is a TAP error).
tap_skip_all() {
	if [ "$tap_n" -eq 0 ]; then
		echo "1..0 # SKIP $*"
		exit 0
	fi
	tap_skip 1 "$*"
	tap_done
	exit $?
}

# tap_have_fixture REL: true when the fixture REL is present.
tap_have_fixture() {
	[ -e "$RS_FIXTURES/$1" ]
}

# tap_need_fixture REL: skip the rest of the script when a fixture is absent.
tap_need_fixture() {
	tap_have_fixture "$1" || tap_skip_all "fixture $1 missing"
}

# tap_close A B TOL: true when |A-B| <= TOL*|B|.
tap_close() {
	awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d;
		m = b < 0 ? -b : b; exit !(a != "" && d <= t * m) }'
}

# poll CMD SECONDS: run the shell condition CMD every 20 ms until it holds; 0 if it did.
poll() {
	n=0
	while [ $n -lt $(($2 * 50)) ]; do
		eval "$1" && return 0
		sleep 0.02
		n=$((n + 1))
	done
	return 1
}

tap_done() {
	echo "1..$tap_n"
	[ "$tap_failed" -eq 0 ]
}
