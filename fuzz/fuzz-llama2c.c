/* fuzz-llama2c.c: libFuzzer target for llama2.c checkpoint headers: the in-memory parse of
 * the input itself, then rs_model_open on it as a file followed by 4 MiB of zeros (a real
 * header then describes weights that exist). */
#include "config.h"

#include "alloc.h"
#include "llama2c.h"
#include "model.h"

#include "fuzz.h"

#define FUZZ_PAD (4u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parse the header in memory, then open it as a model file. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[512];
	struct rs_llama2c l2c;
	struct rs_model *m;
	char *cause = NULL;

	(void)rs_llama2c_probe(data, size);
	if (rs_llama2c_parse("fuzz.bin", data, size, &l2c, &cause) != 0 && cause == NULL)
		abort();
	rs_free(cause);
	cause = NULL;

	if (path[0] == '\0')
		fuzz_path(path, sizeof path, "model.bin");
	fuzz_write(path, data, size, FUZZ_PAD);
	if ((m = rs_model_open(path, &cause)) != NULL)
		rs_model_close(m);
	else if (cause == NULL)
		abort();
	rs_free(cause);
	return 0;
}
