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
	bool up;    /* administratively up (IFF_UP) */
	bool noarp; /* IFF_NOARP */
	bool is_bridge;
	char name[IFNAME_MAX + 1];
};

/* All functions return 0 or a negative libnl error code; net_error() describes it. */
int net_open(struct net *n);
void net_close(struct net *n);
/*
 * Undo the changes recorded in u (their context is n), on a fresh connection: a request whose
 * send failed leaves libnl waiting for an answer that never comes, and it would take later
 * answers for errors.  Returns how many could not be undone.
 */
int net_unwind(struct net *n, struct undo *u, void (*report)(void *ctx, const char *what, int err));
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
int link_set_arp(struct net *n, struct undo *u, const struct link_state *l, bool arp);

/*
 * A dump the kernel filters to one link (strict checking, Linux 4.20), so that its cost does
 * not grow with the other vifs: type RTM_GETADDR (the link's addresses of family, AF_UNSPEC for
 * all), RTM_GETROUTE (the main table's routes of family through the link) or RTM_GETNEIGH (the
 * proxy neighbour entries of family on the link, ifindex 0: on every link).  fn gets each
 * object; a kernel without strict checking sends everything, so fn checks what it needs.  On
 * a socket of its own: libnl's other dump requests do not pass the strict check.
 */
struct nl_object;
int link_dump(int type, int family, int ifindex, void (*fn)(struct nl_object *, void *), void *arg);

/*
 * Remember every address of the link in *saved (free with addr_saved_free).  Taken before the
 * link goes down: the kernel drops IPv6 addresses of a link that goes down.
 */
struct addr_saved;
int addr_save(const struct link_state *l, struct addr_saved **saved);

/* Remove the saved addresses still present; the undo step puts all of them back. */
int addr_flush(struct net *n, struct undo *u, struct addr_saved *saved);
void addr_saved_free(struct addr_saved *saved);

/*
 * Create a bridge with STP off and forward delay 0 (a port forwards at once), with this MAC
 * address and MTU, down, with this ifindex when not 0 (so that a bridge made again is the
 * same one for every step that names it).  The inverse deletes it.  Its state goes to out
 * when out is not NULL.
 */
int bridge_create(struct net *n, struct undo *u, const char *name, const uint8_t mac[6],
		  unsigned mtu, int ifindex, struct link_state *out);

/* Delete a link (a bridge we made); no inverse: the caller restores what it held. */
int link_delete(struct net *n, int ifindex);

/* Delete a bridge; the inverse makes it again with the same name, MAC and MTU, down. */
int bridge_delete(struct net *n, struct undo *u, const struct link_state *br);

/* Every port of the bridge with this index: their states in *ports (malloc'd). */
int bridge_ports(struct net *n, int bridge, struct link_state **ports, size_t *count);

/* The STP state of a bridge port (BR_STATE_*), from the kernel. */
int bridge_port_state(struct net *n, int ifindex, int *state);

/* Every bridge, sorted by name, in *bridges (malloc'd). */
int bridge_list(struct net *n, struct link_state **bridges, size_t *count);

#endif
