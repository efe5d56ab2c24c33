/* Run-time state files under XEN_RUN_DIR: written whole and atomically, never through links. */
#ifndef XNH_STATEFILE_H
#define XNH_STATEFILE_H

#include <stddef.h>

/*
 * name is relative to XEN_RUN_DIR and may lie in one subdirectory ("dir/file"), made as
 * needed.  Each returns 0 or a negative errno; reading a missing file gives -ENOENT.
 */
int statefile_write(const char *name, const char *text, size_t len);
int statefile_read(const char *name, char *buf, size_t len); /* NUL-terminated */
int statefile_remove(const char *name);

#endif
