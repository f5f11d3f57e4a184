/* test-tokenizer.c: the tokenizers against external references: llama.cpp's vocabulary test
 * vectors, llama.cpp's token stream for TinyStories with stories260K, the kjv-llama reference
 * ids (SentencePiece tokenizer.model, checked by transformers.js for tokenizer.json); then
 * hostile files. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "tap.h"
#include "tokenizer.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/* Path of a fixture, or NULL (with a skip note) when it is absent. */
static const char *
fixture(char *buf, size_t n, const char *rel)
{
	const char *root = getenv("RS_FIXTURES");

	if (root == NULL)
		root = "../shared/fixtures";
	snprintf(buf, n, "%s/%s", root, rel);
	if (access(buf, R_OK) != 0) {
		tap_ok(1, "# SKIP %s absent", rel);
		return NULL;
	}
	return buf;
}

/* Read a whole file (NUL-terminated); NULL on failure. */
static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf != NULL) {
		buf[n] = '\0';
		*len = (size_t)n;
	}
	return buf;
}

/* Write len bytes to path. */
static void
spit(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL)
		return;
	if (len > 0)
		fwrite(data, 1, len, f);
	fclose(f);
}

/* Parse whitespace-separated integers from s into a malloc'ed array. */
static int32_t *
parse_ids(const char *s, size_t *n)
{
	size_t cap = 64;
	int32_t *v = malloc(cap * sizeof(*v));
	char *end;

	*n = 0;
	for (;;) {
		long x = strtol(s, &end, 10);

		if (end == s)
			break;
		if (*n == cap)
			v = realloc(v, (cap *= 2) * sizeof(*v));
		v[(*n)++] = (int32_t)x;
		s = end;
	}
	return v;
}

static unsigned long enc_failures;	/* encode calls that failed */

/* Tokenize, returning the ids (rs_malloc'ed; NULL when none) or NULL with a diagnostic. */
static int32_t *
enc(const struct rs_tokenizer *t, const char *s, size_t len, int bos, size_t *n)
{
	int32_t *ids;
	char *cause = NULL;

	if (rs_tokenizer_encode(t, s, len, bos, &ids, n, &cause) != 0) {
		enc_failures++;
		tap_diag("encode: %s", cause != NULL ? cause : "?");
		rs_free(cause);
		*n = 0;
		return NULL;
	}
	return ids;
}

/* Index of the first difference of two id arrays (min length if one is a prefix). */
static size_t
first_diff(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
	size_t i;

	for (i = 0; i < na && i < nb; i++)
		if (a[i] != b[i])
			return i;
	return i;
}

/* Print ids around position i of both streams. */
static void
diag_around(const char *what, const int32_t *a, size_t na, const int32_t *b, size_t nb, size_t i)
{
	char s1[256] = "", s2[256] = "";
	size_t k, lo = i > 3 ? i - 3 : 0;

	for (k = lo; k < lo + 8 && k < na; k++)
		snprintf(s1 + strlen(s1), sizeof(s1) - strlen(s1), " %d", (int)a[k]);
	for (k = lo; k < lo + 8 && k < nb; k++)
		snprintf(s2 + strlen(s2), sizeof(s2) - strlen(s2), " %d", (int)b[k]);
	tap_diag("%s: first difference at %zu of %zu/%zu: got [%s ] want [%s ]", what, i, na, nb,
	    s1, s2);
}

/* Open a tokenizer or NULL with a diagnostic. */
static struct rs_tokenizer *
open_tok(const char *path)
{
	char *cause = NULL;
	struct rs_tokenizer *t = rs_tokenizer_open(path, &cause);

	if (t == NULL) {
		tap_diag("open %s: %s", path, cause != NULL ? cause : "?");
		rs_free(cause);
	}
	return t;
}

