/* size.h: sizes as users write them ("7G", "512MiB", "2.5e9"): the one parser behind every
 * size option (cmd.h: rs_args_size) and the RANKSCOPE_MEMORY variable (meminfo.h); and byte
 * counts as people read them. */
#ifndef RS_SIZE_H
#define RS_SIZE_H

#include <stddef.h>
#include <stdint.h>

/* What a size counts. */
enum rs_size_unit {
	RS_SIZE_COUNT,      /* parameters, tokens: "7B" is not a count, "7G" and "7e9" are */
	RS_SIZE_BYTES,      /* memory: a trailing B is allowed ("512MiB", "2GB") */
};

/* A number (decimal, fraction or exponent allowed) with an optional suffix, K M G T (either
 * case) = powers of 1000 (SI) and Ki Mi Gi Ti = powers of 1024 (IEC): 0, or -1 when s is not a
 * size. */
int rs_parse_size(const char *s, enum rs_size_unit unit, uint64_t *out);

/* Bytes as "1.2 GiB" / "340 MiB" / "12 KiB" into buf. */
const char *rs_mem_human(char *buf, size_t len, uint64_t bytes);

#endif
