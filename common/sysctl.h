/* IPv4 kernel settings under /proc/sys/net/ipv4, read and written directly (never by forking
 * sysctl). */
#ifndef XNH_SYSCTL_H
#define XNH_SYSCTL_H

#include <stddef.h>

#include "undo.h"

#define SYSCTL_KEY_MAX	 40 /* "conf/<15-byte ifname>/proxy_arp" fits */
#define SYSCTL_VALUE_MAX 24
#define SYSCTL_NAME_MAX	 (SYSCTL_KEY_MAX + 9)

/*
 * key is relative to /proc/sys/net/ipv4 ("ip_forward", "conf/eth0/proxy_arp").  Each returns
 * 0 or a negative errno.  A value read has its trailing newline removed.
 */
int sysctl_get(const char *key, char *value, size_t len);
int sysctl_put(const char *key, const char *value);

/*
 * Set key to value.  When it changes, the old value goes to old (if not NULL, else "") and
 * its restoration is registered in u (if not NULL); *changed says whether it did change.
 */
int sysctl_set(struct undo *u, const char *key, const char *value, char old[SYSCTL_VALUE_MAX],
	       int *changed);

/* The key of a per-interface setting: "conf/<dev>/<name>". */
void sysctl_conf_key(char key[SYSCTL_KEY_MAX], const char *dev, const char *name);

/* The name sysctl(8) gives key ("net.ipv4.conf.vif1/0.proxy_arp"), into name; returns name. */
const char *sysctl_name(const char *key, char name[SYSCTL_NAME_MAX]);

#endif