/* llama.cpp's test vectors: every input of X.inp gives the line of X.out. */
static void
test_vocab(const char *name, const char *kind, const char *pre)
{
	char rel[256], p[1024], pin[1100], pout[1100];
	struct rs_tokenizer *t;
	char *in, *out, *ip, *op;
	size_t nin, nout, count = 0;
	static const char sep[] = "\n__ggml_vocab_test__\n";

	snprintf(rel, sizeof(rel), "vocab/%s", name);
	if (fixture(p, sizeof(p), rel) == NULL)
		return;
	snprintf(pin, sizeof(pin), "%s.inp", p);
	snprintf(pout, sizeof(pout), "%s.out", p);
	in = slurp(pin, &nin);
	out = slurp(pout, &nout);
	t = open_tok(p);
	if (!tap_ok(t != NULL && in != NULL && out != NULL, "%s: opened", name))
		goto done;
	tap_ok(strcmp(rs_tokenizer_kind(t), kind) == 0 && strcmp(rs_tokenizer_pre(t), pre) == 0,
	    "%s: kind %s, pre %s", name, rs_tokenizer_kind(t), rs_tokenizer_pre(t));
	ip = in;
	op = out;
	while (*ip != '\0') {
		char *end = strstr(ip, sep), *nl;
		int32_t *want, *got;
		size_t nw, ng, d;
		unsigned long fails;

		if (end == NULL)
			break;
		nl = strchr(op, '\n');
		if (nl != NULL)
			*nl = '\0';
		want = parse_ids(op, &nw);
		fails = enc_failures;
		got = enc(t, ip, (size_t)(end - ip), 0, &ng);
		d = first_diff(got, ng, want, nw);
		if (!tap_ok(fails == enc_failures && ng == nw && d == nw, "%s: input %zu (%zu bytes): %zu ids",
		    name, count, (size_t)(end - ip), nw))
			diag_around(name, got, ng, want, nw, d);
		free(want);
		rs_free(got);
		count++;
		ip = end + sizeof(sep) - 1;
		op = nl != NULL ? nl + 1 : op + strlen(op);
	}
	tap_ok(count == 46, "%s: %zu inputs", name, count);
done:
	rs_tokenizer_free(t);
	free(in);
	free(out);
}

/* Seconds on the monotonic clock. */

/* SentencePiece's remove_extra_whitespaces on plain text: strip leading and trailing spaces,
 * collapse runs of spaces. */
static size_t
collapse_spaces(const char *s, size_t n, char *out)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == ' ' && (k == 0 || out[k - 1] == ' '))
			continue;
		out[k++] = s[i];
	}
	while (k > 0 && out[k - 1] == ' ')
		k--;
	return k;
}

/* TinyStories with stories260K: llama.cpp's exact stream from the GGUF and the llama2.c
 * files; the rebuilt tokenizer.model collapses double spaces. */
