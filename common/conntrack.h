/* Connection tracking: forget what an earlier holder of a guest's addresses left behind. */
#ifndef XNH_CONNTRACK_H
#define XNH_CONNTRACK_H

#include <stddef.h>

#include "params.h"

/*
 * Delete every conntrack entry whose original source or destination is one of the host
 * addresses (/32, /128) in the list; prefixes are left alone.  Filtering happens in the kernel
 * (ctnetlink dump filters, Linux 5.8+).  Returns the number deleted, or a negative errno.
 */
int conntrack_forget(const struct ip_prefix *addrs, size_t n);

#endif
