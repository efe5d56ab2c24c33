/* Files written whole and atomically; run-time state files under XEN_RUN_DIR, never through links.
 */
#include "statefile.h"
#include "paths.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * The temporary file beside path: one fixed name, so that one a killed run left is found by the
 * next run that writes or removes the file (a random name would stay for good).
 */
static int temp_path(const char *path, char *buf, size_t len)
{
	const char *base = strrchr(path, '/');
	int n = base ? snprintf(buf, len, "%.*s/.%s.tmp", (int)(base - path), path, base + 1)
		     : snprintf(buf, len, ".%s.tmp", path);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

void file_forget_temp(const char *path)
{
	char tmp[4200];
	struct stat st;
	if (temp_path(path, tmp, sizeof(tmp)) == 0 && lstat(tmp, &st) == 0)
		unlink(tmp);
}

static int state_path(const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", path_run_dir(), name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* file_replace, and when durable the data and the rename flushed to the disk. */
static int replace(const char *path, const char *text, size_t len, const struct stat *orig,
		   const char **stage, bool durable)
{
	char dir[4096], tmp[4200];
	const char *base = strrchr(path, '/');
	const char *what = "create a temporary file for";
	if (!base || (size_t)(base - path) >= sizeof(dir))
		return -EINVAL;
	snprintf(dir, sizeof(dir), "%.*s", base == path ? 1 : (int)(base - path), path);
	if (temp_path(path, tmp, sizeof(tmp)) < 0)
		return -ENAMETOOLONG;
	/* Created exclusively: never through a link someone left there.  One there already was
	 * left by a run that was killed (writers of a file exclude each other by its lock). */
	const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	int fd = open(tmp, flags, 0600), err = 0;
	if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)
		fd = open(tmp, flags, 0600);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	what = "set the owner and mode of";
	if (orig ? fchown(fd, orig->st_uid, orig->st_gid) < 0 ||
		       fchmod(fd, orig->st_mode & 07777) < 0
		 : fchmod(fd, 0644) < 0)
		err = -errno;
	what = "write";
	for (size_t off = 0; !err && off < len;) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			err = n < 0 ? -errno : -EIO;
		else
			off += (size_t)n;
	}
	if (!err && durable && fsync(fd) < 0) {
		what = "flush";
		err = -errno;
	}
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0) {
		what = "rename";
		err = -errno;
	}
	if (err) {
		unlink(tmp);
		goto out;
	}
	int dfd = durable ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
out:
	if (stage)
		*stage = what;
	return err;
}

int file_replace(const char *path, const char *text, size_t len, const struct stat *orig,
		 const char **stage)
{
	return replace(path, text, len, orig, stage, true);
}

static int state_replace(const char *name, const char *text, size_t len, bool durable)
{
	char path[4096];
	int err = state_path(name, path, sizeof(path));
	if (err < 0)
		return err;
	char *slash = strrchr(path, '/');
	bool sub = slash && strchr(name, '/');
	/* The directories are made only when missing: a subdirectory is removed by whoever
	 * empties it (statefile_rmdir), and may go again before the file is in it. */
	for (int tries = 0; tries < 8; tries++) {
		const char *stage = NULL;
		if ((err = replace(path, text, len, NULL, &stage, durable)) != -ENOENT)
			return err;
		if (mkdir(path_run_dir(), 0755) < 0 && errno != EEXIST)
			return -errno;
		if (sub) {
			*slash = '\0';
			err = mkdir(path, 0755) < 0 && errno != EEXIST ? -errno : 0;
			*slash = '/';
			if (err < 0)
				return err;
		}
	}
	return err;
}

int statefile_write(const char *name, const char *text, size_t len)
{
	return state_replace(name, text, len, true);
}

int statefile_put(const char *name, const char *text, size_t len)
{
	return state_replace(name, text, len, false);
}

int statefile_rmdir(const char *dir)
{
	char path[4096];
	int err = state_path(dir, path, sizeof(path));
	if (err < 0)
		return err;
	return rmdir(path) < 0 ? -errno : 0;
}

bool statefile_exists(const char *name)
{
	char path[4096];
	struct stat st;
	return state_path(name, path, sizeof(path)) == 0 && lstat(path, &st) == 0;
}

/* The file at path, NUL-terminated, never through a link. */
static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, len - 1);
	int err = n < 0 ? -errno : 0;
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return err;
}

int statefile_read(const char *name, char *buf, size_t len)
{
	char path[4096];
	int err = state_path(name, path, sizeof(path));
	if (err < 0)
		return err;
	return read_file(path, buf, len);
}

int statefile_read_temp(const char *name, char *buf, size_t len)
{
	char path[4096], tmp[4200];
	int err = state_path(name, path, sizeof(path));
	if (err < 0 || (err = temp_path(path, tmp, sizeof(tmp))) < 0)
		return err;
	return read_file(tmp, buf, len);
}

void statefile_forget_temp(const char *name)
{
	char path[4096];
	if (state_path(name, path, sizeof(path)) == 0)
		file_forget_temp(path);
}

int statefile_remove(const char *name)
{
	char path[4096];
	int err = state_path(name, path, sizeof(path));
	if (err < 0)
		return err;
	file_forget_temp(path);
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}
