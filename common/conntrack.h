/* Connection tracking: forget what an earlier holder of a guest's addresses left behind. */
#ifndef XNH_CONNTRACK_H
#define XNH_CONNTRACK_H

#include <stddef.h>

#include "params.h"

/*
 * Delete every conntrack entry whose original source or destination is one of the host
 * addresses (/32, /128) in the list; prefixes are left alone.  Nothing is asked of the kernel
 * when the namespace tracks no connection; a small table is dumped once per family and matched
 * here, a large one filtered in the kernel (ctnetlink dump filters, Linux 5.8+).  Over nl when
 * it is an open NETLINK_NETFILTER connection (the firewall's), else over one of its own.
 * Returns the number deleted, or a negative errno.
 */
struct mnl_socket;
int conntrack_forget(struct mnl_socket *nl, const struct ip_prefix *addrs, size_t n);

#endif
