/* test-planfile.c: plan files round-trip exactly (JSON and CSV), refuse other models with the
 * reason, and survive hostile input. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tap.h"

#include "alloc.h"
#include "compress.h"
#include "model.h"
#include "plan.h"
#include "planfile.h"

/* Parse text for model m; returns the status and frees the result and cause. */
static int
try_parse(const char *text, const struct rs_model *m, int force, char *why, size_t n)
{
	struct rs_planfile *pf = NULL;
	char *cause = NULL;
	int rc = rs_planfile_parse(text, strlen(text), "test", m, force, &pf, &cause);

	snprintf(why, n, "%s", cause != NULL ? cause : "");
	rs_free(cause);
	rs_planfile_free(pf);
	return rc;
}

/* Replace the first occurrence of a by b in a copy of s. */
static char *
subst(const char *s, const char *a, const char *b)
{
	const char *p = strstr(s, a);
	char *out;

	if (p == NULL)
		return rs_strdup(s);
	out = rs_malloc(strlen(s) + strlen(b) + 1);
	memcpy(out, s, (size_t)(p - s));
	strcpy(out + (p - s), b);
	strcat(out, p + strlen(a));
	return out;
}

int
main(void)
{
	const char *srcdir = getenv("RS_SRCDIR");
	struct rs_model *m, *m32 = NULL, *other = NULL;
	struct rs_plan *p, *q;
	struct rs_planfile_meta meta = { RS_METHOD_FEATURE, 0.25, "calib-v2 model=x text=y", NULL };
	struct rs_planfile *pf = NULL;
	char path[1024], why[1024] = "", *cause = NULL, *j1, *j2, *c1, *c2, *bad;
	int i, ok, rc;

	snprintf(path, sizeof path, "%s/share/models/kjv-llama", srcdir != NULL ? srcdir : "..");
	if ((m = rs_model_open(path, &cause)) == NULL)
		tap_skip_all("bundled model unavailable");
	meta.model_path = path;
	p = rs_plan_new(m, NULL);
	q = rs_plan_new(m, NULL);
	/* an irregular plan: every kind of entry, unaligned ranks, full rank */
	rs_plan_set_align(p, 1);
	for (i = 0; i < rs_plan_count(p); i++)
		rs_plan_set(p, i, i % 5 == 0 ? RS_PLAN_DENSE : i % 5 == 1 ? (long)rs_plan_max_rank(p, i) :
		    1 + (i * 37) % 120, NULL);
	rs_plan_set_align(p, 3);

	j1 = rs_planfile_json(p, m, &meta, &cause);
	rc = rs_planfile_parse(j1, strlen(j1), "json", m, 0, &pf, &cause);
	tap_ok(rc == 0, "JSON parses back%s%s", rc ? ": " : "", rc ? cause : "");
	ok = rc == 0 && pf->align == 3 && pf->method == RS_METHOD_FEATURE && pf->alpha == 0.25 &&
	    pf->calib != NULL && strcmp(pf->calib, meta.calib) == 0;
	for (i = 0; ok && i < rs_plan_count(p); i++)
		ok = pf->ranks[i] == rs_plan_rank(p, i);
	tap_ok(ok, "JSON: every rank, the alignment, method, alpha and calibration restored");
	if (rc == 0)
		rs_planfile_apply(pf, q, NULL);
	rs_planfile_free(pf);
	j2 = rs_planfile_json(q, m, &meta, &cause);
	tap_ok(j2 != NULL && strcmp(j1, j2) == 0, "JSON: save -> load -> save is byte-identical");
	for (ok = 1, i = 0; i < rs_plan_count(p); i++)
		ok &= rs_plan_rank(p, i) == rs_plan_rank(q, i);
	tap_ok(ok && rs_plan_align(q) == 3, "JSON: the applied plan equals the original");

	c1 = rs_planfile_csv(p, m, &meta, &cause);
	rc = rs_planfile_parse(c1, strlen(c1), "csv", m, 0, &pf, &cause);
	tap_ok(rc == 0, "CSV parses back%s%s", rc ? ": " : "", rc ? cause : "");
	q = (rs_plan_free(q), rs_plan_new(m, NULL));
	if (rc == 0)
		rs_planfile_apply(pf, q, NULL);
	rs_planfile_free(pf);
	c2 = rs_planfile_csv(q, m, &meta, &cause);
	tap_ok(c2 != NULL && strcmp(c1, c2) == 0, "CSV: save -> load -> save is byte-identical");
	for (ok = 1, i = 0; i < rs_plan_count(p); i++)
		ok &= rs_plan_rank(p, i) == rs_plan_rank(q, i);
	tap_ok(ok, "CSV: the applied plan equals the original");

	/* another model */
	if (tap_fixture_path(path, sizeof path, "stories260K/hf") == NULL)
		tap_skip(2, "fixture stories260K/hf missing");
	else {
		other = rs_model_open(path, NULL);
		rc = other != NULL ? try_parse(j1, other, 1, why, sizeof why) : -1;
		tap_ok(rc == RS_EINVAL && strstr(why, "made for another model") != NULL &&
		    strstr(why, "dim 256 (loaded 64)") != NULL, "a plan for another model is refused "
		    "even with force: %s", why);
		rc = other != NULL ? try_parse(c1, other, 0, why, sizeof why) : -1;
		tap_ok(rc == RS_EINVAL && strstr(why, "made for another model") != NULL, "CSV too: %s",
		    why);
	}
	if (tap_fixture_path(path, sizeof path, "kjv-llama-f32") == NULL)
		tap_skip(2, "fixture kjv-llama-f32 missing");
	else {
		m32 = rs_model_open(path, NULL);
		rc = m32 != NULL ? try_parse(j1, m32, 0, why, sizeof why) : -1;
		tap_ok(rc == RS_EINVAL && strstr(why, "--force") != NULL, "same shapes, other "
		    "tensor index (F32 copy): refused without force: %s", why);
		tap_ok(m32 != NULL && try_parse(j1, m32, 1, why, sizeof why) == 0,
		    "... accepted with force");
	}

	/* hostile or broken input */
	{
		static const char *const cases[][2] = {
			{ "\"format\": \"rankscope-plan\"", "\"format\": \"other\"" },
			{ "\"version\": 1", "\"version\": 2" },
			{ "\"rank\": \"dense\"", "\"rank\": \"thin\"" },
			{ "\"name\": \"L0.k\"", "\"name\": \"L0.q\"" },
			{ "\"name\": \"L0.k\"", "\"name\": \"L9.k\"" },
			{ "\"rows\": 128", "\"rows\": 129" },
			{ "\"rank_align\": 3", "\"rank_align\": 0" },
			{ "\"identity\": \"0x", "\"identity\": \"1x" },
			{ "\"name\": \"whiten\"", "\"name\": \"whiten\"" },   /* placeholder, fixed below */
		};
		size_t k;
		for (k = 0; k + 1 < sizeof cases / sizeof cases[0]; k++) {
			bad = subst(j1, cases[k][0], cases[k][1]);
			rc = try_parse(bad, m, 0, why, sizeof why);
			tap_ok(rc != 0 && why[0] != '\0' && strchr(why, '\n') == NULL,
			    "refused: %s -> %s: %s", cases[k][0], cases[k][1], why);
			rs_free(bad);
		}
		/* a rank above min(m, n) */
		{
			char *x = strstr(j1, "\"name\": \"L0.k\"");
			char *r = x != NULL ? strstr(x, "\"rank\": ") : NULL;
			bad = rs_malloc(strlen(j1) + 8);        /* room for a longer number */
			strcpy(bad, j1);
			if (r != NULL) {
				size_t at = (size_t)(r - j1) + 8;
				char *e;
				strtol(bad + at, &e, 10);
				memmove(bad + at + 4, e, strlen(e) + 1);
				memcpy(bad + at, "9999", 4);
			}
			rc = try_parse(bad, m, 0, why, sizeof why);
			tap_ok(rc != 0 && strstr(why, "outside 1..128") != NULL, "rank above min(m, n) "
			    "refused: %s", why);
			rs_free(bad);
		}
		for (k = 1; k < strlen(j1); k += strlen(j1) / 37 + 1) {
			bad = rs_strndup(j1, k);
			if (try_parse(bad, m, 0, why, sizeof why) == 0)
				break;
			rs_free(bad);
			bad = NULL;
		}
		tap_ok(bad == NULL, "every truncation of the JSON is refused");
		rs_free(bad);
		/* (a cut inside the last row's derived params/keep columns loses nothing) */
		for (k = 1; k < (size_t)(strstr(c1, "L5.down") - c1) + 14; k += 7) {
			bad = rs_strndup(c1, k);
			rc = try_parse(bad, m, 0, why, sizeof why);
			rs_free(bad);
			if (rc == 0)
				break;
		}
		tap_ok(rc != 0, "every truncation of the CSV before the last rank is refused");
		bad = subst(c1, "L3.up,768,256,", "L3.up,768,256,-");
		tap_ok(try_parse(bad, m, 0, why, sizeof why) != 0, "CSV negative rank refused: %s", why);
		rs_free(bad);
		tap_ok(try_parse("", m, 0, why, sizeof why) != 0 && try_parse("{}", m, 0, why,
		    sizeof why) != 0, "empty and {} refused: %s", why);
	}

	rs_free(j1);
	rs_free(j2);
	rs_free(c1);
	rs_free(c2);
	rs_free(cause);
	rs_plan_free(p);
	rs_plan_free(q);
	rs_model_close(m);
	rs_model_close(m32);
	rs_model_close(other);
	return tap_done();
}
