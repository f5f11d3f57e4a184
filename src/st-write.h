/* st-write.h: a safetensors writer for exports and generated fixtures.
 *
 * Usage: rs_stw_new(path) creates a temporary file next to `path` (path + ".tmp.XXXXXX");
 * rs_stw_add / rs_stw_add_fill / rs_stw_meta declare tensors and metadata; rs_stw_finish writes
 * the header (JSON padded with spaces to a multiple of 8) and the data in the order added with
 * contiguous offsets, fsyncs, and renames over `path`.  rs_stw_free releases the writer and
 * removes the temporary file if finish did not complete, so an interrupted export never leaves a
 * partial file under the target name.
 *
 * Offsets are contiguous with no padding, so a tensor is aligned for its dtype only if the
 * bytes before it are a multiple of its element size: add F32 tensors before F16/BF16 ones
 * when the readers will want aligned data.
 *
 * Data given to rs_stw_add is not copied: it must stay valid until rs_stw_finish returns.  A fill
 * callback is called at finish time for consecutive chunks, so a multi-GB tensor never has to be
 * in memory at once. */
#ifndef RS_ST_WRITE_H
#define RS_ST_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "status.h"

struct rs_stw;	/* opaque */

/* Fill buf with bytes [off, off + len) of the tensor's data (in its dtype, little-endian,
 * row-major).  Return 0, or a negative RS_E* with *cause set to stop the write. */
typedef int (*rs_stw_fill_fn)(void *ud, void *buf, size_t off, size_t len, char **cause);

/* Start writing `path`: creates the temporary file.  NULL + *cause on failure. */
struct rs_stw *rs_stw_new(const char *path, char **cause);

/* Add a tensor of dtype F32, F16 or BF16 with n_dims (0..4) dimensions, outermost first.
 * The name must be unique and not "__metadata__". */
int rs_stw_add(struct rs_stw *w, const char *name, enum rs_dtype dt, uint32_t n_dims,
               const uint64_t *shape, const void *data, char **cause);
int rs_stw_add_fill(struct rs_stw *w, const char *name, enum rs_dtype dt, uint32_t n_dims,
                    const uint64_t *shape, rs_stw_fill_fn fill, void *ud, char **cause);

/* Add (or replace) a "__metadata__" string pair. */
int rs_stw_meta(struct rs_stw *w, const char *key, const char *value, char **cause);

/* Write everything, fsync, rename over the target.  The job may cancel between chunks
 * (RS_ECANCEL); on any failure the target is untouched.  Call at most once. */
int rs_stw_finish(struct rs_stw *w, struct rs_job *job, char **cause);

/* Free the writer; removes the temporary file unless finish succeeded. */
void rs_stw_free(struct rs_stw *w);

/* Path of the temporary file (for tests and messages); NULL once renamed or removed. */
const char *rs_stw_tmp_path(const struct rs_stw *w);

#endif
