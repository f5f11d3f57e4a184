/* cache.c: checksummed, atomically written cache entries. */
#include "config.h"

#include "cache.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "alloc.h"
#include "atomic.h"
#include "mapfile.h"
#include "model.h"
#include "status.h"
#include "xdg.h"

#define CACHE_MAGIC "RSCACHE1"
#define CACHE_VERSION 1u
#define CACHE_HEADER 32u	/* magic 8 + version 4 + keylen 4 + paylen 8 + checksum 8 */

/* Temporary files older than this are left over from a killed process, not being written. */
#define CACHE_STALE_SECONDS 3600

struct rs_cache {
	char *dir;
	int swept;      /* stale temporary files removed once per session */
};

uint64_t
rs_hash64(const void *data, size_t len, uint64_t seed)
{
	return XXH3_64bits_withSeed(data, len, seed);
}

struct rs_cache *
rs_cache_open(const char *dir, char **cause)
{
	struct rs_cache *c;

	if ((c = rs_calloc(1, sizeof *c)) == NULL) {
		rs_fail(cause, RS_ENOMEM, "cache: out of memory");
		return NULL;
	}
	if (dir != NULL)
		c->dir = rs_strdup(dir);
	else if ((c->dir = rs_xdg_path(RS_XDG_CACHE, NULL, NULL)) == NULL)
		c->dir = rs_strdup("/tmp/rankscope-cache");     /* no HOME: a service account */
	if (c->dir == NULL) {
		rs_free(c);
		rs_fail(cause, RS_ENOMEM, "cache: out of memory");
		return NULL;
	}
	return c;
}

void
rs_cache_close(struct rs_cache *c)
{
	if (c == NULL)
		return;
	rs_free(c->dir);
	rs_free(c);
}

const char *
rs_cache_dir(const struct rs_cache *c)
{
	return c->dir;
}

/* Bytes free for an unprivileged writer on the file system of the cache directory (or of its
 * nearest existing parent, before the first put creates it). */
int
rs_cache_free_bytes(const struct rs_cache *c, uint64_t *bytes)
{
	struct statvfs sv;
	char *dir = rs_strdup(c->dir), *slash;
	int rc = -1;

	while (dir != NULL) {
		if (statvfs(dir, &sv) == 0) {
			*bytes = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
			rc = 0;
			break;
		}
		if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
			break;
		*slash = '\0';
	}
	rs_free(dir);
	return rc;
}

/* Path of an entry: <dir>/<kind>-<XXH64 of the key text>.rsc */
static char *
cache_path(const struct rs_cache *c, const char *kind, const char *key_text)
{
	return rs_strdupf("%s/%s-%016llx.rsc", c->dir, kind,
	                  (unsigned long long)XXH3_64bits(key_text, strlen(key_text)));
}

/* Little-endian loads (entries are written by this code on this machine, but read safely). */
static uint32_t
cache_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t
cache_u64(const uint8_t *p)
{
	return (uint64_t)cache_u32(p) | (uint64_t)cache_u32(p + 4) << 32;
}

static void
cache_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static void
cache_put64(uint8_t *p, uint64_t v)
{
	cache_put32(p, (uint32_t)v);
	cache_put32(p + 4, (uint32_t)(v >> 32));
}

/* Map the entry of (kind, key_text) and check its header and key.  1 = no entry; 0 = *mf
 * mapped with the payload at *payload (*paylen bytes, checksum *sum not yet verified); a
 * negative RS_E* for a damaged or mismatched entry, which is removed. */
