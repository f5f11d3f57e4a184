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

/* Bytes free on the cache directory's file system (its nearest existing parent before the
 * first put); -1 if that cannot be told. */
int rs_cache_free_bytes(const struct rs_cache *c, uint64_t *bytes);

/* Look up an entry.  0 = hit (*data allocated with rs_malloc, *len set); 1 = miss; a negative
 * RS_E* for a damaged or mismatched entry, with a cause saying so (the entry has been removed,
 * so the caller recomputes as for a miss). */
int rs_cache_get(struct rs_cache *c, const char *kind, const char *key_text, void **data,
                 size_t *len, char **cause);
/* Look up an entry without reading its payload: the first head_len bytes of the payload go to
 * head (zero-filled past its end) and its length to *len.  The header and key are checked, the
 * checksum is not (rs_cache_get checks it when the payload is read).  Returns as rs_cache_get. */
int rs_cache_peek(struct rs_cache *c, const char *kind, const char *key_text, void *head,
                  size_t head_len, size_t *len, char **cause);
/* Store an entry atomically. */
int rs_cache_put(struct rs_cache *c, const char *kind, const char *key_text, const void *data,
                 size_t len, char **cause);

/* XXH3-64 of a byte range (tensor content hashes). */
uint64_t rs_hash64(const void *data, size_t len, uint64_t seed);

/* Tensor content hashes without reading the tensor (entry kind "tensorid").
 *
 * Results are keyed by content: the content hash is rs_hash64 of the tensor's mapped bytes, so
 * two copies of a model in different folders share their entries.  Reading a 7B model's 13-16
 * GB to find that hash on every open is what this avoids.  A tensor's quick key is its file's
 * identity (device, inode, size, mtime and ctime with nanoseconds), its canonical and in-file
 * names, dtype, shape and byte count, and a hash of three sampled blocks of its bytes (the
 * first, middle and last RS_SAMPLE_BYTES).  The cache maps quick key -> content hash, one
 * atomically written entry per tensor.
 *
 * When the full hash is computed: at first need (the first spectra or other keyed result of
 * the tensor in a session), and only when (a) there is no cache, or the caller does not trust
 * quick keys (spectra --recompute), (b) the file's identity now differs from when the model
 * was opened (the mapping may not be what the identity describes; then nothing is stored), or
 * (c) the quick key has no entry: a new file, a copy, or a changed one.  After (c) the mapping
 * is stored, so the next open reads only the sampled blocks.  There is no background hashing.
 *
 * What detects a changed file: any write, touch or chmod changes ctime (which user space cannot
 * set back), a rewrite or copy changes inode or mtime: the quick key misses, the full hash is
 * recomputed and the results keyed by it are trusted again if the bytes are the same (touch:
 * revalidated once, then quick again) or recomputed if not.  A byte changed in place with size
 * and mtime restored (touch -d) is caught by ctime, and independently by the sampled blocks if
 * it lies in one.  Not caught: a change outside the sampled blocks that leaves every identity
 * field equal, i.e. a filesystem without a real ctime (some FUSE or network mounts) combined
 * with a restored mtime, a clock set back, or a write below the filesystem; spectra
 * --recompute hashes everything in full. */
#define RS_SAMPLE_BYTES 4096u

struct rs_file_id;
struct rs_model;
struct rs_tensor;

/* What finding one tensor's content hash cost. */
struct rs_hash_cost {
	int full;               /* 1: every byte was hashed; 0: the quick key hit */
	uint64_t bytes;         /* tensor bytes read (sampled blocks, or all of them) */
};

/* The quick key text of tensor t in the file with identity id (reads only the sampled
 * blocks; adds their size to cost->bytes if cost is not NULL).  NULL: out of memory. */
char *rs_tensor_quick_key(const struct rs_file_id *id, const struct rs_tensor *t,
    struct rs_hash_cost *cost);

/* Start reading the sampled blocks of t's quick key in the background (madvise WILLNEED):
 * called for every tensor before the keys are computed one by one, the reads of a cold file
 * overlap instead of waiting on the disk one after another. */
void rs_tensor_quick_key_prefetch(const struct rs_tensor *t);

/* The content hash of t, a tensor of m: from the quick key's entry in c when there is one and
 * trust_quick is set, else by hashing every byte (see above for when the mapping is stored).
 * Never fails: any problem with the cache falls back to the full hash.  Thread-safe for
 * different tensors. */
uint64_t rs_tensor_content_hash(struct rs_cache *c, const struct rs_model *m,
    const struct rs_tensor *t, int trust_quick, struct rs_hash_cost *cost);

/* The content hash of t only when the cache knows it by quick key (reads only the sampled
 * blocks): 1 and *h, else 0 (no cache, a new or changed file); never hashes in full. */
int rs_tensor_known_hash(struct rs_cache *c, const struct rs_model *m,
    const struct rs_tensor *t, uint64_t *h, struct rs_hash_cost *cost);

#endif
