/* front.h: the interactive front end (the workbench). */
#ifndef RS_FRONT_H
#define RS_FRONT_H

struct rs_cmd_ctx;

/* How the workbench starts (the command line's options). */
struct rs_front_opts {
	int fresh;      /* --fresh: do not restore the last session's plan of a model */
	const char *notes; /* problems of the config file, one per line (log errors), or NULL */
};

/* Run the interactive session until `quit`; returns the status of the last command. */
int rs_front_interactive(struct rs_cmd_ctx *ctx, const struct rs_front_opts *opts);

#endif
