/* Run-time state files under XEN_RUN_DIR: written whole and atomically, never through links. */
#include "statefile.h"
#include "paths.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int state_path(const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", path_run_dir(), name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int statefile_write(const char *name, const char *text, size_t len)
{
	char path[4096], tmp[4200];
	int err = state_path(name, path, sizeof(path));
	if (err < 0)
		return err;
	mkdir(path_run_dir(), 0755);
	char *slash = strrchr(path, '/');
	if (slash && strchr(name, '/')) {
		*slash = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*slash = '/';
	}
	/* A temporary file beside it, renamed over it: a reader sees the old or the new. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	bool ok = write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
	close(fd);
	if (!ok || rename(tmp, path) < 0) {
		unlink(tmp);
		return -EIO;
	}
	return 0;
}

int statefile_read(const char *name, char *buf, size_t len)
{
	char path[4096];
	int err = state_path(name, path, sizeof(path));
	if (err < 0)
		return err;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, len - 1);
	err = n < 0 ? -errno : 0;
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return err;
}

int statefile_remove(const char *name)
{
	char path[4096];
	int err = state_path(name, path, sizeof(path));
	if (err < 0)
		return err;
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}
