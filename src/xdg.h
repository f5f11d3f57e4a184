/* xdg.h: where rankscope keeps its files, by the XDG base directory rules: each kind's
 * $XDG_*_HOME when it is an absolute path, else its default under $HOME. */
#ifndef RS_XDG_H
#define RS_XDG_H

enum rs_xdg {
	RS_XDG_CONFIG,  /* XDG_CONFIG_HOME, ~/.config: the config file */
	RS_XDG_STATE,   /* XDG_STATE_HOME, ~/.local/state: history, kept plans */
	RS_XDG_CACHE,   /* XDG_CACHE_HOME, ~/.cache: spectra, statistics */
	RS_XDG_DATA,    /* XDG_DATA_HOME, ~/.local/share: user plugins */
};

/* "<base>/rankscope", then "/" tail when tail is not NULL (allocated); NULL with *cause set
 * (RS_EIO) when neither the variable nor HOME is set, or when out of memory (RS_ENOMEM). */
char *rs_xdg_path(enum rs_xdg kind, const char *tail, char **cause);

#endif
