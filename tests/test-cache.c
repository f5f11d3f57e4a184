/* test-cache.c: atomic writes, the checksummed cache, tensor quick keys. */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <time.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "atomic.h"
#include "cache.h"
#include "model.h"
#include "tap.h"

/* Count files in dir whose name contains ".tmp.". */
static int
count_tmp(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, ".tmp.") != NULL)
			n++;
	closedir(d);
	return n;
}

/* Tensor quick keys (cache.h): what the sampled blocks and the file identity do and do not
 * see.  A 128x128 F32 tensor is 65536 bytes: blocks [0, 4096), [30720, 34816), [61440, 65536). */
static void
quick_key_tests(void)
{
	static float w[128 * 128];
	struct rs_tensor t;
	struct rs_file_id id, id2;
	struct rs_hash_cost cost = { 0, 0 };
	uint8_t *b = (uint8_t *)w;
	char *k0, *k;
	size_t offs[] = { 10, 4095, 30720, 34815, 61440, 65535 }, i;
	int differ = 1;

	for (i = 0; i < 128 * 128; i++)
		w[i] = (float)i * 0.25f;
	memset(&t, 0, sizeof t);
	t.name = "L0.q";
	t.file_name = "model.layers.0.self_attn.q_proj.weight";
	t.dtype = RS_DT_F32;
	t.rows = 128;
	t.cols = 128;
	t.row_bytes = 128 * sizeof(float);
	t.data = w;
	t.present = 1;
	memset(&id, 0, sizeof id);
	id.dev = 2049;
	id.ino = 1234;
	id.size = 1u << 20;
	id.mtime_s = 1700000000;
	id.mtime_ns = 123456789;
	id.ctime_s = 1700000001;
	id.ctime_ns = 5;
	k0 = rs_tensor_quick_key(&id, &t, &cost);
	tap_ok(k0 != NULL && cost.bytes == 3 * 4096, "a quick key reads three 4 KiB blocks "
	       "(%llu bytes)", (unsigned long long)cost.bytes);
	k = rs_tensor_quick_key(&id, &t, NULL);
	tap_ok(k != NULL && strcmp(k, k0) == 0, "the same file and bytes give the same key");
	rs_free(k);
	for (i = 0; i < sizeof offs / sizeof offs[0]; i++) {
		b[offs[i]] ^= 0x40;
		k = rs_tensor_quick_key(&id, &t, NULL);
		differ = differ && k != NULL && strcmp(k, k0) != 0;
		rs_free(k);
		b[offs[i]] ^= 0x40;
	}
	tap_ok(differ, "a byte changed in the first, middle or last block changes the key");
	b[8192] ^= 0x40;
	k = rs_tensor_quick_key(&id, &t, NULL);
	tap_ok(k != NULL && strcmp(k, k0) == 0, "a byte outside the sampled blocks does not (the "
	       "file's ctime or a full hash must catch it)");
	rs_free(k);
	b[8192] ^= 0x40;
	id2 = id;
	id2.mtime_ns++;
	k = rs_tensor_quick_key(&id2, &t, NULL);
	differ = k != NULL && strcmp(k, k0) != 0;
	rs_free(k);
	id2 = id;
	id2.ctime_s++;
	k = rs_tensor_quick_key(&id2, &t, NULL);
	differ = differ && k != NULL && strcmp(k, k0) != 0;
	rs_free(k);
	id2 = id;
	id2.ino++;
	k = rs_tensor_quick_key(&id2, &t, NULL);
	differ = differ && k != NULL && strcmp(k, k0) != 0;
	rs_free(k);
	tap_ok(differ, "a new mtime (nanoseconds), ctime or inode changes the key");
	tap_ok(rs_tensor_content_hash(NULL, NULL, &t, 1, &cost) == rs_hash64(w, sizeof w, 0) &&
	       cost.full == 1 && cost.bytes == sizeof w, "without a cache the content hash reads "
	       "every byte");
	rs_free(k0);
}

