/* Addresses and routes through libnl-route-3: list what a link carries, move it to another link. */
#ifndef XNH_ADDR_H
#define XNH_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "link.h"
#include "undo.h"

struct rtnl_addr;
struct rtnl_route;

/*
 * What a link carries: its addresses (IPv6 link-local ones left out: the kernel makes them)
 * and every route through it, in every table and both families, kernel-made ones left out.
 */
struct netconf {
	size_t n_addrs, n_routes;
	struct rtnl_addr **addrs;
	struct rtnl_route **routes;
};

int netconf_read(struct net *n, int ifindex, struct netconf *out);
void netconf_free(struct netconf *c);

/*
 * Put the addresses of c on the link (to, named to_name; IPv4 labels renamed from from_name),
 * then move the routes, each deleted from its old link and added through the new one.  Every
 * step registers its inverse in u.  Addresses on the old link are removed by addr_remove_all.
 */
int netconf_add_addrs(struct net *n, struct undo *u, const struct netconf *c, int to,
		      const char *from_name, const char *to_name);
/* to <= 0: only delete them from the old link. */
int netconf_move_routes(struct net *n, struct undo *u, const struct netconf *c, int from, int to);
int netconf_remove_addrs(struct net *n, struct undo *u, const struct netconf *c);

/* The device of the IPv4 default route in the main table, into name; -NLE_OBJ_NOTFOUND if none. */
int route_default_dev(struct net *n, char name[IFNAME_MAX + 1]);

#endif
