/* fuzz-tokbin.c: libFuzzer target for a llama2.c tokenizer.bin. */
#include "config.h"

#include "fuzz-tok.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Open the input as tokenizer.bin. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_tok_one("tokenizer.bin", data, size);
}
