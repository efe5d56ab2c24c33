/* Addresses and routes through libnl-route-3: list what a link carries, move it to another link. */
#ifndef XNH_ADDR_H
#define XNH_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

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

/*
 * A record of c that outlives the program: a line per address ("addr <hex>") and per route
 * ("route <hex>"), the netlink request that adds it as it would be on the link to (named
 * to_name): moved from the link from (from_name) as netconf_add_addrs and netconf_move_routes
 * move them.  from == to records them as they are.
 */
int netconf_write(FILE *f, const struct netconf *c, int from, int to, const char *from_name,
		  const char *to_name);
/* Add the address or route of one such line to c (zeroed at first; netconf_free frees it). */
int netconf_parse_line(struct netconf *c, const char *line);
/* Add the routes of c that are missing (no undo: a repair, run again if it fails). */
int netconf_restore_routes(struct net *n, const struct netconf *c);

/* The device of the IPv4 default route in the main table, into name; -NLE_OBJ_NOTFOUND if none. */
int route_default_dev(struct net *n, char name[IFNAME_MAX + 1]);
/* The same device's state. */
int route_default_link(struct net *n, struct link_state *out);

/* Routed and NAT modes: one vif's address and its routes. */

/* The first primary IPv4 address of the link; -NLE_NOADDR when it has none. */
int addr_primary4(int ifindex, struct in_addr *out);

/* Put p on the link; when it is there already nothing is done, and there is nothing to undo. */
int addr_add_prefix(struct net *n, struct undo *u, int ifindex, const struct ip_prefix *p);

/*
 * A route in the main table to dst (host bits cleared) through the link, with preferred
 * source src when not NULL and this metric, as `ip route add` makes it.  When the same route
 * is there already nothing is done; -NLE_EXIST when that destination and metric go through
 * another link.  The inverse deletes it.
 */
int route_add_via(struct net *n, struct undo *u, int ifindex, const struct ip_prefix *dst,
		  const struct in_addr *src, unsigned metric);

/* Delete that route; its absence is not an error. */
int route_del_via(struct net *n, int ifindex, const struct ip_prefix *dst, unsigned metric);

/* 1 when a route of the main IPv4 table goes through the link, 0 when none does. */
int route_any_via(int ifindex);

#endif
