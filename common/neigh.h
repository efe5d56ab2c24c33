/* Proxy neighbour entries (proxy NDP) through libnl-route-3: the host answering for a guest. */
#ifndef XNH_NEIGH_H
#define XNH_NEIGH_H

#include <netinet/in.h>

#include "link.h"
#include "undo.h"

/*
 * A proxy entry for the IPv6 address on the link: the link answers neighbour solicitations
 * for it (with the link's proxy_ndp on).  When the entry is there already nothing is done,
 * and there is nothing to undo; else the inverse deletes it.  0 or a negative libnl error.
 */
int neigh_proxy_add(struct net *n, struct undo *u, int ifindex, const struct in6_addr *addr);

/*
 * Delete the proxy entries for the address on every link (the link it was added on may be
 * unknown or gone by now); none is not an error.  The number deleted, or a negative libnl
 * error.
 */
int neigh_proxy_del_all(struct net *n, const struct in6_addr *addr);

#endif
