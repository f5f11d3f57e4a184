/* pattern.c: matrix-name patterns with layer ranges. */
#include "config.h"

#include "pattern.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

static const char *const pattern_linears[] = { "q", "k", "v", "o", "gate", "up", "down", NULL };

/* Split "L<layers>.<rest>" into its parts; 0 if the name/pattern is not of that shape. */
static int
pattern_split(const char *s, const char **layers, size_t *layers_len, const char **rest)
{
	const char *dot;

	if (s[0] != 'L' || (dot = strchr(s, '.')) == NULL || dot == s + 1)
		return 0;
	*layers = s + 1;
	*layers_len = (size_t)(dot - s - 1);
	*rest = dot + 1;
	return 1;
}

/* Is layer n in the list "*", "3", "3-7", "0,2,5-7"?  -1 on a malformed list. */
static int
pattern_layer_in(const char *spec, size_t len, long n)
{
	const char *p = spec, *end = spec + len;
	int hit = 0;

	if (len == 1 && spec[0] == '*')
		return 1;
	while (p < end) {
		char *q;
		long lo, hi;

		if (!isdigit((unsigned char)*p))
			return -1;
		lo = strtol(p, &q, 10);
		hi = lo;
		if (q < end && *q == '-') {
			p = q + 1;
			if (p >= end || !isdigit((unsigned char)*p))
				return -1;
			hi = strtol(p, &q, 10);
			if (hi < lo)
				return -1;
		}
		if (q > end || (q < end && *q != ','))
			return -1;
		if (n >= lo && n <= hi)
			hit = 1;
		p = q + (q < end ? 1 : 0);
		if (q < end && p == end)
			return -1;	/* trailing comma */
	}
	return hit;
}

/* Is s a decoder-linear type name? */
static int
pattern_is_linear(const char *s)
{
	const char *const *t;

	for (t = pattern_linears; *t != NULL; t++)
		if (strcmp(*t, s) == 0)
			return 1;
	return 0;
}

int
rs_pattern_match(const char *pattern, const char *name)
{
	const char *pl, *pr, *nl, *nr;
	size_t pll, nll;
	char *end;
	long layer;

	if (strcmp(pattern, "*") == 0)
		return pattern_split(name, &nl, &nll, &nr) && pattern_is_linear(nr);
	if (!pattern_split(pattern, &pl, &pll, &pr) || !pattern_split(name, &nl, &nll, &nr))
		return fnmatch(pattern, name, 0) == 0;
	layer = strtol(nl, &end, 10);
	if (end != nl + nll || nll == 0)
		return 0;
	return pattern_layer_in(pl, pll, layer) == 1 && fnmatch(pr, nr, 0) == 0;
}

int
rs_pattern_check(const char *pattern, char **cause)
{
	const char *pl, *pr;
	size_t pll;

	if (pattern[0] == '\0')
		return rs_fail(cause, RS_EUSAGE, "empty matrix pattern");
	if (pattern_split(pattern, &pl, &pll, &pr) && pattern_layer_in(pl, pll, 0) < 0)
		return rs_fail(cause, RS_EUSAGE,
		    "bad layer range in '%s' (use L3, L3-7, L0,2,5-7 or L*)", pattern);
	return 0;
}
