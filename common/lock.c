/* Named locks shared with the Xen shell scripts' locking.sh. */
#include "lock.h"
#include "paths.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int lock_take(struct lock *lk, const char *name)
{
	const char *dir = path_lock_dir();
	struct stat held, named;

	lk->fd = -1;
	lk->kept = false;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	if ((size_t)snprintf(lk->path, sizeof(lk->path), "%s/%s", dir, name) >= sizeof(lk->path))
		return -ENAMETOOLONG;
	for (;;) {
		int fd = open(lk->path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0)
			return -errno;
		while (flock(fd, LOCK_EX) < 0) {
			if (errno != EINTR) {
				int e = errno;
				close(fd);
				return -e;
			}
		}
		if (fstat(fd, &held) == 0 && lstat(lk->path, &named) == 0 &&
		    held.st_dev == named.st_dev && held.st_ino == named.st_ino) {
			lk->fd = fd;
			return 0;
		}
		/* The previous holder unlinked it while we waited: lock the new file instead. */
		close(fd);
	}
}

int lock_hold(struct lock *lk, bool shared)
{
	const char *dir = path_lock_dir();
	lk->fd = -1;
	lk->kept = true;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	if ((size_t)snprintf(lk->path, sizeof(lk->path), "%s", dir) >= sizeof(lk->path))
		return -ENAMETOOLONG;
	int fd = open(lk->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (flock(fd, shared ? LOCK_SH : LOCK_EX) < 0) {
		if (errno != EINTR) {
			int e = errno;
			close(fd);
			return -e;
		}
	}
	lk->fd = fd;
	return 0;
}

void lock_release(struct lock *lk)
{
	if (lk->fd < 0)
		return;
	/* Unlink before unlocking, as locking.sh does, so waiters notice and reopen. */
	if (!lk->kept)
		unlink(lk->path);
	close(lk->fd);
	lk->fd = -1;
}
