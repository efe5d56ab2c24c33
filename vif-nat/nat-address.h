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
 * ip: the guest's first ip entry, or NULL/"" to derive 10.<domid/256>.<domid%256>.<vifid>/16.
 * Returns NULL, or a phrase saying why no address can be made (a last octet past 255).
 */
const char *nat_address(const char *ip, unsigned domid, unsigned handle, struct nat_address *out);

#endif
