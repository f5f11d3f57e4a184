/* blas.c: OpenBLAS's kernel set (see blas.h). */
#include "config.h"

#include "blas.h"

#include <stdlib.h>

#ifdef HAVE_OPENBLAS_GET_CORENAME
char *openblas_get_corename(void);
#endif

/* The kernel set OpenBLAS chose when it loaded. */
const char *
rs_blas_kernels(void)
{
#ifdef HAVE_OPENBLAS_GET_CORENAME
	const char *name = openblas_get_corename();

	if (name != NULL && name[0] != '\0')
		return name;
#endif
	return "unknown";
}

/* The kernel set the environment asks for. */
const char *
rs_blas_forced(void)
{
	const char *v = getenv("OPENBLAS_CORETYPE");

	return v != NULL && v[0] != '\0' ? v : NULL;
}
