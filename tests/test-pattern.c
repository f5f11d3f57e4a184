/* test-pattern.c: matrix-name patterns. */
#include "config.h"

#include "pattern.h"
#include "alloc.h"
#include "tap.h"

struct pcase { const char *pattern, *name; int match; };

int
main(void)
{
	static const struct pcase cases[] = {
		{ "L3.q", "L3.q", 1 }, { "L3.q", "L3.k", 0 }, { "L3.q", "L13.q", 0 },
		{ "L3-7.up", "L3.up", 1 }, { "L3-7.up", "L7.up", 1 }, { "L3-7.up", "L8.up", 0 },
		{ "L3-7.up", "L2.up", 0 }, { "L3-7.up", "L5.down", 0 },
		{ "L0,2,5-7.down", "L2.down", 1 }, { "L0,2,5-7.down", "L3.down", 0 },
		{ "L0,2,5-7.down", "L6.down", 1 },
		{ "*.q", "L0.q", 1 }, { "*.q", "L31.q", 1 }, { "*.q", "L1.k", 0 },
		{ "L*.down", "L9.down", 1 }, { "L*.down", "L9.up", 0 },
		{ "L3.*", "L3.gate", 1 }, { "L3.*", "L4.gate", 0 },
		{ "*", "L0.q", 1 }, { "*", "L5.down", 1 }, { "*", "embed", 0 }, { "*", "head", 0 },
		{ "*", "L0.attn_norm", 0 },
		{ "embed", "embed", 1 }, { "head", "embed", 0 },
		{ "L1-2.{q,k}", "L1.q", 0 }, /* braces are not globs: documented as unsupported */
		{ "L1-2.[qk]", "L2.k", 1 },
	};
	static const char *const bad[] = { "L7-3.q", "L1,.q", "L-1.q", "Lx.q", "" };
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		tap_ok(rs_pattern_match(cases[i].pattern, cases[i].name) == cases[i].match,
		       "'%s' %s '%s'", cases[i].pattern, cases[i].match ? "matches" : "does not match",
		       cases[i].name);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *cause = NULL;
		tap_ok(rs_pattern_check(bad[i], &cause) != 0 && cause != NULL,
		       "'%s' is refused: %s", bad[i], cause ? cause : "(no cause)");
		rs_free(cause);
	}
	tap_ok(rs_pattern_check("L0-31.gate", NULL) == 0, "a good range passes the check");
	return tap_done();
}
