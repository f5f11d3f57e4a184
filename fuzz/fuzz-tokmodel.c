/* fuzz-tokmodel.c: libFuzzer target for a SentencePiece tokenizer.model (protobuf). */
#include "config.h"

#include "fuzz-tok.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Open the input as tokenizer.model. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_tok_one("tokenizer.model", data, size);
}