static void
test_stories(void)
{
	char pt[1024], pr[1024], pg[1024], pb[1024], ph[1024], pm[1024];
	char *text = NULL, *ref = NULL, *col = NULL;
	int32_t *want = NULL, *got = NULL, *got2 = NULL;
	size_t ntext, nref, nw, ng, ng2, d, ncol;
	struct rs_tokenizer *t;
	double t0, dt;

	if (fixture(pt, sizeof(pt), "texts/tinystories_val.txt") == NULL ||
	    fixture(pr, sizeof(pr), "texts/tinystories_val.stories260K.tokens.txt") == NULL)
		return;
	text = slurp(pt, &ntext);
	ref = slurp(pr, &nref);
	want = parse_ids(ref, &nw);
	tap_ok(nw == 393019 && want[0] == 1, "reference stream: %zu ids, BOS first", nw);

	if (fixture(pg, sizeof(pg), "stories260K/stories260K.gguf") != NULL &&
	    (t = open_tok(pg)) != NULL) {
		tap_ok(rs_tokenizer_n_vocab(t) == 512 && rs_tokenizer_bos(t) == 1 &&
		    rs_tokenizer_eos(t) == 2 && strcmp(rs_tokenizer_kind(t), "spm") == 0,
		    "stories260K.gguf: spm, 512 tokens, bos 1, eos 2");
		t0 = tap_now();
		got = enc(t, text, ntext, 1, &ng);
		dt = tap_now() - t0;
		d = first_diff(got, ng, want, nw);
		if (!tap_ok(got != NULL && ng == nw && d == nw,
		    "stories260K.gguf: tinystories_val.txt = llama.cpp's %zu ids", nw))
			diag_around("gguf", got, ng, want, nw, d);
		tap_diag("stories260K.gguf: %zu bytes -> %zu ids in %.3f s", ntext, ng, dt);
		/* A guard against quadratic behaviour, not a speed test (speed is a benchmark's job):
		 * linear encoding takes ~0.2 s here, a quadratic one minutes. */
		tap_ok(SANITIZED || dt < 10.0, "encodes 800 KB in %.3f s (< 10 s: no quadratic blow-up)", dt);
		rs_tokenizer_free(t);
	}
	/* the model .bin: the tokenizer is the single tok*.bin beside it */
	if (fixture(pb, sizeof(pb), "stories260K/stories260K.bin") != NULL &&
	    (t = open_tok(pb)) != NULL) {
		tap_ok(strstr(rs_tokenizer_source(t), "tok512.bin") != NULL,
		    "stories260K.bin: tokenizer from %s", rs_tokenizer_source(t));
		got2 = enc(t, text, ntext, 1, &ng2);
		d = first_diff(got2, ng2, want, nw);
		if (!tap_ok(got2 != NULL && ng2 == nw && d == nw,
		    "tok512.bin (via stories260K.bin): = llama.cpp's %zu ids", nw))
			diag_around("bin", got2, ng2, want, nw, d);
		rs_free(got2);
		got2 = NULL;
		rs_tokenizer_free(t);
	}
	/* the GGUF converted from the HF folder (same vocabulary and scores) */
	if (fixture(pg, sizeof(pg), "stories260K/gguf/stories260K-f32.gguf") != NULL &&
	    (t = open_tok(pg)) != NULL) {
		got2 = enc(t, text, ntext, 1, &ng2);
		d = first_diff(got2, ng2, want, nw);
		if (!tap_ok(ng2 == nw && d == nw, "gguf/stories260K-f32.gguf: = llama.cpp's %zu ids",
		    nw))
			diag_around("f32.gguf", got2, ng2, want, nw, d);
		rs_free(got2);
		got2 = NULL;
		rs_tokenizer_free(t);
	}
	/* aidreams260K: its .gguf and its tok512.bin are two files of one vocabulary */
	if (fixture(pg, sizeof(pg), "aidreams260K/aidreams260K.gguf") != NULL &&
	    fixture(pb, sizeof(pb), "aidreams260K/aidreams260K.bin") != NULL) {
		struct rs_tokenizer *t2 = open_tok(pb);

		t = open_tok(pg);
		if (t != NULL && t2 != NULL) {
			int32_t *x = enc(t, text, ntext, 1, &ng2);
			size_t nx = ng2;

			got2 = enc(t2, text, ntext, 1, &ng2);
			d = first_diff(got2, ng2, x, nx);
			if (!tap_ok(ng2 == nx && d == nx && nx > 1000, "aidreams260K: .gguf and "
			    "tok512.bin agree on tinystories_val.txt (%zu ids)", nx))
				diag_around("aidreams", got2, ng2, x, nx, d);
			rs_free(x);
			rs_free(got2);
			got2 = NULL;
		}
		rs_tokenizer_free(t);
		rs_tokenizer_free(t2);
	}
	/* the rebuilt SentencePiece models: same ids once double spaces are collapsed */
	col = malloc(ntext + 1);
	ncol = collapse_spaces(text, ntext, col);
	if (got != NULL && fixture(pg, sizeof(pg), "stories260K/stories260K.gguf") != NULL &&
	    (t = open_tok(pg)) != NULL) {
		rs_free(got);
		got = enc(t, col, ncol, 1, &ng);
		rs_tokenizer_free(t);
	}
	if (fixture(ph, sizeof(ph), "stories260K/hf") != NULL && (t = open_tok(ph)) != NULL) {
		got2 = enc(t, text, ntext, 1, &ng2);
		d = first_diff(got2, ng2, want, nw);
		tap_diag("hf/tokenizer.model: %zu ids vs llama.cpp's %zu; first difference at %zu",
		    ng2, nw, d);
		if (d < nw)
			diag_around("hf/tokenizer.model vs llama.cpp", got2, ng2, want, nw, d);
		d = first_diff(got2, ng2, got, ng);
		if (!tap_ok(got2 != NULL && ng2 == ng && d == ng, "hf/tokenizer.model = llama.cpp's "
		    "tokenizer on the text with extra spaces removed (%zu ids)", ng))
			diag_around("hf", got2, ng2, got, ng, d);
		rs_free(got2);
		got2 = NULL;
		rs_tokenizer_free(t);
	}
	if (fixture(pm, sizeof(pm), "stories260K/tok512.model") != NULL &&
	    (t = open_tok(pm)) != NULL) {
		got2 = enc(t, text, ntext, 1, &ng2);
		d = first_diff(got2, ng2, got, ng);
		if (!tap_ok(got2 != NULL && ng2 == ng && d == ng, "tok512.model = llama.cpp's "
		    "tokenizer on the text with extra spaces removed (%zu ids)", ng))
			diag_around("tok512.model", got2, ng2, got, ng, d);
		rs_free(got2);
		got2 = NULL;
		rs_tokenizer_free(t);
	}
	free(col);
	rs_free(got);
	free(want);
	free(text);
	free(ref);
}