static int
entry_open(struct rs_cache *c, const char *kind, const char *key_text, struct rs_mapfile **mf,
    const uint8_t **payload, uint64_t *paylen, uint64_t *sum, char **cause)
{
	const uint8_t *p;
	uint32_t keylen;
	char *path;
	const char *why = NULL;

	*mf = NULL;
	if ((path = cache_path(c, kind, key_text)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "cache: out of memory");
	if (access(path, F_OK) != 0) {
		rs_free(path);
		return 1;
	}
	if ((*mf = rs_mapfile_open(path, cause)) == NULL) {
		rs_free(path);
		return RS_EIO;
	}
	p = (*mf)->data;
	if ((*mf)->size < CACHE_HEADER || memcmp(p, CACHE_MAGIC, 8) != 0)
		why = "not a rankscope cache entry";
	else if (cache_u32(p + 8) != CACHE_VERSION)
		why = "written by another version";
	else {
		keylen = cache_u32(p + 12);
		*paylen = cache_u64(p + 16);
		*sum = cache_u64(p + 24);
		if (keylen > (*mf)->size - CACHE_HEADER ||
		    *paylen != (*mf)->size - CACHE_HEADER - keylen)
			why = "truncated or wrong sizes";
		else if (keylen != strlen(key_text) || memcmp(p + CACHE_HEADER, key_text, keylen) != 0)
			why = "made for other inputs (key mismatch)";
		else
			*payload = p + CACHE_HEADER + keylen;
	}
	if (why != NULL) {
		rs_mapfile_close(*mf);
		*mf = NULL;
		rs_fail(cause, RS_EFORMAT, "%s: cache entry %s; removed, recomputing", path, why);
		unlink(path);
		rs_free(path);
		return RS_EFORMAT;
	}
	rs_free(path);
	return 0;
}

int
rs_cache_get(struct rs_cache *c, const char *kind, const char *key_text, void **data,
             size_t *len, char **cause)
{
	struct rs_mapfile *mf;
	const uint8_t *payload = NULL;
	uint64_t paylen = 0, sum = 0;
	int rc;

	if ((rc = entry_open(c, kind, key_text, &mf, &payload, &paylen, &sum, cause)) != 0)
		return rc;
	if (XXH64(payload, (size_t)paylen, 0) != sum) {
		rc = rs_fail(cause, RS_EFORMAT, "%s: cache entry checksum mismatch (corrupt); "
		    "removed, recomputing", mf->path);
		unlink(mf->path);
	} else if ((*data = rs_malloc((size_t)paylen)) == NULL)
		rc = rs_fail(cause, RS_ENOMEM, "%s: out of memory", mf->path);
	else {
		memcpy(*data, payload, (size_t)paylen);
		*len = (size_t)paylen;
	}
	rs_mapfile_close(mf);
	return rc;
}

int
rs_cache_peek(struct rs_cache *c, const char *kind, const char *key_text, void *head,
              size_t head_len, size_t *len, char **cause)
{
	struct rs_mapfile *mf;
	const uint8_t *payload = NULL;
	uint64_t paylen = 0, sum = 0;
	int rc;

	if ((rc = entry_open(c, kind, key_text, &mf, &payload, &paylen, &sum, cause)) != 0)
		return rc;
	memset(head, 0, head_len);
	memcpy(head, payload, head_len < paylen ? head_len : (size_t)paylen);
	*len = (size_t)paylen;
	rs_mapfile_close(mf);
	return 0;
}

/* Remove "<entry>.tmp.XXXXXX" files a killed process left behind (older than an hour, so a
 * write in progress in another session is never touched). */
static void
cache_sweep(struct rs_cache *c)
{
	struct dirent *e;
	time_t now = time(NULL);
	DIR *d;

	c->swept = 1;
	if ((d = opendir(c->dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		struct stat sb;
		char *path;

		if (strstr(e->d_name, ".rsc.tmp.") == NULL)
			continue;
		if ((path = rs_strdupf("%s/%s", c->dir, e->d_name)) == NULL)
			break;
		if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) &&
		    now - sb.st_mtime > CACHE_STALE_SECONDS)
			unlink(path);
		rs_free(path);
	}
	closedir(d);
}

int
rs_cache_put(struct rs_cache *c, const char *kind, const char *key_text, const void *data,
             size_t len, char **cause)
{
	struct rs_afile *af;
	uint8_t hdr[CACHE_HEADER];
	size_t keylen = strlen(key_text);
	char *path;
	FILE *f;
	int rc;

	if ((rc = rs_mkdir_p(c->dir, cause)) != 0)
		return rc;
	if (!c->swept)
		cache_sweep(c);
	if ((path = cache_path(c, kind, key_text)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "cache: out of memory");
	memcpy(hdr, CACHE_MAGIC, 8);
	cache_put32(hdr + 8, CACHE_VERSION);
	cache_put32(hdr + 12, (uint32_t)keylen);
	cache_put64(hdr + 16, len);
	cache_put64(hdr + 24, XXH64(data, len, 0));
	if ((af = rs_afile_open(path, cause)) == NULL) {
		rs_free(path);
		return RS_EIO;
	}
	f = rs_afile_stream(af);
	if (fwrite(hdr, 1, sizeof hdr, f) != sizeof hdr || fwrite(key_text, 1, keylen, f) != keylen ||
	    (len > 0 && fwrite(data, 1, len, f) != len)) {
		rs_fail(cause, RS_EIO, "%s: %s", path, strerror(errno));
		rs_afile_abort(af);
		rs_free(path);
		return RS_EIO;
	}
	rs_free(path);
	return rs_afile_commit(af, cause);
}

#define TENSORID_KIND "tensorid"

/* Quick key text of a tensor: file identity, names, shape, and a hash of the sampled blocks. */
char *
rs_tensor_quick_key(const struct rs_file_id *id, const struct rs_tensor *t,
    struct rs_hash_cost *cost)
{
	size_t len = (size_t)t->rows * t->row_bytes, blk = len < RS_SAMPLE_BYTES ? len :
	    RS_SAMPLE_BYTES;
	const uint8_t *d = t->data;
	uint64_t sample;

	/* first, middle and last block (they overlap on a small tensor: still all its bytes) */
	sample = rs_hash64(d, blk, len);
	sample = rs_hash64(d + (len - blk) / 2, blk, sample);
	sample = rs_hash64(d + (len - blk), blk, sample);
	if (cost != NULL)
		cost->bytes += len < 3 * blk ? len : 3 * blk;
	return rs_strdupf("tensorid-v1 file=%" PRIu64 ":%" PRIu64 " size=%" PRIu64 " mtime=%"
	    PRId64 ".%09ld ctime=%" PRId64 ".%09ld tensor=%s name=%s dtype=%s shape=%" PRId64 "x%"
	    PRId64 " bytes=%zu sample=%016" PRIx64, id->dev, id->ino, id->size, id->mtime_s,
	    id->mtime_ns, id->ctime_s, id->ctime_ns, t->file_name != NULL ? t->file_name : "?",
	    t->name != NULL ? t->name : "?", rs_dtype_name(t->dtype), t->rows, t->cols, len,
	    sample);
}

/* Ask the kernel for the pages of t's sampled blocks now, without waiting (cache.h). */
void
rs_tensor_quick_key_prefetch(const struct rs_tensor *t)
{
	size_t len = (size_t)t->rows * t->row_bytes, blk = len < RS_SAMPLE_BYTES ? len :
	    RS_SAMPLE_BYTES, off[3], i, page = (size_t)sysconf(_SC_PAGESIZE);
	uintptr_t a;

	off[0] = 0;
	off[1] = (len - blk) / 2;
	off[2] = len - blk;
	for (i = 0; i < 3 && len > 0; i++) {
		a = (uintptr_t)((const uint8_t *)t->data + off[i]) & ~(uintptr_t)(page - 1);
		/* advice only: a failure costs a synchronous read later, nothing else */
		(void)madvise((void *)a, blk + page, MADV_WILLNEED);
	}
}

/* The content hash of t from its quick key's entry: 1 and *h if there is one and the file's
 * identity is still the one seen at open; else 0, with *key (if not NULL) the quick key to
 * store a hash under, or NULL when it must not be stored. */
static int
known_hash(struct rs_cache *c, const struct rs_model *m, const struct rs_tensor *t,
    uint64_t *h, char **key, struct rs_hash_cost *cost)
{
	struct rs_file_id at_open, now;
	char *qkey, *cause = NULL;
	void *data = NULL;
	size_t got = 0;
	int rc;

	if (key != NULL)
		*key = NULL;
	if (rs_model_tensor_file_id(m, t, &at_open) != 0 || rs_file_id_of(t->source, &now) != 0 ||
	    !rs_file_id_equal(&at_open, &now) || (qkey = rs_tensor_quick_key(&now, t, cost)) == NULL)
		return 0;
	rc = rs_cache_get(c, TENSORID_KIND, qkey, &data, &got, &cause);
	rs_free(cause);
	if (rc == 0 && got == sizeof *h) {
		memcpy(h, data, sizeof *h);
		rs_free(data);
		rs_free(qkey);
		return 1;
	}
	rs_free(data);
	if (key != NULL)
		*key = qkey;
	else
		rs_free(qkey);
	return 0;
}

int
rs_tensor_known_hash(struct rs_cache *c, const struct rs_model *m, const struct rs_tensor *t,
    uint64_t *h, struct rs_hash_cost *cost)
{
	cost->full = 0;
	cost->bytes = 0;
	return c != NULL && known_hash(c, m, t, h, NULL, cost);
}

/* Content hash of a tensor through its quick key (see cache.h). */
uint64_t
rs_tensor_content_hash(struct rs_cache *c, const struct rs_model *m, const struct rs_tensor *t,
    int trust_quick, struct rs_hash_cost *cost)
{
	size_t len = (size_t)t->rows * t->row_bytes;
	char *key = NULL, *cause = NULL;
	uint64_t h;

	cost->full = 0;
	cost->bytes = 0;
	if (c != NULL && trust_quick && known_hash(c, m, t, &h, &key, cost))
		return h;
	h = rs_hash64(t->data, len, 0);
	cost->full = 1;
	cost->bytes += len;
	/* hashing touched every page: give them back (a 7B model's 13 GB would stay resident) */
	rs_model_tensor_release(m, t);
	/* a failure to write only means the next open hashes again */
	if (key != NULL && rs_cache_put(c, TENSORID_KIND, key, &h, sizeof h, &cause) != 0)
		rs_free(cause);
	rs_free(key);
	return h;
}
