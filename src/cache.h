/* cache.h: results worth keeping across sessions (spectra, calibration statistics), stored under
 * $XDG_CACHE_HOME/rankscope/ (default ~/.cache/rankscope/).
 *
 * An entry is named by a kind and a 64-bit key and also stores the full key text (what went into
 * the key: tensor content hash, method, calibration identity), so a hash collision or a stale
 * entry is detected.  Entry file: "RSCACHE1", uint32 format version, uint32 key-text length,
 * uint64 payload length, uint64 XXH64 of the payload, the key text, the payload.  Written
 * atomically; a corrupt or mismatched entry is reported, removed, and treated as a miss.
 * Temporary files a killed process left (over an hour old) are removed at the first put. */
#ifndef RS_CACHE_H
#define RS_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct rs_cache;

/* Open the cache in `dir` (NULL: the XDG default).  The directory is created on first put. */
struct rs_cache *rs_cache_open(const char *dir, char **cause);
void rs_cache_close(struct rs_cache *c);
const char *rs_cache_dir(const struct rs_cache *c);

/* Look up an entry.  0 = hit (*data allocated with rs_malloc, *len set); 1 = miss; a negative
 * RS_E* for a damaged or mismatched entry, with a cause saying so (the entry has been removed,
 * so the caller recomputes as for a miss). */
int rs_cache_get(struct rs_cache *c, const char *kind, const char *key_text, void **data,
                 size_t *len, char **cause);
/* Store an entry atomically. */
int rs_cache_put(struct rs_cache *c, const char *kind, const char *key_text, const void *data,
                 size_t len, char **cause);

/* XXH3-64 of a byte range (tensor content hashes). */
uint64_t rs_hash64(const void *data, size_t len, uint64_t seed);

#endif
