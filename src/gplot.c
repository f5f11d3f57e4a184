/* gplot.c: build a gnuplot script, run gnuplot through a pipe, rename its output into place. */
#include "config.h"

#include "gplot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "atomic.h"
#include "status.h"

#ifndef RS_GNUPLOT
#define RS_GNUPLOT "gnuplot"
#endif
#ifndef RS_SRCSHAREDIR
#define RS_SRCSHAREDIR "share"
#endif
#ifndef RS_PKGDATADIR
#define RS_PKGDATADIR "/usr/local/share/rankscope"
#endif

/* Standard error kept at most (the rest is read and dropped). */
#define GPLOT_ERR_MAX 16384
/* Exit status the prelude uses when the wanted terminal is missing. */
#define GPLOT_NO_TERMINAL 3

extern char **environ;

struct rs_gplot {
	char *out;                  /* target path */
	enum rs_gplot_format fmt;
	char *buf;                  /* the script */
	size_t len, cap;
	int failed;                 /* an append ran out of memory */
	char *bad_template;         /* first template that could not be read: its cause */
	int width, height;          /* canvas in pixels (PDF: 1 inch per 100) */
	char *script_copy;          /* where to save the script sent, or NULL */
};

int
rs_gplot_format_of(const char *path, enum rs_gplot_format *fmt, char **cause)
{
	const char *dot = strrchr(path, '.');

	if (dot != NULL && strchr(dot, '/') == NULL) {
		if (strcasecmp(dot, ".png") == 0)
			return *fmt = RS_GPLOT_PNG, 0;
		if (strcasecmp(dot, ".svg") == 0)
			return *fmt = RS_GPLOT_SVG, 0;
		if (strcasecmp(dot, ".pdf") == 0)
			return *fmt = RS_GPLOT_PDF, 0;
	}
	return rs_fail(cause, RS_EUSAGE, "%s: the file name must end in .png, .svg or .pdf", path);
}

/* Directory of the running executable into buf ("" if unknown). */
static void
gplot_exe_dir(char *buf, size_t n)
{
	ssize_t len = readlink("/proc/self/exe", buf, n - 1);
	char *slash;

	if (len <= 0) {
		buf[0] = '\0';
		return;
	}
	buf[len] = '\0';
	if ((slash = strrchr(buf, '/')) != NULL)
		*slash = '\0';
	else
		buf[0] = '\0';
}

/* Whether dir (the executable's) or its parent (libtool's .libs) is a configured build tree. */
static int
gplot_in_build_tree(const char *dir)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof path, "%s/config.status", dir);
	if (access(path, R_OK) == 0)
		return 1;
	snprintf(path, sizeof path, "%s/../config.status", dir);
	return access(path, R_OK) == 0;
}

char *
rs_gplot_template_path(const char *name, char **cause)
{
	const char *env = getenv("RS_DATADIR");
	char exe[PATH_MAX], *cand[6];
	int i, n = 0;
	char *found = NULL;

	if (strchr(name, '/') != NULL || name[0] == '.') {
		rs_fail(cause, RS_EINVAL, "gnuplot template '%s': not a template name", name);
		return NULL;
	}
	gplot_exe_dir(exe, sizeof exe);
	if (env != NULL && env[0] != '\0')
		cand[n++] = rs_strdupf("%s/gnuplot/%s.gp", env, name);
	cand[n++] = rs_strdupf("%s/gnuplot/%s.gp", RS_PKGDATADIR, name);
	if (exe[0] != '\0') {
		cand[n++] = rs_strdupf("%s/share/gnuplot/%s.gp", exe, name);
		cand[n++] = rs_strdupf("%s/../share/gnuplot/%s.gp", exe, name);
		cand[n++] = rs_strdupf("%s/../share/rankscope/gnuplot/%s.gp", exe, name);
		/* a binary in a build tree made outside the sources (VPATH, make distcheck) */
		if (gplot_in_build_tree(exe))
			cand[n++] = rs_strdupf("%s/gnuplot/%s.gp", RS_SRCSHAREDIR, name);
	}
	for (i = 0; i < n; i++) {
		if (cand[i] == NULL) {
			rs_fail(cause, RS_ENOMEM, "out of memory");
			break;
		}
		if (found == NULL && access(cand[i], R_OK) == 0) {
			found = cand[i];
			cand[i] = NULL;
		}
	}
	if (found == NULL && i == n)
		rs_fail(cause, RS_EIO, "gnuplot template %s.gp not found in %s%s/gnuplot or beside "
		        "the executable (set RS_DATADIR to the share directory)",
		        name, env != NULL && env[0] != '\0' ? "$RS_DATADIR/gnuplot, " : "",
		        RS_PKGDATADIR);
	for (i = 0; i < n; i++)
		rs_free(cand[i]);
	return found;
}

