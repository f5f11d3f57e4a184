/* size.c: the size parser (see size.h). */
#include "config.h"

#include "size.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parse a size with an SI or IEC suffix. */
int
rs_parse_size(const char *s, enum rs_size_unit unit, uint64_t *out)
{
	static const char sfx[] = "KMGT";
	const char *at;
	char *end;
	double v, base = 1000.0;
	int pw = 0;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || !isfinite(v) || v < 0 || s[0] == '-' || s[0] == '+')
		return -1;
	if (*end != '\0' && (at = strchr(sfx, toupper((unsigned char)*end))) != NULL) {
		pw = (int)(at - sfx) + 1;
		end++;
		if (*end == 'i') {
			base = 1024.0;
			end++;
		}
	}
	if (unit == RS_SIZE_BYTES && *end == 'B')
		end++;
	if (*end != '\0')
		return -1;
	while (pw-- > 0)
		v *= base;
	if (v >= 18446744073709551616.0)
		return -1;
	*out = (uint64_t)floor(v);
	return 0;
}

/* Bytes in binary units, three significant digits. */
const char *
rs_mem_human(char *buf, size_t len, uint64_t bytes)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024.0 && u < 4) {
		v /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", bytes);
	else
		snprintf(buf, len, "%.*f %s", v < 10 ? 2 : v < 100 ? 1 : 0, v, unit[u]);
	return buf;
}
