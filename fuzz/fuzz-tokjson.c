/* fuzz-tokjson.c: libFuzzer target for a Hugging Face tokenizer.json. */
#include "config.h"

#include "fuzz-tok.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Open the input as tokenizer.json. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_tok_one("tokenizer.json", data, size);
}