/* Append len bytes to the script. */
static void
gplot_append(struct rs_gplot *g, const char *s, size_t len)
{
	if (g->failed)
		return;
	if (g->len + len + 1 > g->cap) {
		size_t cap = g->cap * 2 > g->len + len + 1 ? g->cap * 2 : g->len + len + 1024;
		char *nb = rs_realloc(g->buf, cap);
		if (nb == NULL) {
			g->failed = 1;
			return;
		}
		g->buf = nb;
		g->cap = cap;
	}
	memcpy(g->buf + g->len, s, len);
	g->len += len;
	g->buf[g->len] = '\0';
}

void
rs_gplot_printf(struct rs_gplot *g, const char *fmt, ...)
{
	char small[512], *big = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0) {
		g->failed = 1;
		return;
	}
	if ((size_t)n < sizeof small) {
		gplot_append(g, small, (size_t)n);
		return;
	}
	if ((big = rs_malloc((size_t)n + 1)) == NULL) {
		g->failed = 1;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	gplot_append(g, big, (size_t)n);
	rs_free(big);
}

void
rs_gplot_quoted(struct rs_gplot *g, const char *text)
{
	const char *p;

	gplot_append(g, "'", 1);
	for (p = text; *p != '\0'; p++) {
		if (*p == '\'')
			gplot_append(g, "''", 2);
		else if (*p == '\n' || *p == '\r')
			gplot_append(g, " ", 1);
		else
			gplot_append(g, p, 1);
	}
	gplot_append(g, "'", 1);
}

void
rs_gplot_data_begin(struct rs_gplot *g, const char *name)
{
	rs_gplot_printf(g, "$%s << EOD\n", name);
}

void
rs_gplot_data_end(struct rs_gplot *g)
{
	rs_gplot_printf(g, "EOD\n");
}

void
rs_gplot_template(struct rs_gplot *g, const char *name)
{
	char *path, *cause = NULL, chunk[4096];
	FILE *f;
	size_t n;

	if ((path = rs_gplot_template_path(name, &cause)) == NULL) {
		if (g->bad_template == NULL)
			g->bad_template = cause;
		else
			rs_free(cause);
		return;
	}
	if ((f = fopen(path, "r")) == NULL) {
		if (g->bad_template == NULL)
			g->bad_template = rs_strdupf("%s: %s", path, strerror(errno));
		rs_free(path);
		return;
	}
	rs_gplot_printf(g, "# --- template %s\n", path);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		gplot_append(g, chunk, n);
	if (ferror(f) && g->bad_template == NULL)
		g->bad_template = rs_strdupf("%s: read error", path);
	fclose(f);
	rs_free(path);
	rs_gplot_printf(g, "\n");
}

const char *
rs_gplot_script(const struct rs_gplot *g)
{
	return g->buf != NULL ? g->buf : "";
}

struct rs_gplot *
rs_gplot_new(const char *out, char **cause)
{
	struct rs_gplot *g;
	enum rs_gplot_format fmt;

	if (rs_gplot_format_of(out, &fmt, cause) != 0)
		return NULL;
	if ((g = rs_calloc(1, sizeof *g)) == NULL || (g->out = rs_strdup(out)) == NULL) {
		rs_free(g);
		rs_fail(cause, RS_ENOMEM, "out of memory");
		return NULL;
	}
	g->fmt = fmt;
	g->width = RS_GPLOT_WIDTH;
	g->height = RS_GPLOT_HEIGHT;
	return g;
}

void
rs_gplot_set_size(struct rs_gplot *g, int width, int height)
{
	if (width >= 100 && width <= 10000 && height >= 100 && height <= 10000) {
		g->width = width;
		g->height = height;
	}
}

