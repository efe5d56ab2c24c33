/* Files written whole and atomically; run-time state files under XEN_RUN_DIR, never through links.
 */
#ifndef XNH_STATEFILE_H
#define XNH_STATEFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

/*
 * Replace the file at path with text, atomically: a temporary file beside it (owner and mode
 * those of orig, else 0644), written, flushed, renamed over it, the directory flushed.  A
 * reader sees the old content or the new, and a failure leaves the old.  0, or a negative
 * errno with *stage (when not NULL) naming what failed ("write", "rename"...).
 */
int file_replace(const char *path, const char *text, size_t len, const struct stat *orig,
		 const char **stage);

/* Remove the temporary file of path that a killed file_replace left, if there is one. */
void file_forget_temp(const char *path);

/*
 * name is relative to XEN_RUN_DIR and may lie in one subdirectory ("dir/file"), made as
 * needed.  Each returns 0 or a negative errno; reading a missing file gives -ENOENT.
 */
int statefile_write(const char *name, const char *text, size_t len);
/*
 * The same, atomic but not flushed to the disk: for a record of what the kernel holds, which a
 * power cut takes too (XEN_RUN_DIR is a tmpfs on most hosts, where a flush costs nothing).
 */
int statefile_put(const char *name, const char *text, size_t len);
int statefile_read(const char *name, char *buf, size_t len); /* NUL-terminated */
int statefile_remove(const char *name);			     /* its temporary file too */
/*
 * The temporary file of name that a run killed before its rename left (what it was about to
 * write), and its removal.
 */
int statefile_read_temp(const char *name, char *buf, size_t len);
void statefile_forget_temp(const char *name);
/* Remove the subdirectory dir if it is empty: 0, -ENOTEMPTY, -ENOENT... */
int statefile_rmdir(const char *dir);
bool statefile_exists(const char *name);

#endif
