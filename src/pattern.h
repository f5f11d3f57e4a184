/* pattern.h: matrix-name patterns, accepted everywhere a matrix name is.
 *
 *   L3.q          one matrix
 *   L3-7.up       a layer range (inclusive); lists too: L0,2,5-7.down
 *   L*.down  *.q  every layer
 *   L3.*          every matrix of a layer
 *   *             every decoder matrix (q k v o gate up down of every layer)
 *   embed, head   the global tensors
 * Anything else is matched as a shell glob against the canonical name. */
#ifndef RS_PATTERN_H
#define RS_PATTERN_H

/* Non-zero when the canonical `name` ("L3.q", "embed") matches `pattern`. */
int rs_pattern_match(const char *pattern, const char *name);

/* 0 if `pattern` is well formed; RS_EUSAGE (a usage error) with a cause otherwise (e.g. "L7-3.q"). */
int rs_pattern_check(const char *pattern, char **cause);

#endif