int
rs_gplot_parse_size(const char *text, int *width, int *height, char **cause)
{
	char *end;
	long w, h;

	w = strtol(text, &end, 10);
	if (end == text || (*end != 'x' && *end != 'X' && *end != ','))
		goto bad;
	text = end + 1;
	h = strtol(text, &end, 10);
	if (end == text || *end != '\0' || w < 100 || w > 10000 || h < 100 || h > 10000)
		goto bad;
	*width = (int)w;
	*height = (int)h;
	return 0;
bad:
	return rs_fail(cause, RS_EUSAGE, "plot: --size wants WIDTHxHEIGHT in pixels, each "
	               "100..10000 (e.g. 1400x800)");
}

int
rs_gplot_save_script(struct rs_gplot *g, const char *path, char **cause)
{
	char *copy = rs_strdup(path);

	if (copy == NULL)
		return rs_fail(cause, RS_ENOMEM, "out of memory");
	rs_free(g->script_copy);
	g->script_copy = copy;
	return 0;
}

void
rs_gplot_free(struct rs_gplot *g)
{
	if (g == NULL)
		return;
	rs_free(g->out);
	rs_free(g->buf);
	rs_free(g->bad_template);
	rs_free(g->script_copy);
	rs_free(g);
}

/* The prelude: pick the terminal (with a fallback) at the canvas size, and the temporary
 * output file. */
static char *
gplot_prelude(const struct rs_gplot *g, const char *tmp)
{
	char term[512];
	char *q, *p, *s;
	const char *c;

	/* The temporary path as a gnuplot single-quoted string. */
	if ((q = rs_malloc(strlen(tmp) * 2 + 3)) == NULL)
		return NULL;
	p = q;
	*p++ = '\'';
	for (c = tmp; *c != '\0'; c++) {
		if (*c == '\'')
			*p++ = '\'';
		*p++ = *c;
	}
	*p++ = '\'';
	*p = '\0';
	switch (g->fmt) {
	case RS_GPLOT_PNG:
		snprintf(term, sizeof term,
		         "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
		         "  set terminal pngcairo size %d,%d noenhanced font 'sans,10'\n"
		         "} else {\n"
		         "  set terminal png size %d,%d noenhanced\n"
		         "}\n", g->width, g->height, g->width, g->height);
		break;
	case RS_GPLOT_SVG:
		snprintf(term, sizeof term, "set terminal svg size %d,%d dynamic noenhanced "
		         "background '#ffffff'\n", g->width, g->height);
		break;
	default:
		snprintf(term, sizeof term,
		         "if (strstrt(GPVAL_TERMINALS, 'pdfcairo') == 0) {\n"
		         "  print 'this gnuplot has no pdfcairo terminal: PDF output is impossible'\n"
		         "  exit status 3\n"
		         "}\n"
		         "set terminal pdfcairo size %.2fin,%.2fin noenhanced font 'sans,9'\n",
		         g->width / 100.0, g->height / 100.0);
		break;
	}
	/* Templates lay out multiplots from the canvas size. */
	s = rs_strdupf("# rankscope plot\nset encoding utf8\n%sset output %s\nCANVAS_W = %d\n"
	               "CANVAS_H = %d\n", term, q, g->width, g->height);
	rs_free(q);
	return s;
}

/* Drain up to one read of fd into err (keeping at most GPLOT_ERR_MAX bytes); 0 at EOF. */
static ssize_t
gplot_read_err(int fd, char *err, size_t *elen)
{
	char chunk[4096];
	ssize_t n = read(fd, chunk, sizeof chunk);

	if (n > 0) {
		size_t keep = (size_t)n;
		if (*elen + keep > GPLOT_ERR_MAX)
			keep = GPLOT_ERR_MAX - *elen;
		memcpy(err + *elen, chunk, keep);
		*elen += keep;
		err[*elen] = '\0';
	}
	return n;
}

/* The program to run. */
static const char *
gplot_program(void)
{
	const char *env = getenv("RS_GNUPLOT");

	return env != NULL && env[0] != '\0' ? env : RS_GNUPLOT;
}

