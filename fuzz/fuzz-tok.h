/* fuzz-tok.h: the body of the tokenizer targets: open the input as a tokenizer file of a given
 * name, and when it opens, encode and decode a text with it. */
#ifndef RS_FUZZ_TOK_H
#define RS_FUZZ_TOK_H

#include "alloc.h"
#include "tokenizer.h"

#include "fuzz.h"

/* Exercise an opened tokenizer: encode a text, decode and look up every id it gave. */
static void
fuzz_tok_use(const struct rs_tokenizer *t)
{
	static const char text[] = "Once upon a time, there was a  little\tdog.\n"
	    "\xc3\xa9t\xc3\xa9 \xe2\x96\x81 <s> </s> <unk> 1234567 \xf0\x9f\x98\x80 \xff\xfe end";
	int32_t *ids = NULL;
	size_t i, n_ids = 0;
	char buf[64], *cause = NULL;

	if (rs_tokenizer_encode(t, text, sizeof text - 1, 1, &ids, &n_ids, &cause) == 0) {
		for (i = 0; i < n_ids; i++) {
			if (ids[i] < 0 || (size_t)ids[i] >= rs_tokenizer_n_vocab(t))
				abort();	/* encode must give ids of the vocabulary */
			(void)rs_tokenizer_decode(t, ids[i], buf, sizeof buf);
			(void)rs_tokenizer_piece(t, ids[i], NULL);
		}
		rs_free(ids);
	}
	rs_free(cause);
	(void)rs_tokenizer_decode(t, (int32_t)rs_tokenizer_n_vocab(t), buf, sizeof buf);
	(void)rs_tokenizer_piece(t, -1, NULL);
	(void)rs_tokenizer_type(t, 0);
	(void)rs_tokenizer_score(t, 0);
}

/* Write the input as `name` in the scratch folder and open it. */
static int
fuzz_tok_one(const char *name, const uint8_t *data, size_t size)
{
	static char path[512];
	struct rs_tokenizer *t;
	char *cause = NULL;

	if (path[0] == '\0')
		fuzz_path(path, sizeof path, name);
	fuzz_write(path, data, size, 0);
	if ((t = rs_tokenizer_open(path, &cause)) != NULL) {
		fuzz_tok_use(t);
		rs_tokenizer_free(t);
	} else if (cause == NULL) {
		abort();
	}
	rs_free(cause);
	return 0;
}

#endif