/* kjv-llama: tokenizer.model and tokenizer.json agree line by line and on the whole eval
 * text, which is 55,788 tokens starting as in the reference logits file. */
static void
test_kjv(void)
{
	char pe[1024], pm[1024], pj[1024], pr[1024];
	struct rs_tokenizer *tm = NULL, *tj = NULL;
	char *text = NULL, *ref = NULL, *line, *p;
	int32_t *a = NULL, *b = NULL, want[17];
	size_t ntext, nref, na, nb, d, nlines = 0, bad = 0, i, nwant = 0, rt_bad = 0;
	char buf[64];

	if (fixture(pe, sizeof(pe), "texts/kjv-eval.txt") == NULL ||
	    fixture(pm, sizeof(pm), "kjv-llama/tokenizer.model") == NULL ||
	    fixture(pj, sizeof(pj), "kjv-llama/tokenizer.json") == NULL ||
	    fixture(pr, sizeof(pr), "refs/kjv-llama-logits-first16.txt") == NULL)
		return;
	text = slurp(pe, &ntext);
	tm = open_tok(pm);
	tj = open_tok(pj);
	if (!tap_ok(tm != NULL && tj != NULL && text != NULL, "kjv-llama: both tokenizers open"))
		goto done;
	tap_ok(rs_tokenizer_n_vocab(tm) == 4096 && rs_tokenizer_n_vocab(tj) == 4096 &&
	    rs_tokenizer_bos(tm) == 1 && rs_tokenizer_bos(tj) == 1 && rs_tokenizer_eos(tm) == 2 &&
	    rs_tokenizer_eos(tj) == 2, "kjv-llama: 4096 tokens, bos 1, eos 2 (model %zu, json %zu)",
	    rs_tokenizer_n_vocab(tm), rs_tokenizer_n_vocab(tj));
	a = enc(tm, text, ntext, 1, &na);
	tap_ok(na == 55788, "kjv-eval.txt with tokenizer.model: %zu tokens (55,788)", na);
	b = enc(tj, text, ntext, 1, &nb);
	d = first_diff(b, nb, a, na);
	if (!tap_ok(nb == na && d == na, "kjv-eval.txt: tokenizer.json = tokenizer.model"))
		diag_around("json vs model", b, nb, a, na, d);
	/* the first 16 input ids and the last row's next id */
	ref = slurp(pr, &nref);
	for (line = strtok(ref, "\n"); line != NULL && nwant < 16; line = strtok(NULL, "\n")) {
		long pos, in, next;

		if (line[0] == '#' || sscanf(line, "%ld %ld %ld", &pos, &in, &next) != 3)
			continue;
		want[nwant++] = (int32_t)in;
		if (nwant == 16)
			want[nwant++] = (int32_t)next;
	}
	buf[0] = '\0';
	{
		char s[256] = "";

		for (i = 0; i < 17 && i < na; i++)
			snprintf(s + strlen(s), sizeof(s) - strlen(s), " %d", (int)a[i]);
		tap_diag("kjv-eval.txt first 17 ids:%s", s);
	}
	tap_ok(nwant == 17 && na >= 17 && first_diff(a, 17, want, 17) == 17,
	    "kjv: first 17 ids = refs/kjv-llama-logits-first16.txt inputs + last next_id");
	rs_free(a);
	rs_free(b);
	a = b = NULL;
	/* line by line, without BOS; decode must give the line back */
	for (line = text; line < text + ntext; line = p + 1) {
		size_t k, len;
		struct { char *s; size_t n, cap; } dec = { NULL, 0, 0 };

		p = memchr(line, '\n', (size_t)(text + ntext - line));
		if (p == NULL)
			p = text + ntext;
		len = (size_t)(p - line);
		a = enc(tm, line, len, 0, &na);
		b = enc(tj, line, len, 0, &nb);
		if (nb != na || first_diff(b, nb, a, na) != na) {
			if (bad++ == 0)
				diag_around("line", b, nb, a, na, first_diff(b, nb, a, na));
		}
		for (k = 0; k < na; k++) {
			size_t m = rs_tokenizer_decode(tm, a[k], buf, sizeof(buf));

			if (dec.n + m + 1 > dec.cap)
				dec.s = realloc(dec.s, dec.cap = (dec.n + m + 1) * 2);
			memcpy(dec.s + dec.n, buf, m < sizeof(buf) ? m : sizeof(buf));
			dec.n += m;
		}
		/* the decoded text has the dummy prefix space */
		if (len > 0 && (dec.n != len + 1 || dec.s[0] != ' ' ||
		    memcmp(dec.s + 1, line, len) != 0))
			rt_bad++;
		free(dec.s);
		rs_free(a);
		rs_free(b);
		a = b = NULL;
		nlines++;
	}
	tap_ok(bad == 0, "kjv-eval.txt: tokenizer.json = tokenizer.model on all %zu lines "
	    "(%zu differ)", nlines, bad);
	tap_ok(rt_bad == 0, "kjv-eval.txt: decode(encode(line)) = \" \" + line on all lines "
	    "(%zu differ)", rt_bad);
done:
	rs_tokenizer_free(tm);
	rs_tokenizer_free(tj);
	free(text);
	free(ref);
}