/* Run gnuplot with `script` on its standard input; *status gets its wait status; err its
 * standard error.  RS_EUNSUPPORTED when the program cannot be started. */
static int
gplot_spawn(const char *script, size_t len, int *status, char *err, size_t *elen, char **cause)
{
	const char *prog = gplot_program();
	char *argv[] = { (char *)prog, NULL };
	posix_spawn_file_actions_t fa;
	int sv[2] = { -1, -1 }, ep[2] = { -1, -1 }, rc, werr = 0;
	size_t off = 0;
	pid_t pid;

	/* A socket for gnuplot's stdin: send(MSG_NOSIGNAL) never raises SIGPIPE if it dies. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return rs_fail(cause, RS_EIO, "gnuplot: socketpair: %s", strerror(errno));
	if (pipe(ep) != 0 || fcntl(ep[0], F_SETFD, FD_CLOEXEC) != 0 ||
	    fcntl(ep[1], F_SETFD, FD_CLOEXEC) != 0) {
		if (ep[0] >= 0) {
			close(ep[0]);
			close(ep[1]);
		}
		close(sv[0]);
		close(sv[1]);
		return rs_fail(cause, RS_EIO, "gnuplot: pipe: %s", strerror(errno));
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, ep[1], 2);
	rc = posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(sv[1]);
	close(ep[1]);
	if (rc != 0) {
		close(sv[0]);
		close(ep[0]);
		if (rc == ENOENT || rc == EACCES)
			return rs_fail(cause, RS_EUNSUPPORTED, "plot: gnuplot is not installed ('%s': %s);"
			               " install gnuplot (Debian: gnuplot-nox) or set RS_GNUPLOT", prog,
			               strerror(rc));
		return rs_fail(cause, RS_EIO, "plot: cannot run '%s': %s", prog, strerror(rc));
	}

	/* Write the script while reading stderr, so neither side can block the other. */
	for (;;) {
		struct pollfd pf[2];
		int np = 0;

		if (sv[0] >= 0) {
			pf[np].fd = sv[0];
			pf[np].events = POLLOUT;
			np++;
		}
		if (ep[0] >= 0) {
			pf[np].fd = ep[0];
			pf[np].events = POLLIN;
			np++;
		}
		if (np == 0)
			break;
		if (poll(pf, (nfds_t)np, -1) < 0) {
			if (errno == EINTR)
				continue;
			werr = errno;
			break;
		}
		for (int k = 0; k < np; k++) {
			if (pf[k].fd == sv[0] && (pf[k].revents & (POLLOUT | POLLERR | POLLHUP))) {
				ssize_t n = off < len ?
				    send(sv[0], script + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT) : 0;
				if (n > 0)
					off += (size_t)n;
				if (off >= len || (n < 0 && errno != EAGAIN && errno != EINTR)) {
					close(sv[0]);	/* EOF: gnuplot finishes and exits */
					sv[0] = -1;
				}
			} else if (pf[k].fd == ep[0] && (pf[k].revents & (POLLIN | POLLERR | POLLHUP))) {
				ssize_t n = gplot_read_err(ep[0], err, elen);
				if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
					close(ep[0]);
					ep[0] = -1;
				}
			}
		}
	}
	if (sv[0] >= 0)
		close(sv[0]);
	if (ep[0] >= 0)
		close(ep[0]);
	while (waitpid(pid, status, 0) < 0) {
		if (errno != EINTR) {
			return rs_fail(cause, RS_EIO, "plot: waiting for gnuplot: %s", strerror(errno));
		}
	}
	if (werr != 0)
		return rs_fail(cause, RS_EIO, "plot: talking to gnuplot: %s", strerror(werr));
	return 0;
}

/* First few non-empty lines of gnuplot's stderr, joined by " | " into one line. */
static char *
gplot_err_summary(const char *err)
{
	char out[1024];
	size_t at = 0;
	int lines = 0;
	const char *p = err;

	out[0] = '\0';
	while (*p != '\0' && lines < 6) {
		const char *e = strchr(p, '\n');
		size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
		const char *s = p;
		while (n > 0 && (*s == ' ' || *s == '\t' || *s == '^')) {
			s++;
			n--;
		}
		if (n > 0) {
			at += (size_t)snprintf(out + at, sizeof out - at, "%s%.*s", at > 0 ? " | " : "",
			                       (int)n, s);
			if (at >= sizeof out)
				break;
			lines++;
		}
		if (e == NULL)
			break;
		p = e + 1;
	}
	return rs_strdup(out);
}

