/* xenstore through libxenstore: backend nodes, hotplug-status and hotplug-error. */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

struct store {
	struct xs_handle *xs;
};

struct store *store_open(void)
{
	struct store *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->xs = xs_open(0);
	if (!s->xs) {
		int e = errno ? errno : ECONNREFUSED;
		free(s);
		errno = e;
		return NULL;
	}
	return s;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	xs_close(s->xs);
	free(s);
}

static int node_path(char *buf, size_t len, const char *dir, const char *key)
{
	int n = key ? snprintf(buf, len, "%s/%s", dir, key) : snprintf(buf, len, "%s", dir);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int store_read(struct store *s, const char *dir, const char *key, char **out)
{
	char path[512];
	unsigned int len = 0;

	*out = NULL;
	if (node_path(path, sizeof(path), dir, key))
		return -ENAMETOOLONG;
	errno = 0;
	char *v = xs_read(s->xs, XBT_NULL, path, &len);
	if (!v)
		return errno ? -errno : -EIO;
	if (strlen(v) != len) {
		free(v);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int store_list(struct store *s, const char *dir, char ***names, unsigned *n)
{
	unsigned count = 0;
	errno = 0;
	*names = xs_directory(s->xs, XBT_NULL, dir, &count);
	*n = *names ? count : 0;
	if (!*names)
		return errno ? -errno : -EIO;
	return 0;
}

int store_write(struct store *s, const char *dir, const char *key, const char *value)
{
	char path[512];

	if (node_path(path, sizeof(path), dir, key))
		return -ENAMETOOLONG;
	errno = 0;
	if (!xs_write(s->xs, XBT_NULL, path, value, (unsigned int)strlen(value)))
		return errno ? -errno : -EIO;
	return 0;
}

int store_rm(struct store *s, const char *dir, const char *key)
{
	char path[512];

	if (node_path(path, sizeof(path), dir, key))
		return -ENAMETOOLONG;
	errno = 0;
	if (!xs_rm(s->xs, XBT_NULL, path) && errno != ENOENT)
		return errno ? -errno : -EIO;
	return 0;
}