/* Pieces and decoding of single tokens. */
static void
test_decode(void)
{
	char p[1024], buf[16];
	struct rs_tokenizer *t;
	int32_t id;
	size_t n;

	if (fixture(p, sizeof(p), "vocab/ggml-vocab-gpt-2.gguf") != NULL && (t = open_tok(p))) {
		int32_t *ids = enc(t, " the", 4, 0, &n);

		tap_ok(n == 1 && rs_tokenizer_decode(t, ids[0], buf, sizeof(buf)) == 4 &&
		    memcmp(buf, " the", 4) == 0, "gpt-2: \" the\" is one token decoding to \" the\"");
		rs_free(ids);
		ids = enc(t, "\n", 1, 0, &n);
		tap_ok(n == 1 && rs_tokenizer_decode(t, ids[0], buf, sizeof(buf)) == 1 &&
		    buf[0] == '\n', "gpt-2: newline byte token decodes to \\n");
		rs_free(ids);
		rs_tokenizer_free(t);
	}
	if (fixture(p, sizeof(p), "stories260K/tok512.bin") != NULL && (t = open_tok(p))) {
		tap_ok(rs_tokenizer_decode(t, 3 + 0x0A, buf, sizeof(buf)) == 1 && buf[0] == '\n',
		    "tok512.bin: <0x0A> decodes to a newline");
		for (id = 0; id < 512; id++) {
			size_t len;
			const char *s = rs_tokenizer_piece(t, id, &len);

			if (s != NULL && len == 4 && memcmp(s, "\xe2\x96\x81t", 4) == 0)
				break;
		}
		tap_ok(id < 512 && rs_tokenizer_decode(t, id, buf, sizeof(buf)) == 2 &&
		    memcmp(buf, " t", 2) == 0, "tok512.bin: \"\\u2581t\" decodes to \" t\"");
		tap_ok(rs_tokenizer_piece(t, 512, NULL) == NULL && rs_tokenizer_decode(t, -1, buf, 4)
		    == 0, "out-of-range ids give NULL / 0");
		rs_tokenizer_free(t);
	}
}

