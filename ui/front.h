/* front.h: the interactive front end (the workbench). */
#ifndef RS_FRONT_H
#define RS_FRONT_H

struct rs_cmd_ctx;

/* Run the interactive session until `quit`; returns the status of the last command. */
int rs_front_interactive(struct rs_cmd_ctx *ctx);

#endif
