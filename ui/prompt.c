/* prompt.c: a plain GNU Readline prompt, the interactive front end until the workbench lands. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "cmd.h"
#include "front.h"

int
rs_front_interactive(struct rs_cmd_ctx *ctx)
{
	char *line;
	int rc = 0;	/* status of the last command, as a script's would be */

	rl_readline_name = "rankscope";
	while ((line = readline("rankscope> ")) != NULL) {
		if (line[0] != '\0')
			add_history(line);
		rc = rs_cmd_run_line(ctx, line);
		free(line);
		if (ctx->reactions & RS_REACT_QUIT)
			break;
	}
	return rc == 0 ? 0 : rc;
}
