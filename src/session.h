/* session.h: the state commands act on: the loaded model and tokenizer, and settings. */
#ifndef RS_SESSION_H
#define RS_SESSION_H

struct rs_model;
struct rs_plan;
struct rs_tokenizer;

struct rs_session {
	struct rs_model *model;       /* NULL until `load`; NULL after `load --vocab-only` */
	struct rs_tokenizer *tok;     /* NULL until `load` */
	char *model_path;             /* what was loaded */
	struct rs_plan *plan;         /* ranks per decoder matrix; NULL without weights */
	int threads;                  /* BLAS threads for forward passes */
	double last_ppl;              /* the last finished `ppl`, 0 if none */
	char last_ppl_protocol[16];   /* its protocol name */
	int last_ppl_ctx;             /* its window */
};

struct rs_session *rs_session_new(void);
void rs_session_free(struct rs_session *s);
/* Replace the loaded model/tokenizer (taking ownership of both and of path); starts a new,
 * all-dense plan for the new model (plan stays NULL if that allocation fails). */
void rs_session_set_model(struct rs_session *s, struct rs_model *m, struct rs_tokenizer *t,
                          char *path);

#endif
