/* A NAT guest's address, its router's address and its host name (SPEC §5): pure arithmetic. */
#ifndef XNH_NAT_ADDRESS_H
#define XNH_NAT_ADDRESS_H

#include <netinet/in.h>

struct nat_address {
	struct in_addr guest;  /* the guest's address */
	unsigned prefix;       /* its prefix length (16 when derived) */
	struct in_addr router; /* the address the vif takes: the guest's +127 on the last octet */
	unsigned vifid;	       /* handle + 1 */
	char hostname[32];     /* dom<domid>, with -<vifid> when vifid is not 1 */
};

/*
 * ip: the guest's first ip entry, or NULL/"" to derive 10.<domid/256>.<domid%256>.<vifid>/16
 * (which needs domid <= 65535 and handle <= 127).  With ip given, domid and handle only make
 * the host name.  Returns NULL, or a phrase saying what was expected: a unicast IPv4 ip whose
 * last octet is at most 128 (the router's, +127, is never wrapped), a smaller handle or domid.
 * On refusal *out is all zero.
 */
const char *nat_address(const char *ip, unsigned domid, unsigned handle, struct nat_address *out);

#endif