/* A file must be refused with a one-line cause, without crashing. */
static void
refused(const char *path, const char *what)
{
	char *cause = NULL;
	struct rs_tokenizer *t = rs_tokenizer_open(path, &cause);

	tap_ok(t == NULL && cause != NULL && strchr(cause, '\n') == NULL, "refused %s: %s", what,
	    cause != NULL ? cause : "(no cause)");
	rs_tokenizer_free(t);
	rs_free(cause);
}

/* Open whatever the file is; if it opens, tokenize a little. */
static int
survives(const char *path)
{
	char *cause = NULL;
	struct rs_tokenizer *t = rs_tokenizer_open(path, &cause);
	int32_t *ids;
	size_t n;

	if (t != NULL) {
		if (rs_tokenizer_encode(t, "Hello world \xff\xfe!", 15, 1, &ids, &n, NULL) == 0)
			rs_free(ids);
		rs_tokenizer_free(t);
	}
	rs_free(cause);
	return t != NULL;
}

/* Truncated, absurd and malformed files. */
static void
test_hostile(void)
{
	char dir[] = "/tmp/rs-test-tok-XXXXXX", f[1200], p[1024];
	char *data;
	size_t n, cut, opened;
	static const char *const bad_json[] = {
		"{", "[]", "{\"model\": 3}", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": -1},"
		" \"merges\": []}}",
		"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 99999999999}, \"merges\": []}}",
		"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"ab\"]}}",
		"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": 5}}",
		"{\"model\": {\"type\": \"Unigram\", \"vocab\": {}}}",
		"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, "
		"\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(\"}, "
		"\"behavior\": \"Isolated\"}}",
	};
	size_t i;

	if (mkdtemp(dir) == NULL) {
		tap_ok(0, "mkdtemp");
		return;
	}
	snprintf(f, sizeof(f), "%s/none.bin", dir);
	refused(f, "a missing file");
	snprintf(f, sizeof(f), "%s/tokenizer.json", dir);
	spit(f, "", 0);
	refused(f, "an empty tokenizer.json");
	for (i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++) {
		spit(f, bad_json[i], strlen(bad_json[i]));
		refused(f, bad_json[i]);
	}
	/* llama2.c tokenizer.bin: truncations and absurd lengths */
	if (fixture(p, sizeof(p), "stories260K/tok512.bin") != NULL &&
	    (data = slurp(p, &n)) != NULL) {
		int32_t v;

		snprintf(f, sizeof(f), "%s/tok.bin", dir);
		for (cut = 0, opened = 0; cut < n; cut += cut < 64 ? 1 : 97) {
			spit(f, data, cut);
			opened += survives(f);
		}
		/* cutting at a token boundary is a shorter valid vocabulary: the others not */
		tap_ok(opened < 40, "tok512.bin cut at %zu places: %zu still parse (token "
		    "boundaries), none crash", n / 97 + 64, opened);
		spit(f, data, n - 1);
		refused(f, "tok512.bin minus its last byte");
		v = 0x7fffffff;
		memcpy(data + 8, &v, 4);	/* length of token 0 */
		spit(f, data, n);
		refused(f, "tokenizer.bin with a 2^31 length");
		v = -5;
		memcpy(data, &v, 4);
		spit(f, data, n);
		refused(f, "tokenizer.bin with max_token_length -5");
		free(data);
	}
	/* SentencePiece tokenizer.model */
	if (fixture(p, sizeof(p), "kjv-llama/tokenizer.model") != NULL &&
	    (data = slurp(p, &n)) != NULL) {
		size_t refused_n = 0, tries = 0;

		snprintf(f, sizeof(f), "%s/tokenizer.model", dir);
		for (cut = 1; cut < n; cut += 1 + cut / 3) {
			spit(f, data, cut);
			tries++;
			refused_n += !survives(f);
		}
		tap_ok(refused_n == tries, "tokenizer.model cut at %zu places: all refused (%zu)",
		    tries, refused_n);
		spit(f, data, n / 2);
		refused(f, "tokenizer.model cut in half");
		/* a piece whose length varint claims 2^62 bytes */
		memcpy(data + 2, "\x0a\xff\xff\xff\xff\xff\xff\xff\xff\x3f", 10);
		spit(f, data, n);
		refused(f, "tokenizer.model with an absurd length");
		free(data);
	}
	snprintf(f, sizeof(f), "%s/x.gguf", dir);
	spit(f, "GGUF\x03\0\0\0", 8);
	refused(f, "a truncated GGUF");
	/* clean up */
	snprintf(f, sizeof(f), "%s/tokenizer.json", dir);
	unlink(f);
	snprintf(f, sizeof(f), "%s/tok.bin", dir);
	unlink(f);
	snprintf(f, sizeof(f), "%s/tokenizer.model", dir);
	unlink(f);
	snprintf(f, sizeof(f), "%s/x.gguf", dir);
	unlink(f);
	rmdir(dir);
}

