/* Kernel settings under /proc/sys/net/ipv4 and ipv6, read and written directly (never by forking
 * sysctl). */
#ifndef XNH_SYSCTL_H
#define XNH_SYSCTL_H

#include <stdbool.h>
#include <stddef.h>

#include "undo.h"

#define SYSCTL_KEY_MAX	 40 /* "ipv6/conf/<15-byte ifname>/proxy_ndp" fits */
#define SYSCTL_VALUE_MAX 24
#define SYSCTL_NAME_MAX	 (SYSCTL_KEY_MAX + 9)
#define SYSCTL_PATH_MAX	 (SYSCTL_KEY_MAX + 20)

/* The start of an IPv6 key. */
#define SYSCTL_IPV6 "ipv6/"

/*
 * key is relative to /proc/sys/net/ipv4 ("ip_forward", "conf/eth0/proxy_arp"), or, when it
 * starts with "ipv6/", to /proc/sys/net ("ipv6/conf/all/forwarding"): the IPv4 keys keep the
 * form the state files of earlier versions hold.  Each returns 0 or a negative errno.  A value
 * read has its trailing newline removed.
 */
int sysctl_get(const char *key, char *value, size_t len);
int sysctl_put(const char *key, const char *value);

/* Whether key can be read and is neither empty nor 0. */
bool sysctl_on(const char *key);

/*
 * Set key to value.  When it changes, the old value goes to old (if not NULL, else "") and
 * its restoration is registered in u (if not NULL); *changed says whether it did change.
 */
int sysctl_set(struct undo *u, const char *key, const char *value, char old[SYSCTL_VALUE_MAX],
	       int *changed);

/* The key of a per-interface setting: "conf/<dev>/<name>", "ipv6/conf/<dev>/<name>". */
void sysctl_conf_key(char key[SYSCTL_KEY_MAX], const char *dev, const char *name);
void sysctl_conf6_key(char key[SYSCTL_KEY_MAX], const char *dev, const char *name);

/* The file of key ("/proc/sys/net/ipv4/ip_forward"), into path, for messages; returns path. */
const char *sysctl_path(const char *key, char path[SYSCTL_PATH_MAX]);

/* The name sysctl(8) gives key ("net.ipv4.conf.vif1/0.proxy_arp", "net.ipv6.conf.all.forwarding"),
 * into name; returns name. */
const char *sysctl_name(const char *key, char name[SYSCTL_NAME_MAX]);

#endif
