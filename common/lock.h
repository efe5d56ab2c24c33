/* Named locks shared with the Xen shell scripts' locking.sh. */
#ifndef XNH_LOCK_H
#define XNH_LOCK_H

#include <stdbool.h>

struct lock {
	int fd;
	bool kept; /* a lock of this project's own, whose file stays (lock_hold) */
	char path[4096];
};

/*
 * Take the exclusive lock $XEN_LOCK_DIR/<name>, waiting as long as it takes.  Same protocol as
 * the scripts: flock the file, then make sure the path still names the file we locked (a
 * releaser unlinks it), else retry.  Returns 0, or -errno.
 */
int lock_take(struct lock *lk, const char *name);
void lock_release(struct lock *lk);

/*
 * A lock no script takes: the directory $XEN_LOCK_DIR itself, shared (many holders) or
 * exclusive.  A file would have to stay for good (shared holders come and go in any order,
 * so none may unlink it); the directory is there anyway.  lock_release drops it.
 */
int lock_hold(struct lock *lk, bool shared);

#endif