/* Read a whole small file. */
static char *
slurp(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

int
main(void)
{
	char dir[] = "/tmp/rs-test-cache.XXXXXX", path[256], entry[512], *cause = NULL;
	struct rs_cache *c;
	struct rs_afile *af;
	void *data = NULL;
	size_t len = 0;
	double payload[100];
	int i, rc;
	FILE *f;

	if (mkdtemp(dir) == NULL)
		tap_skip_all("mkdtemp failed");
	snprintf(path, sizeof path, "%s/plan.json", dir);

	tap_ok(rs_afile_write_all(path, "first\n", 6, &cause) == 0, "atomic write");
	tap_ok(slurp(path) != NULL && strcmp(slurp(path), "first\n") == 0, "content written");
	af = rs_afile_open(path, &cause);
	fputs("second, half written", rs_afile_stream(af));
	fflush(rs_afile_stream(af));
	tap_ok(count_tmp(dir) == 1, "the new content goes to a temporary file");
	tap_ok(strcmp(slurp(path), "first\n") == 0, "the target is untouched while writing");
	rs_afile_abort(af);
	tap_ok(count_tmp(dir) == 0 && strcmp(slurp(path), "first\n") == 0,
	       "abort removes the temporary file and keeps the target");
	af = rs_afile_open(path, &cause);
	fputs("second\n", rs_afile_stream(af));
	tap_ok(rs_afile_commit(af, &cause) == 0 && strcmp(slurp(path), "second\n") == 0 &&
	       count_tmp(dir) == 0, "commit replaces the target");
	tap_ok(rs_afile_open("/nonexistent-dir/x.json", &cause) == NULL && cause != NULL &&
	       strstr(cause, "/nonexistent-dir/x.json") != NULL, "unwritable target: %s", cause);

	snprintf(path, sizeof path, "%s/cache", dir);
	c = rs_cache_open(path, &cause);
	for (i = 0; i < 100; i++)
		payload[i] = i * 0.5;
	tap_ok(rs_cache_get(c, "spectrum", "key A", &data, &len, &cause) == 1, "miss on empty cache");
	tap_ok(rs_cache_put(c, "spectrum", "key A", payload, sizeof payload, &cause) == 0, "put");
	rc = rs_cache_get(c, "spectrum", "key A", &data, &len, &cause);
	tap_ok(rc == 0 && len == sizeof payload && memcmp(data, payload, len) == 0, "hit returns the payload");
	rs_free(data);
	data = NULL;
	tap_ok(rs_cache_get(c, "spectrum", "key B", &data, &len, &cause) == 1, "another key misses");
	{
		double head[3] = { -1, -1, -1 }, big[200];

		len = 0;
		tap_ok(rs_cache_peek(c, "spectrum", "key A", head, sizeof head, &len, &cause) == 0 &&
		       len == sizeof payload && head[0] == 0.0 && head[1] == 0.5 && head[2] == 1.0,
		       "peek gives the payload's first bytes and its length");
		big[100] = -1;
		tap_ok(rs_cache_peek(c, "spectrum", "key A", big, sizeof big, &len, &cause) == 0 &&
		       big[99] == 49.5 && big[100] == 0.0, "peek past the payload zero-fills");
		tap_ok(rs_cache_peek(c, "spectrum", "key B", head, sizeof head, &len, &cause) == 1,
		       "peek misses another key");
	}

	/* Corrupt the entry: flip one payload byte. */
	{
		DIR *d = opendir(path);
		struct dirent *e;
		entry[0] = '\0';
		while ((e = readdir(d)) != NULL)
			if (strstr(e->d_name, ".rsc") != NULL)
				snprintf(entry, sizeof entry, "%s/%s", path, e->d_name);
		closedir(d);
	}
	f = fopen(entry, "r+b");
	fseek(f, -3, SEEK_END);
	fputc(0x5a, f);
	fclose(f);
	rs_free(cause);
	cause = NULL;
	rc = rs_cache_get(c, "spectrum", "key A", &data, &len, &cause);
	tap_ok(rc < 0 && cause != NULL && strstr(cause, "checksum") != NULL,
	       "a corrupt entry is reported: %s", cause ? cause : "");
	tap_ok(access(entry, F_OK) != 0, "and removed");
	tap_ok(rs_cache_get(c, "spectrum", "key A", &data, &len, &cause) == 1, "then misses");

	/* Truncated entry. */
	rs_cache_put(c, "spectrum", "key A", payload, sizeof payload, &cause);
	truncate(entry, 40);
	rs_free(cause);
	cause = NULL;
	rc = rs_cache_get(c, "spectrum", "key A", &data, &len, &cause);
	tap_ok(rc < 0 && cause != NULL && strstr(cause, "truncated") != NULL,
	       "a truncated entry is reported: %s", cause ? cause : "");
	rs_free(cause);
	rs_cache_close(c);

	/* Temporary files left by a killed writer: an old one is swept, a fresh one is kept. */
	{
		char old_tmp[600], new_tmp[600];
		struct timespec ts[2];
		cause = NULL;
		c = rs_cache_open(path, &cause);
		snprintf(old_tmp, sizeof old_tmp, "%s/spectrum-1.rsc.tmp.AAAAAA", path);
		snprintf(new_tmp, sizeof new_tmp, "%s/spectrum-2.rsc.tmp.BBBBBB", path);
		fclose(fopen(old_tmp, "wb"));
		fclose(fopen(new_tmp, "wb"));
		ts[0].tv_sec = ts[1].tv_sec = time(NULL) - 7200;
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		utimensat(AT_FDCWD, old_tmp, ts, 0);
		tap_ok(rs_cache_put(c, "spectrum", "key C", payload, sizeof payload, &cause) == 0,
		       "put after a crash");
		tap_ok(access(old_tmp, F_OK) != 0, "a temporary file over an hour old is removed");
		tap_ok(access(new_tmp, F_OK) == 0, "a fresh temporary file (a write in progress) is kept");
		rs_cache_close(c);
	}
	tap_ok(rs_hash64("abc", 3, 0) != rs_hash64("abd", 3, 0), "hash distinguishes inputs");
	quick_key_tests();
	{
		char cmd[300];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		(void)!system(cmd);
	}
	return tap_done();
}
