#!/bin/sh
# quickstart.sh: install what is missing (Debian), build, then open rankscope on the bundled model.
#   ./quickstart.sh          build and open the workbench on share/models/kjv-llama
#   ./quickstart.sh check    build and run the whole test suite; ends with "N passed, N failed"
#   ./quickstart.sh build    build only
set -eu
cd "$(dirname "$0")"

DEBS="build-essential autoconf automake libtool pkg-config libncursesw5-dev libreadline-dev \
liblapacke-dev libopenblas-dev libjansson-dev libpcre2-dev libxxhash-dev libnlopt-dev libglpk-dev gnuplot-nox tmux python3-numpy \
libopenmpi-dev openmpi-bin"

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

# Bootstrap (quietly: autoreconf's "installing" chatter is not news; its warnings and errors
# are), configure and build.
if ! { [ -x configure ] && [ configure -nt configure.ac ] && [ Makefile.in -nt Makefile.am ]; }; then
	if ! bootstrap=$(autoreconf -fi 2>&1); then
		printf '%s\n' "$bootstrap" >&2
		echo "quickstart: autoreconf failed" >&2
		exit 1
	fi
	printf '%s\n' "$bootstrap" | grep -i -e warning -e error >&2 || true
fi
[ -f Makefile ] && [ Makefile -nt configure ] || ./configure --quiet
make -j"$(nproc)" >/dev/null

# copy_sources DIR: this tree's sources without its build products into DIR (a configured tree
# cannot also host an out-of-tree build).
copy_sources() {
	find . \( -path ./build-asan -o -path ./build-mpi -o -path ./.git -o -path ./autom4te.cache \
	    -o -name .libs -o -name .deps -o -path ./tests/tmp -o -path ./fuzz/corpus \) -prune -o \
	    -type f ! -name '*.o' ! -name '*.lo' ! -name '*.la' ! -name '*.log' ! -name '*.trs' \
	    ! -name .dirstamp ! -path ./Makefile ! -path ./config.status ! -path ./config.h \
	    ! -path ./stamp-h1 ! -path ./libtool ! -path ./rankscope ! -path ./rankscope-mpi \
	    ! \( -path './tests/test-*' ! -name '*.*' \) -print | tar -cf - -T - | tar -C "$1" -xf - ||
	    true	# a failed copy shows up as a failed build there
}

case "${1:-open}" in
build)
	;;
check)
	status=0
	rm -f test-suite.log tests/*.log tests/*.trs	# no result of an earlier run is counted
	make -j"$(nproc)" check >/dev/null 2>&1 || status=$?
	# The C test programs again under ASan + UBSan with leak checking, in build-asan/: a copy
	# of the sources without this tree's build products (a configured tree cannot also host
	# an out-of-tree build), configured --enable-asan, built incrementally.
	asan=build-asan/tree
	mkdir -p "$asan"
	rm -f build-asan/build.log build-asan/tree/test-suite.log
	copy_sources "$asan"
	asan_status=0
	(
		cd "$asan" || exit 1
		export RS_FIXTURES="${RS_FIXTURES:-$(cd ../../.. && pwd)/shared/fixtures}"
		export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0" UBSAN_OPTIONS="print_stacktrace=1"
		export OPENBLAS_NUM_THREADS=1
		[ -f Makefile ] && [ Makefile -nt configure ] || ./configure --quiet --enable-asan
		rm -f tests/*.log tests/*.trs
		make -j"$(nproc)" >/dev/null && make -j"$(nproc)" check 'TESTS=$(check_PROGRAMS)'
	) >build-asan/check.out 2>&1 || asan_status=$?
	[ "$status" -ne 0 ] || status=$asan_status
	# The MPI tests in build-mpi/: a copy configured --with-mpi that builds only the core,
	# rankscope (their reference) and rankscope-mpi, and runs tests/cli-mpi.sh alone (its
	# points print "# SKIP no mpirun" without Open MPI's launcher).
	mpi=build-mpi/tree
	mkdir -p "$mpi"
	rm -f build-mpi/build.log "$mpi/test-suite.log"
	copy_sources "$mpi"
	mpi_status=0
	(
		cd "$mpi" || exit 1
		export RS_FIXTURES="${RS_FIXTURES:-$(cd ../../.. && pwd)/shared/fixtures}"
		export OPENBLAS_NUM_THREADS=1
		[ -f Makefile ] && [ Makefile -nt configure ] || ./configure --quiet --with-mpi
		rm -f tests/*.log tests/*.trs
		make -j"$(nproc)" rankscope rankscope-mpi >/dev/null &&
		    make check-TESTS TESTS=tests/cli-mpi.sh
	) >build-mpi/check.out 2>&1 || mpi_status=$?
	[ "$status" -ne 0 ] || status=$mpi_status
	if [ -f test-suite.log ]; then
		# Show the failing logs, then one line counting every result of automake's TAP driver
		# (all builds): PASS and XFAIL pass, SKIP skips, FAIL, XPASS and ERROR (bad plan,
		# crash, a non-zero exit other than the 1 of a program whose points failed) fail.
		grep -E '^(FAIL|ERROR|XPASS):' test-suite.log || true
		if [ -f "$asan/test-suite.log" ]; then
			grep -E '^(FAIL|ERROR|XPASS):' "$asan/test-suite.log" | sed 's/^/asan: /' || true
		elif [ "$asan_status" -ne 0 ]; then
			echo "asan: the sanitizer build failed (build-asan/check.out):"
			tail -n 5 build-asan/check.out
			echo "ERROR: build-asan - the sanitizer build failed" >build-asan/build.log
		fi
		if [ -f "$mpi/test-suite.log" ]; then
			grep -E '^(FAIL|ERROR|XPASS):' "$mpi/test-suite.log" | sed 's/^/mpi: /' || true
		elif [ "$mpi_status" -ne 0 ]; then
			echo "mpi: the MPI build failed (build-mpi/check.out):"
			tail -n 5 build-mpi/check.out
			echo "ERROR: build-mpi - the MPI build failed" >build-mpi/build.log
		fi
		awk 'function program_end() { if (exit1 && !fails) f++; exit1 = fails = 0 }
		     FNR == 1 { program_end() }
		     /^(PASS|XFAIL): / { p++ }
		     /^SKIP: / { s++ }
		     /^(FAIL|XPASS): / { f++; fails = 1 }
		     /^ERROR: / { if (/ - exited with status 1$/) exit1 = 1; else f++ }
		     END { program_end(); printf "%d passed, %d failed, %d skipped\n", p, f, s }' \
		    $(find tests "$asan/tests" "$mpi/tests" -maxdepth 1 -name '*.log') \
		    $(find build-asan build-mpi -maxdepth 1 -name build.log)
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