int
rs_gplot_render(struct rs_gplot *g, char **warnings, char **cause)
{
	char *tmp = NULL, *prelude = NULL, *full = NULL, *err = NULL;
	size_t elen = 0, plen;
	int fd = -1, status = 0, rc;
	struct stat st;

	if (warnings != NULL)
		*warnings = NULL;
	if (g->failed)
		return rs_fail(cause, RS_ENOMEM, "plot: out of memory");
	if (g->bad_template != NULL)
		return rs_fail(cause, RS_EIO, "plot: %s", g->bad_template);
	if ((tmp = rs_strdupf("%s.tmp.XXXXXX", g->out)) == NULL ||
	    (err = rs_malloc(GPLOT_ERR_MAX + 1)) == NULL) {
		rc = rs_fail(cause, RS_ENOMEM, "out of memory");
		goto out;
	}
	err[0] = '\0';
	rs_atomic_sweep(g->out);
	if ((fd = mkstemp(tmp)) < 0) {
		rc = rs_fail(cause, RS_EIO, "%s: cannot create a temporary file beside it: %s", g->out,
		             strerror(errno));
		rs_free(tmp);
		tmp = NULL;
		goto out;
	}
	rs_atomic_hold(fd);
	fchmod(fd, 0644);
	if ((prelude = gplot_prelude(g, tmp)) == NULL) {
		rc = rs_fail(cause, RS_ENOMEM, "out of memory");
		goto out;
	}
	plen = strlen(prelude);
	if ((full = rs_malloc(plen + g->len + 32)) == NULL) {
		rc = rs_fail(cause, RS_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(full, prelude, plen);
	if (g->len > 0)
		memcpy(full + plen, g->buf, g->len);
	memcpy(full + plen + g->len, "\nset output\n", 13);
	if (g->script_copy != NULL &&
	    (rc = rs_afile_write_all(g->script_copy, full, strlen(full), cause)) != 0)
		goto out;
	if ((rc = gplot_spawn(full, strlen(full), &status, err, &elen, cause)) != 0)
		goto out;
	if (WIFEXITED(status) && WEXITSTATUS(status) == GPLOT_NO_TERMINAL) {
		char *s = gplot_err_summary(err);
		rc = rs_fail(cause, RS_EUNSUPPORTED, "plot: %s: %s", g->out,
		             s != NULL && s[0] != '\0' ? s : "gnuplot lacks the terminal");
		rs_free(s);
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char *s = gplot_err_summary(err);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && elen == 0)
			rc = rs_fail(cause, RS_EUNSUPPORTED, "plot: gnuplot ('%s') could not be run",
			             gplot_program());
		else if (WIFEXITED(status))
			rc = rs_fail(cause, RS_EIO, "plot: gnuplot failed (exit %d): %s",
			             WEXITSTATUS(status), s != NULL && s[0] ? s : "(no message)");
		else
			rc = rs_fail(cause, RS_EIO, "plot: gnuplot killed by signal %d%s%s",
			             WTERMSIG(status), s != NULL && s[0] ? ": " : "", s ? s : "");
		rs_free(s);
		goto out;
	}
	if (fstat(fd, &st) != 0 || st.st_size == 0) {
		rc = rs_fail(cause, RS_EIO, "plot: gnuplot wrote nothing to %s%s%s", g->out,
		             elen > 0 ? ": " : "", elen > 0 ? err : "");
		goto out;
	}
	if (fsync(fd) != 0 || rename(tmp, g->out) != 0) {
		rc = rs_fail(cause, RS_EIO, "%s: %s", g->out, strerror(errno));
		goto out;
	}
	rs_free(tmp);
	tmp = NULL;
	if (elen > 0 && warnings != NULL)
		*warnings = gplot_err_summary(err);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmp != NULL) {
		unlink(tmp);
		rs_free(tmp);
	}
	rs_free(prelude);
	rs_free(full);
	rs_free(err);
	return rc;
}
