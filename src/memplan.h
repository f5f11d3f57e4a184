/* memplan.h: what the heavy operations will need in memory at the loaded model's size,
 * planned from shapes alone (nothing is read or allocated), beside the memory available now.
 *
 * Each figure comes from the module that allocates it (rs_forward_state_bytes,
 * rs_linalg_svals_bytes, rs_calib_estimate, ...), so the plan and the allocations cannot drift
 * apart.  Mapped weights are not counted in an operation: their pages are read when used and
 * given back after each job (model.h: rs_model_tensor_release), and the kernel can drop them at
 * any time.  `info` prints the plan; a command checks its own line before it starts and refuses
 * with the option that makes it fit (rs_memplan_check). */
#ifndef RS_MEMPLAN_H
#define RS_MEMPLAN_H

#include <stddef.h>
#include <stdint.h>

#include "meminfo.h"
#include "size.h"
#include "model.h"

struct rs_plan;

enum rs_memop {
	RS_MEM_SPECTRA,         /* weight spectra: workers × (matrix + decomposition) */
	RS_MEM_FEATURES,        /* feature spectra: workers × (statistics, factor, W·L, ...) */
	RS_MEM_CALIBRATE,       /* accumulators of one layer, hidden states, forward state */
	RS_MEM_PPL,             /* forward state of a batch of windows, logits */
	RS_MEM_FACTORS,         /* the plan's factor pairs in float32, and one decomposition */
	RS_MEM_COUNT
};

struct rs_memline {
	uint64_t bytes;         /* planned peak beyond the mapped weights */
	char what[240];         /* what it is made of, one line */
	char fix[120];          /* the option that makes it smaller */
};

struct rs_memplan_opts {
	int threads;            /* spectra workers (≥ 1) */
	int ppl_ctx;            /* ppl window (≥ 2) */
	int calib_ctx;          /* calibrate window, tokens, groups, --memory budget */
	int64_t calib_tokens;
	int calib_groups;
	uint64_t calib_memory;
	const struct rs_plan *plan;     /* the session's plan; NULL: none */
};

struct rs_memplan {
	uint64_t available;     /* rs_mem_available() */
	uint64_t physical;      /* MemTotal */
	uint64_t weights;       /* bytes of tensor data in the model's files (mapped) */
	struct rs_memline op[RS_MEM_COUNT];
};

/* The options each command uses when the user gives none (window: the model's context up to
 * 2048; calibrate's default tokens, groups and budget), for `info` and the workbench. */
void rs_memplan_defaults(const struct rs_model *m, const struct rs_plan *plan, int threads,
    struct rs_memplan_opts *o);

/* The name of an operation as `info` prints it ("spectra", "calibrate", ...). */
const char *rs_memop_name(enum rs_memop op);

/* One operation's line for model m with the given options (only the options it reads). */
void rs_memplan_line(const struct rs_model *m, const struct rs_memplan_opts *o, enum rs_memop op,
    struct rs_memline *ln);

/* The plan for model m with the given options. */
void rs_memplan_make(const struct rs_model *m, const struct rs_memplan_opts *o,
    struct rs_memplan *mp);

/* 0 when `need` bytes fit the available memory; else RS_ENOMEM with the one-line cause
 * "OP: needs X but Y are available (FIX)". */
int rs_memplan_check(const char *op, uint64_t need, const char *fix, char **cause);


#endif