/* Hostile text: invalid UTF-8, NUL bytes, a megabyte of spaces through the BPE regexes. */
static void
test_hostile_text(void)
{
	char p[1024];
	struct rs_tokenizer *t;
	static const char *const names[] = { "vocab/ggml-vocab-gpt-2.gguf",
	    "vocab/ggml-vocab-deepseek-llm.gguf", "vocab/ggml-vocab-llama-spm.gguf" };
	size_t i, n, big = 1 << 20;
	char *sp = malloc(big);

	for (i = 0; i < 3; i++) {
		int32_t *ids;
		int ok = 1;

		if (fixture(p, sizeof(p), names[i]) == NULL || (t = open_tok(p)) == NULL)
			continue;
		ids = enc(t, "a\xff\xfe\xc3(\0b\xe2\x82", 10, 0, &n);
		ok &= ids != NULL && n > 0;
		rs_free(ids);
		memset(sp, ' ', big);
		sp[big - 1] = 'x';
		ids = enc(t, sp, big, 0, &n);
		ok &= ids != NULL && n > 0;
		rs_free(ids);
		memset(sp, '\n', big);
		ids = enc(t, sp, big, 0, &n);
		ok &= ids != NULL && n > 0;
		rs_free(ids);
		ids = enc(t, "", 0, 1, &n);
		ok &= n == (rs_tokenizer_bos(t) >= 0 ? 1u : 0u);
		rs_free(ids);
		tap_ok(ok, "%s: invalid UTF-8, NUL, 1 MB of spaces / newlines, empty text", names[i]);
		rs_tokenizer_free(t);
	}
	free(sp);
}

/* Every allocation failure while opening and encoding is reported, never a crash or leak. */
static void
test_oom(void)
{
	static const char *const names[] = { "stories260K/tok512.bin",
	    "kjv-llama/tokenizer.model", "kjv-llama/tokenizer.json" };
	char p[1024];
	size_t i;

	for (i = 0; i < 3; i++) {
		unsigned long k;
		int ok = 1, done = 0;

		if (fixture(p, sizeof(p), names[i]) == NULL)
			continue;
		for (k = 1; k < 100000 && !done; k++) {
			char *cause = NULL;
			struct rs_tokenizer *t;
			int32_t *ids = NULL;
			size_t n;
			int rc = -1;

			rs_alloc_fail_at(k);
			t = rs_tokenizer_open(p, &cause);
			if (t != NULL)
				rc = rs_tokenizer_encode(t, "In the beginning God created", 28, 1,
				    &ids, &n, &cause);
			rs_alloc_fail_at(0);
			done = rc == 0;
			if (!done && cause == NULL && t == NULL && k > 1)
				ok = 0;	/* NULL without a cause is fine only if the cause itself failed */
			rs_free(ids);
			rs_free(cause);
			rs_tokenizer_free(t);
		}
		tap_ok(done && ok, "%s: allocation failures 1..%lu all refused cleanly", names[i],
		    k - 1);
	}
}

int
main(void)
{
	test_vocab("ggml-vocab-llama-spm.gguf", "spm", "default");
	test_vocab("ggml-vocab-gpt-2.gguf", "bpe", "gpt-2");
	test_vocab("ggml-vocab-deepseek-llm.gguf", "bpe", "deepseek-llm");
	test_stories();
	test_kjv();
	test_decode();
	test_hostile();
	test_hostile_text();
	test_oom();
	return tap_done();
}
