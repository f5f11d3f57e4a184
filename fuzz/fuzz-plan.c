/* fuzz-plan.c: libFuzzer target for plan files (src/planfile.h): rs_planfile_parse of the input
 * (JSON when it starts with '{', else CSV) against a real model opened once (the fixture
 * kjv-llama, so that a plan that parses is checked against 42 real shapes), then applied to a
 * fresh plan of that model and serialized again. */
#include "config.h"

#include "alloc.h"
#include "model.h"
#include "plan.h"
#include "planfile.h"

#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct rs_model *fuzz_model;

/* Open the model every input is checked against. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *fx = getenv("RS_FIXTURES");
	char path[1024], *cause = NULL;

	(void)argc;
	(void)argv;
	snprintf(path, sizeof path, "%s/kjv-llama", fx != NULL ? fx : "/work/shared/fixtures");
	if ((fuzz_model = rs_model_open(path, &cause)) == NULL) {
		fprintf(stderr, "fuzz-plan: %s\n", cause != NULL ? cause : path);
		abort();
	}
	return 0;
}

/* Parse the input as a plan; apply and re-serialize what parses. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rs_planfile *pf = NULL;
	struct rs_plan *p;
	char *cause = NULL, *text;
	int rc;

	rc = rs_planfile_parse((const char *)data, size, "fuzz.json", fuzz_model, (int)(size & 1),
	    &pf, &cause);
	if (rc != 0) {
		if (cause == NULL)
			abort();	/* a refusal must say why */
		rs_free(cause);
		return 0;
	}
	if ((p = rs_plan_new(fuzz_model, NULL)) != NULL) {
		if (rs_planfile_apply(pf, p, &cause) == 0) {
			struct rs_planfile_meta meta;

			memset(&meta, 0, sizeof meta);
			meta.method = pf->method;
			meta.alpha = pf->alpha;
			if ((text = rs_planfile_json(p, fuzz_model, &meta, NULL)) != NULL)
				rs_free(text);
			if ((text = rs_planfile_csv(p, fuzz_model, &meta, NULL)) != NULL)
				rs_free(text);
		}
		rs_free(cause);
		rs_plan_free(p);
	}
	rs_planfile_free(pf);
	return 0;
}
