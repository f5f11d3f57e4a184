/* cmd.h: the command layer.  One command per file (src/cmd-<name>.c), each defining one const
 * struct rs_cmd_entry; cmd.c lists them in one table.  Help, completion, usage errors and the man
 * page check all come from that table.  Every front end (batch -c/-f, the prompt, the workbench)
 * runs commands through rs_cmd_run_line(). */
#ifndef RS_CMD_H
#define RS_CMD_H

#include <stdint.h>
#include <stdio.h>

#include "out.h"
#include "size.h"
#include "status.h"

struct rs_session;

/* An option of a command: `--name` (flag) or `--name VALUE`. */
struct rs_opt {
	const char *name;   /* without the dashes; NULL ends a table */
	const char *arg;    /* metavariable ("N", "FILE") or NULL for a flag */
	const char *help;   /* one line */
};

#define RS_ARGS_MAX_OPTS 32

/* A parsed command line: positionals (any number) plus the value of each option of the
 * entry's table. */
struct rs_args {
	int argc;                             /* positionals, command name excluded */
	char **argv;                          /* into the split line's word array */
	const struct rs_opt *opts;
	const char *vals[RS_ARGS_MAX_OPTS];   /* value, or "" for a given flag, or NULL */
};

/* Value of option `name` (NULL if not given; "" for a flag). */
const char *rs_args_get(const struct rs_args *a, const char *name);
int rs_args_has(const struct rs_args *a, const char *name);
/* Integer option within [min,max]; *out = def when absent.  RS_EUSAGE + cause on bad values
 * (as for every rs_args_* reader: a malformed or out-of-range option value is a usage error). */
int rs_args_int(const struct rs_args *a, const char *name, long def, long min, long max,
                long *out, char **cause);
int rs_args_double(const struct rs_args *a, const char *name, double def, double min,
                   double max, double *out, char **cause);
/* A size option, the one parser every command uses: a number (decimal, fraction or exponent
 * allowed) with an optional suffix, K M G T (either case) = powers of 1000 (SI) and Ki Mi Gi Ti =
 * powers of 1024 (IEC), for counts and bytes alike; *out = def when absent; RS_EINVAL + cause when
 * not a size or outside [min, max]. */
int rs_args_size(const struct rs_args *a, const char *name, enum rs_size_unit unit,
                 uint64_t def, uint64_t min, uint64_t max, uint64_t *out, char **cause);

/* What a command may ask of the front end afterwards. */
enum rs_reaction {
	RS_REACT_QUIT = 1 << 0,
	RS_REACT_MODEL = 1 << 1,    /* the loaded model changed */
};

struct rs_cmd_ctx {
	struct rs_session *session;
	const struct rs_out *out;
	struct rs_job *job;         /* cancel flag and progress of the running command */
	char *cause;                /* set (allocated) by a failing command */
	unsigned reactions;         /* enum rs_reaction bits, accumulated */
	const struct rs_cmd_entry *entry; /* the entry being run (set by the dispatcher) */
	/* Called after each command with its status (NULL: none); returns the status to go on
	 * with.  An MPI job's ranks agree there: a command that failed on one rank stops all. */
	int (*agree)(struct rs_cmd_ctx *ctx, int rc);
};

/* RS_CMD_JOB marks a long command: the workbench runs a line holding one on its worker thread,
 * with the progress bar and Esc to cancel (batch mode runs everything in place).  The flag is
 * per entry, not per subcommand: an instant subcommand of a long command (`alloc history`,
 * `spectra show`) then runs as a job that ends at once, which costs nothing but a status line,
 * so entries need no finer grain.  A plugin command sets it with RS_PLUGIN_CMD_LONG. */
enum rs_cmd_flags {
	RS_CMD_NEEDS_MODEL = 1 << 0,      /* refuse unless weights are loaded */
	RS_CMD_NEEDS_TOKENIZER = 1 << 1,  /* refuse unless a tokenizer is loaded */
	RS_CMD_JOB = 1 << 2,              /* long: a background job in the workbench */
};

/* One form of a command's positionals, the grammar completion follows and the usage line
 * describes (tests/test-cmdgrammar checks that every word here is in the usage): the
 * subcommand that selects it (NULL: the command without one) and what comes after it, space-
 * separated, one token per positional.  A token is a metavariable in upper case (FILE, DIR,
 * PATH: a file; PATTERN: matrix names and patterns; NAME: a matrix name; CMD: a command; any
 * other: typed, not completed) or literal words in lower case, alternatives joined by '|'
 * ("export", "RANK|dense").  An option's metavariable (struct rs_opt.arg) is read the same
 * way: "f32|f16|bf16" lists its values, "FILE" asks for a file. */
struct rs_cmd_form {
	const char *word;           /* subcommand, or NULL */
	const char *args;           /* "" for none; NULL ends a table */
};

struct rs_cmd_entry {
	const char *name;
	const char *alias;          /* or NULL */
	const char *usage;          /* arguments after the name */
	const char *summary;        /* one line for `help` */
	const char *help;           /* a paragraph for `help CMD` and the man page */
	const struct rs_opt *opts;  /* NULL or a table ended by {NULL} */
	int min_args, max_args;     /* positionals; max -1 = any */
	unsigned flags;             /* enum rs_cmd_flags */
	int (*exec)(struct rs_cmd_ctx *ctx, const struct rs_args *args);
	const char *const *words;   /* NULL-ended words the first argument may be (subcommands,
	                               setting names) for completion, or NULL */
	const struct rs_cmd_form *forms; /* the positionals' grammar, or NULL (then: words) */
};

/* The NULL-terminated command table. */
extern const struct rs_cmd_entry *const rs_cmd_table[];

/* Find by exact name, alias or unique prefix; NULL + cause (unknown/ambiguous) otherwise. */
const struct rs_cmd_entry *rs_cmd_find(const char *name, char **cause);
/* As rs_cmd_find, then a command a plugin of the session added under exactly that name
 * (plugin.h); built-in commands win. */
const struct rs_cmd_entry *rs_cmd_find_session(struct rs_session *s, const char *name,
                                               char **cause);

/* Run one line: commands separated by ';', words split shell-like ('…', "…", \x), '#' starts a
 * comment; any number of words.  Stops at the first failing command.  Returns 0, RS_EUSAGE for
 * a usage error (unknown command or option, wrong argument count, a bad quote or option value),
 * or the failing command's status; errors are written to ctx->out. */
int rs_cmd_run_line(struct rs_cmd_ctx *ctx, const char *line);
/* Run a script, line by line, until a line fails or quits; `name` names the stream in errors.
 * A line holding a NUL byte is a usage error (file:line), since a command cut at the NUL would
 * run something other than what the file says. */
int rs_cmd_run_stream(struct rs_cmd_ctx *ctx, FILE *in, const char *name);
/* "load PATH" with every character of PATH escaped, so any path (quotes, ';', '#') reaches
 * `load` as one word (the programs' MODEL argument); NULL when out of memory. */
char *rs_cmd_load_line(const char *path);

/* Split a line into words (shell-like); returns the number of words, or -1 with *cause set on an
 * unterminated quote or too many words.  The words point into *storage, which the caller frees. */
int rs_cmd_split(const char *line, char **words, int max_words, char **storage, char **cause);

/* Print the usage line of an entry into ctx->out. */
void rs_cmd_print_usage(const struct rs_cmd_ctx *ctx, const struct rs_cmd_entry *e);

#endif
