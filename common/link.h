/* Links and bridges through libnl-route-3: look up, rename, MAC, MTU, up/down, bridge ports. */
#ifndef XNH_LINK_H
#define XNH_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "params.h"
#include "undo.h"

struct nl_sock;

/* The program's netlink connection; undo steps receive it as their context. */
struct net {
	struct nl_sock *sk;
};

struct link_state {
	int ifindex;
	int master; /* ifindex of the bridge it is a port of, 0 if none */
	unsigned mtu;
	uint8_t mac[6];
	bool up; /* administratively up (IFF_UP) */
	bool is_bridge;
	char name[IFNAME_MAX + 1];
};

/* All functions return 0 or a negative libnl error code; net_error() describes it. */
int net_open(struct net *n);
void net_close(struct net *n);
const char *net_error(int err);

/* Current state of the link called name (-NLE_OBJ_NOTFOUND when there is none). */
int link_get(struct net *n, const char *name, struct link_state *out);
int link_get_index(struct net *n, int ifindex, struct link_state *out);

/*
 * Changes.  Each records its inverse in u (when u is not NULL) only once the change is made,
 * so that unwinding u restores what was there before.
 */
int link_set_up(struct net *n, struct undo *u, const struct link_state *l, bool up);
int link_set_mac(struct net *n, struct undo *u, const struct link_state *l, const uint8_t mac[6]);
int link_set_mtu(struct net *n, struct undo *u, const struct link_state *l, unsigned mtu);
int link_rename(struct net *n, struct undo *u, const struct link_state *l, const char *name);
int link_set_master(struct net *n, struct undo *u, const struct link_state *l, int master);

/*
 * Remember every address of the link in *saved (free with addr_saved_free).  Taken before the
 * link goes down: the kernel drops IPv6 addresses of a link that goes down.
 */
struct addr_saved;
int addr_save(struct net *n, const struct link_state *l, struct addr_saved **saved);

/* Remove the saved addresses still present; the undo step puts all of them back. */
int addr_flush(struct net *n, struct undo *u, struct addr_saved *saved);
void addr_saved_free(struct addr_saved *saved);

/* Names of every bridge, sorted; *names is one malloc'd block of IFNAME_MAX+1-byte slots. */
int bridge_list(struct net *n, char (**names)[IFNAME_MAX + 1], size_t *count);

#endif
