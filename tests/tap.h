/* tap.h: a minimal TAP producer for the C tests (automake's tap-driver.sh reads it).
 * Each check is one test point; tap_done() prints the plan and returns the exit status.  A point
 * whose fixture is missing is skipped (tap_skip), never dropped. */
#ifndef RS_TAP_H
#define RS_TAP_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int tap_count, tap_failed;

/* Record one test point; returns cond so callers can chain on it. */
__attribute__((format(printf, 2, 3), unused)) static int
tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_count++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return cond;
}

/* Print a diagnostic line. */
__attribute__((format(printf, 1, 2), unused)) static void
tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* Relative closeness |a-b| <= tol*max(|b|, tiny). */
__attribute__((unused)) static int
tap_close(double a, double b, double tol)
{
	double s = fabs(b) > 1e-30 ? fabs(b) : 1e-30;
	return fabs(a - b) <= tol * s;
}

/* Record n test points as skipped (what they need is missing: why). */
__attribute__((unused)) static void
tap_skip(int n, const char *why)
{
	while (n-- > 0) {
		tap_count++;
		printf("ok %d # SKIP %s\n", tap_count, why);
	}
	fflush(stdout);
}

/* Skip the rest of the test program and exit: a "1..0" plan when no point ran yet, else one
 * skipped point standing for the rest and the plan (a "1..0" after points is a TAP error). */
__attribute__((noreturn, unused)) static void
tap_skip_all(const char *why)
{
	if (tap_count == 0) {
		printf("1..0 # SKIP %s\n", why);
		exit(0);
	}
	tap_skip(1, why);
	printf("1..%d\n", tap_count);
	exit(tap_failed ? 1 : 0);
}

/* Path of a fixture under $RS_FIXTURES (default ../shared/fixtures) into buf; NULL when it is
 * absent, so the caller can tap_skip() the points that need it. */
__attribute__((unused)) static const char *
tap_fixture_path(char *buf, size_t n, const char *rel)
{
	const char *root = getenv("RS_FIXTURES");

	if (root == NULL)
		root = "../shared/fixtures";
	snprintf(buf, n, "%s/%s", root, rel);
	return access(buf, R_OK) == 0 ? buf : NULL;
}

/* Path of a fixture into buf; skips the rest of the program if it is absent. */
__attribute__((unused)) static const char *
tap_fixture(char *buf, size_t n, const char *rel)
{
	if (tap_fixture_path(buf, n, rel) == NULL)
		tap_skip_all("fixture missing");
	return buf;
}

/* Monotonic seconds, for timings printed as diagnostics. */
__attribute__((unused)) static double
tap_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Print the plan; the exit status for main(). */
__attribute__((unused)) static int
tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}

#endif
