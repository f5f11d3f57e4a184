#!/bin/sh
# quickstart.sh: install what is missing (Debian), build, then open rankscope on the bundled model.
#   ./quickstart.sh          build and open the workbench on share/models/kjv-llama
#   ./quickstart.sh check    build and run the whole test suite; ends with "N passed, N failed"
#   ./quickstart.sh build    build only
set -eu
cd "$(dirname "$0")"

DEBS="build-essential autoconf automake libtool pkg-config libncursesw5-dev libreadline-dev \
liblapacke-dev libopenblas-dev libjansson-dev libpcre2-dev libxxhash-dev libnlopt-dev gnuplot-nox tmux python3-numpy"

# Install the Debian packages that are not there yet.
missing=""
for p in $DEBS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "quickstart: installing$missing"
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

# Bootstrap, configure and build.
[ -x configure ] && [ configure -nt configure.ac ] && [ Makefile.in -nt Makefile.am ] || autoreconf -fi
[ -f Makefile ] && [ Makefile -nt configure ] || ./configure --quiet
make -j"$(nproc)" >/dev/null

case "${1:-open}" in
build)
	;;
check)
	status=0
	make -j"$(nproc)" check >/dev/null 2>&1 || status=$?
	if [ -f test-suite.log ]; then
		# Show the failing logs, then one line counting every test point.
		grep -E '^(FAIL|ERROR|XPASS):' test-suite.log || true
		awk '/^(not ok|ok) /{ n++; if ($1 == "not") f++; else if (/# SKIP/) s++ }
		     END { printf "%d passed, %d failed, %d skipped\n", n - f - s, f, s }' \
		    $(find tests -name '*.log' ! -name test-suite.log)
	else
		echo "0 passed, 1 failed"
	fi
	exit $status
	;;
open)
	exec ./rankscope share/models/kjv-llama
	;;
*)
	echo "usage: $0 [check|build]" >&2
	exit 2
	;;
esac
