/* fuzz-config.c: libFuzzer target for a Hugging Face folder's config.json, through
 * rs_model_open on a scratch folder whose model.safetensors is a real one (a symlink to the
 * fixture stories260K/hf/model.safetensors when $RS_FIXTURES has it), so that a config that
 * parses goes on to be checked against real tensor shapes. */
#include "config.h"

#include "alloc.h"
#include "model.h"

#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_model_dir[512];
static char fuzz_config[600];

/* Make the scratch folder and link the real weights into it. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *fx = getenv("RS_FIXTURES");
	char target[1024], link[700];

	(void)argc;
	(void)argv;
	fuzz_path(fuzz_model_dir, sizeof fuzz_model_dir, "hf");
	if (mkdir(fuzz_model_dir, 0700) != 0) {
		perror(fuzz_model_dir);
		abort();
	}
	snprintf(fuzz_config, sizeof fuzz_config, "%s/config.json", fuzz_model_dir);
	snprintf(target, sizeof target, "%s/stories260K/hf/model.safetensors",
	    fx != NULL ? fx : "/work/shared/fixtures");
	snprintf(link, sizeof link, "%s/model.safetensors", fuzz_model_dir);
	if (access(target, R_OK) == 0 && symlink(target, link) != 0)
		perror(link);
	return 0;
}

/* Open the folder with the input as its config.json. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rs_model *m;
	char *cause = NULL;
	int i, n;

	fuzz_write(fuzz_config, data, size, 0);
	if ((m = rs_model_open(fuzz_model_dir, &cause)) != NULL) {
		n = rs_model_n_tensors(m);
		for (i = 0; i < n; i++)
			(void)rs_model_tensor_at(m, i);
		(void)rs_model_linear_params(m);
		rs_model_close(m);
	} else if (cause == NULL) {
		abort();
	}
	rs_free(cause);
	return 0;
}
