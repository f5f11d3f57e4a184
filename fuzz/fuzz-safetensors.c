/* fuzz-safetensors.c: libFuzzer target for the safetensors reader (header JSON, offsets,
 * shapes, dtypes).  The input is a whole file; 32 MiB of zeros follow it so that a real
 * header (the seeds) points at data that exists. */
#include "config.h"

#include "alloc.h"
#include "safetensors.h"

#include "fuzz.h"

#define FUZZ_PAD (32u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Open the input as a .safetensors file and walk everything it describes. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[512];
	struct rs_st *st;
	char *cause = NULL;
	int64_t i, n;

	if (path[0] == '\0')
		fuzz_path(path, sizeof path, "model.safetensors");
	fuzz_write(path, data, size, FUZZ_PAD);
	if ((st = rs_st_open_file(path, &cause)) != NULL) {
		n = rs_st_n_tensors(st);
		for (i = 0; i < n; i++) {
			const struct rs_st_tensor *t = rs_st_tensor(st, i);
			volatile uint8_t sink;

			if (rs_st_find(st, t->name) == NULL)
				abort();	/* every listed tensor must be found by name */
			if (t->nbytes > 0) {
				sink = ((const uint8_t *)t->data)[0];
				sink = ((const uint8_t *)t->data)[t->nbytes - 1];
				(void)sink;
			}
		}
		(void)rs_st_metadata(st, "format");
		rs_st_close(st);
	} else if (cause == NULL) {
		abort();	/* a refusal must say why */
	}
	rs_free(cause);
	return 0;
}
