/* Kernel settings under /proc/sys/net/ipv4 and ipv6, read and written directly (never by forking
 * sysctl). */
#include "sysctl.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <netlink/errno.h>
#include <netlink/netlink.h>

#define SYSCTL_ROOT "/proc/sys/net/"

/* Whether key is an IPv6 one ("ipv6/..."): no IPv4 key starts so, none is named ipv6. */
static bool key_is_ipv6(const char *key)
{
	return !strncmp(key, SYSCTL_IPV6, strlen(SYSCTL_IPV6));
}

static int key_path(const char *key, char *buf, size_t len)
{
	/* Keys come from validated interface names, but never let one climb out of the tree. */
	if (!*key || strstr(key, "..") || key[0] == '/')
		return -EINVAL;
	int n = snprintf(buf, len, SYSCTL_ROOT "%s%s", key_is_ipv6(key) ? "" : "ipv4/", key);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

const char *sysctl_path(const char *key, char path[SYSCTL_PATH_MAX])
{
	if (key_path(key, path, SYSCTL_PATH_MAX) < 0)
		snprintf(path, SYSCTL_PATH_MAX, "%s", key);
	return path;
}

/* The key's file opened with flags: the descriptor, or -errno. */
static int key_open(const char *key, int flags)
{
	char path[128];
	int err = key_path(key, path, sizeof(path));
	if (err < 0)
		return err;
	int fd = open(path, flags | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int sysctl_get(const char *key, char *value, size_t len)
{
	int fd = key_open(key, O_RDONLY);
	if (fd < 0)
		return fd;
	ssize_t n = read(fd, value, len - 1);
	int err = n < 0 ? -errno : 0;
	close(fd);
	if (n < 0)
		n = 0;
	while (n > 0 && (value[n - 1] == '\n' || value[n - 1] == ' '))
		n--;
	value[n] = '\0';
	return err;
}

int sysctl_put(const char *key, const char *value)
{
	int fd = key_open(key, O_WRONLY);
	if (fd < 0)
		return fd;
	size_t len = strlen(value);
	ssize_t n = write(fd, value, len);
	int err = n < 0 ? -errno : (size_t)n != len ? -EIO : 0;
	close(fd);
	return err;
}

struct undo_sysctl {
	char key[SYSCTL_KEY_MAX];
	char old[SYSCTL_VALUE_MAX];
};

/* Undo steps report libnl codes (the journal's other steps are netlink changes). */
static int undo_sysctl(void *ctx, const void *arg)
{
	(void)ctx;
	const struct undo_sysctl *a = arg;
	int err = sysctl_put(a->key, a->old);
	return err < 0 ? -nl_syserr2nlerr(-err) : 0;
}

int sysctl_set(struct undo *u, const char *key, const char *value, char old[SYSCTL_VALUE_MAX],
	       int *changed)
{
	struct undo_sysctl a;
	int err;

	*changed = 0;
	if (old)
		old[0] = '\0';
	if (strlen(key) >= sizeof(a.key))
		return -ENAMETOOLONG;
	if ((err = sysctl_get(key, a.old, sizeof(a.old))) < 0)
		return err;
	if (!strcmp(a.old, value))
		return 0;
	if ((err = sysctl_put(key, value)) < 0)
		return err;
	*changed = 1;
	if (old)
		memcpy(old, a.old, sizeof(a.old));
	snprintf(a.key, sizeof(a.key), "%s", key);
	if (u && undo_push(u, undo_sysctl, &a, sizeof(a), key)) {
		sysctl_put(key, a.old);
		return -ENOMEM;
	}
	return 0;
}

void sysctl_conf_key(char key[SYSCTL_KEY_MAX], const char *dev, const char *name)
{
	snprintf(key, SYSCTL_KEY_MAX, "conf/%s/%s", dev, name);
}

void sysctl_conf6_key(char key[SYSCTL_KEY_MAX], const char *dev, const char *name)
{
	snprintf(key, SYSCTL_KEY_MAX, SYSCTL_IPV6 "conf/%s/%s", dev, name);
}

const char *sysctl_name(const char *key, char name[SYSCTL_NAME_MAX])
{
	/* sysctl(8)'s notation: '/' separates, so a '.' inside an interface name becomes '/'. */
	bool v6 = key_is_ipv6(key);
	size_t n = (size_t)snprintf(name, SYSCTL_NAME_MAX, "net.ipv%c.%s", v6 ? '6' : '4',
				    key + (v6 ? strlen(SYSCTL_IPV6) : 0));
	for (size_t i = 9; i < n && i < SYSCTL_NAME_MAX; i++)
		name[i] = name[i] == '/' ? '.' : name[i] == '.' ? '/' : name[i];
	return name;
}

bool sysctl_on(const char *key)
{
	char value[SYSCTL_VALUE_MAX];
	return sysctl_get(key, value, sizeof(value)) == 0 && value[0] && strcmp(value, "0");
}
