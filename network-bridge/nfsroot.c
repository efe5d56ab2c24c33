/* The NFS-root check: never take away the device the root filesystem is reached through. */
#include "network-bridge.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/netlink.h>
#include <netlink/route/route.h>

/* The files to read; tests point these variables at files of their own. */
static const char *file_or(const char *var, const char *fallback)
{
	const char *v = getenv(var);
	return v && *v ? v : fallback;
}

/* The server of an NFS root from the mount table ("server:/path" or addr=), else "". */
static bool root_on_nfs_mount(char *server, size_t len)
{
	FILE *f = fopen(file_or("NETWORK_BRIDGE_MOUNTS", "/proc/mounts"), "re");
	char line[4096], dev[1024], mnt[1024], type[64], opts[2048];
	bool nfs = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%1023s %1023s %63s %2047s", dev, mnt, type, opts) != 4)
			continue;
		if (strcmp(mnt, "/") || strncmp(type, "nfs", 3))
			continue;
		nfs = true;
		server[0] = '\0';
		const char *addr = strstr(opts, "addr=");
		if (addr && (addr == opts || addr[-1] == ',')) {
			snprintf(server, len, "%.*s", (int)strcspn(addr + 5, ","), addr + 5);
		} else {
			char *colon = strrchr(dev, ':');
			if (colon) {
				*colon = '\0';
				char *s = dev;
				if (*s == '[' && s[strlen(s) - 1] == ']') {
					s[strlen(s) - 1] = '\0';
					s++;
				}
				size_t l = strnlen(s, len - 1);
				memcpy(server, s, l);
				server[l] = '\0';
			}
		}
	}
	fclose(f);
	return nfs;
}

/* root=/dev/nfs on the kernel command line; the server from nfsroot= when it names one. */
static bool root_on_nfs_cmdline(char *server, size_t len)
{
	FILE *f = fopen(file_or("NETWORK_BRIDGE_CMDLINE", "/proc/cmdline"), "re");
	char line[4096] = "";
	if (!f)
		return false;
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	bool nfs = false;
	for (char *tok = strtok(line, " \t\n"); tok; tok = strtok(NULL, " \t\n")) {
		if (!strcmp(tok, "root=/dev/nfs"))
			nfs = true;
		else if (!strncmp(tok, "nfsroot=", 8) && strchr(tok + 8, ':'))
			snprintf(server, len, "%.*s", (int)strcspn(tok + 8, ":"), tok + 8);
	}
	return nfs;
}

/* The device the kernel would use to reach server, by asking it (RTM_GETROUTE). */
static int route_dev(struct nb *nb, const char *server, int *ifindex)
{
	struct nl_addr *dst = NULL;
	struct rtnl_route *r = NULL;
	int err = nl_addr_parse(server, AF_UNSPEC, &dst);
	if (err < 0)
		return err;
	err = rtnl_route_lookup(nb->net.sk, dst, &r);
	nl_addr_put(dst);
	if (err < 0)
		return err;
	struct rtnl_nexthop *nh = rtnl_route_nexthop_n(r, 0);
	*ifindex = nh ? rtnl_route_nh_get_ifindex(nh) : 0;
	rtnl_route_put(r);
	return 0;
}

int nb_check_nfs_root(struct nb *nb, int netdev_ifindex)
{
	char server[256] = "";
	bool nfs = root_on_nfs_mount(server, sizeof(server));
	if (!nfs)
		nfs = root_on_nfs_cmdline(server, sizeof(server));
	if (!nfs)
		return 0;
	int via = 0;
	if (server[0] && route_dev(nb, server, &via) == 0 && via != netdev_ifindex)
		return 0;
	/* Through netdev, or unknown: taking the device would freeze the host. */
	return nb_fail(nb,
		       "the root filesystem is on NFS%s%s, reached through %s: taking %s into "
		       "a bridge would cut the host off from its own root; configure the "
		       "bridge in the initramfs or the distribution's network setup instead",
		       server[0] ? " from " : "", server, nb->netdev, nb->netdev);
}
