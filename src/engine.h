/* engine.h: how the session's model is evaluated and previewed under its plan, in one place for
 * every entrance (ppl, compare, alloc, export, the plugin host, the workbench's table and plots).
 *
 *   evaluation  the forward pass of the loaded model with the plan's factors (the current
 *               method's) and then the plugins' dense replacements (lrq, transact) installed;
 *               a replacement wins over a factor pair of the same matrix.
 *   preview     the spectrum whose tail gives a matrix's predicted error under the method:
 *               whiten previews with the uncentred feature spectrum (its factors whiten with
 *               the uncentred Gram), every other method with the centred one; when that kind
 *               is not computed, the other feature kind, then the weight spectrum.
 *   calibration a new calibration replaces the session's; feature spectra and sensitivity
 *               probes of another calibration are dropped (factors are keyed by calibration
 *               identity in the compress cache, so they need nothing).
 */
#ifndef RS_ENGINE_H
#define RS_ENGINE_H

#include <stddef.h>

#include "compress.h"
#include "model.h"
#include "status.h"

struct rs_calib;
struct rs_export_src;
struct rs_forward;
struct rs_planfile_meta;
struct rs_out;
struct rs_session;
struct rs_spec;

/* The session's factor cache, created for the loaded model on first use; NULL + cause. */
struct rs_compress *rs_engine_compress(struct rs_session *s, char **cause);
/* What factors are computed from: the session's method and α, its calibration when complete,
 * its cache. */
void rs_engine_src(struct rs_session *s, struct rs_compress_src *src);
/* The factor set of the session's plan (NULL set, 0, when every matrix is dense). */
int rs_engine_build(struct rs_session *s, void (*note)(void *, const char *), void *ud,
    struct rs_compress_set **out, struct rs_job *job, char **cause);

/* A forward pass of the session's model as the session evaluates it. */
struct rs_engine_pass {
	struct rs_forward *f;
	struct rs_compress_set *set;    /* the plan's factors, pinned while f runs (or NULL) */
	int n_factored;                 /* matrices run as factor pairs */
	int n_replaced;                 /* matrices run as plugin replacements */
};

/* Open a pass of `rows` token rows and windows up to `window` tokens with the plan's factors
 * and the replacements installed (dense: neither, the unmodified model).  note/ud receive the
 * factor computation's notes; out (or NULL) gets one line naming the replacements.  The BLAS
 * thread count is set to the session's. */
int rs_engine_open(struct rs_session *s, int rows, int window, int dense,
    void (*note)(void *, const char *), void *ud, const struct rs_out *out,
    struct rs_engine_pass *p, struct rs_job *job, char **cause);
void rs_engine_close(struct rs_engine_pass *p);
/* Install a factor set (NULL: none) and then the replacements into f: what every pass of a
 * plan other than the session's (an allocator's trial) runs. */
int rs_engine_install(struct rs_session *s, const struct rs_compress_set *set,
    struct rs_forward *f, char **cause);
/* Matrices the plugins replaced, and the owner of the first (may be NULL). */
int rs_engine_n_replaced(const struct rs_session *s, const char **owner);
/* Non-zero when evaluating the session differs from the dense model (factors or
 * replacements). */
int rs_engine_modified(struct rs_session *s);

/* The spectrum that previews matrix (layer, t) under the session's method (rule above); NULL
 * when none is computed. */
const struct rs_spec *rs_engine_preview_spec(const struct rs_session *s, int layer,
    enum rs_tkind t);
/* The feature spectrum of (layer, t) under the same rule (never the weight spectrum), NULL
 * when neither feature kind is computed. */
const struct rs_spec *rs_engine_feature_spec(const struct rs_session *s, int layer,
    enum rs_tkind t);

/* Make c the session's calibration (taking it), dropping what another calibration made. */
void rs_engine_set_calib(struct rs_session *s, struct rs_calib *c);

/* One line saying what the session evaluates: the dense model, or the plan (factored count,
 * method, calibration, the file it came from) and the replacements. */
void rs_engine_desc(struct rs_session *s, char *buf, size_t n);
/* What a plan file records of the session: method, α, calibration identity, model path. */
void rs_engine_plan_meta(const struct rs_session *s, struct rs_planfile_meta *meta);
/* The session as an export's source (export.h): model, path, plan and its metadata. */
void rs_engine_export_src(const struct rs_session *s, struct rs_export_src *src);

/* "WHO: <the plan's budget line>" into out when the plan factors a matrix. */
void rs_engine_print_budget(struct rs_session *s, const struct rs_out *out, const char *who);

#endif
