/* session-store.h: the plan of the last workbench session, kept per model so that reopening
 * the model restores it.  One plan file (planfile.h, JSON) per model identity
 * (rs_model_identity, the identity the cache keys by): $XDG_STATE_HOME/rankscope/plans/
 * <16 hex digits>.json (default ~/.local/state/rankscope/plans/), written atomically. */
#ifndef RS_SESSION_STORE_H
#define RS_SESSION_STORE_H

struct rs_session;

/* Where the loaded model's plan is kept (allocated), or NULL + cause (no model, no HOME). */
char *rs_session_store_path(const struct rs_session *s, char **cause);

/* Keep the session's plan and method for its model.  0 or a status + cause. */
int rs_session_store_save(const struct rs_session *s, char **cause);

/* Put the kept plan of the loaded model into the session's plan (one undo step) with its
 * method.  *path (allocated, may be NULL) names the file.  Returns 0 when restored, 1 when
 * nothing is kept for this model (or the kept plan is all dense), else a status + cause (a file
 * that cannot be read or is for another model: the plan is left as it was). */
int rs_session_store_restore(struct rs_session *s, char **path, char **cause);

#endif
