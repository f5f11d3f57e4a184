/* fuzz-gguf.c: libFuzzer target for the GGUF reader, the GGUF model layer and the GGUF
 * vocabulary.  The input is a whole file; 8 MiB of zeros follow it so that a real header (the
 * seeds) points at tensor data that exists. */
#include "config.h"

#include "alloc.h"
#include "gguf.h"
#include "model.h"
#include "tokenizer.h"

#include "fuzz.h"

#define FUZZ_PAD (8u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Read every key, a few array elements and every tensor of an open file. */
static void
fuzz_walk(const struct rs_gguf *g)
{
	int64_t i, n = rs_gguf_n_kv(g);
	size_t len;

	for (i = 0; i < n; i++) {
		const char *key = rs_gguf_key(g, i);
		int64_t v;
		double d;
		const char *s;

		if (rs_gguf_find_key(g, key) < 0)
			abort();
		switch (rs_gguf_kv_type(g, i)) {
		case RS_GGUF_STRING:
			(void)rs_gguf_get_str(g, key, &s, &len, NULL);
			break;
		case RS_GGUF_FLOAT32:
		case RS_GGUF_FLOAT64:
			(void)rs_gguf_get_float(g, key, &d, NULL);
			break;
		case RS_GGUF_ARRAY: {
			uint64_t j, an = rs_gguf_arr_n(g, i);
			if (rs_gguf_arr_type(g, i) == RS_GGUF_STRING) {
				for (j = 0; j < an && j < 8; j++)
					(void)rs_gguf_arr_str(g, i, j, &len);
				if (an > 0)
					(void)rs_gguf_arr_str(g, i, an - 1, &len);
				(void)rs_gguf_arr_str(g, i, an, &len);
			} else {
				(void)rs_gguf_arr_data(g, i);
			}
			break;
		}
		default:
			(void)rs_gguf_get_int(g, key, &v, NULL);
			break;
		}
	}
	n = rs_gguf_n_tensors(g);
	for (i = 0; i < n; i++) {
		const struct rs_gguf_tensor *t = rs_gguf_tensor(g, i);
		volatile uint8_t sink;

		if (rs_gguf_find_tensor(g, t->name) < 0)
			abort();
		if (t->nbytes > 0) {
			sink = ((const uint8_t *)t->data)[0];
			sink = ((const uint8_t *)t->data)[t->nbytes - 1];
			(void)sink;
		}
	}
}

/* Open the input as a GGUF file, then as a model and as a vocabulary. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[512];
	struct rs_gguf *g;
	struct rs_tokenizer *t;
	struct rs_model *m;
	char *cause = NULL;

	if (path[0] == '\0')
		fuzz_path(path, sizeof path, "model.gguf");
	fuzz_write(path, data, size, FUZZ_PAD);
	if ((g = rs_gguf_open(path, &cause)) == NULL) {
		if (cause == NULL)
			abort();
		rs_free(cause);
		return 0;
	}
	fuzz_walk(g);
	if ((t = rs_tokenizer_from_gguf(g, &cause)) != NULL) {
		int32_t *ids = NULL;
		size_t n_ids = 0;
		static const char text[] = "Hello world, once upon a time  \xc3\xa9t\xc3\xa9\n42";

		if (rs_tokenizer_encode(t, text, sizeof text - 1, 1, &ids, &n_ids, &cause) == 0)
			rs_free(ids);
		rs_tokenizer_free(t);
	}
	rs_free(cause);
	cause = NULL;
	rs_gguf_close(g);
	if ((m = rs_model_open(path, &cause)) != NULL)
		rs_model_close(m);
	rs_free(cause);
	return 0;
}
