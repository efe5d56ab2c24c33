/* A NAT guest's address, its router's address and its host name (SPEC §5): pure arithmetic. */
#include "nat-address.h"
#include "params.h"

#include <stdio.h>
#include <string.h>

const char *nat_address(const char *ip, unsigned domid, unsigned handle, struct nat_address *out)
{
	memset(out, 0, sizeof(*out));
	if (handle > 254)
		return "a device handle of at most 254 (the guest address's last octet is "
		       "handle + 1)";
	out->vifid = handle + 1;
	if (ip && *ip) {
		struct ip_prefix p;
		if (parse_ip_prefix(ip, &p) || p.family != AF_INET)
			return "an IPv4 address, optionally with a prefix length";
		out->guest = p.addr.v4;
		out->prefix = p.len;
	} else {
		if (domid > 65535)
			return "a domain id of at most 65535";
		uint32_t a =
		    (10u << 24) | ((domid / 256) << 16) | ((domid % 256) << 8) | out->vifid;
		out->guest.s_addr = htonl(a);
		out->prefix = 16;
	}
	uint32_t g = ntohl(out->guest.s_addr);
	if ((g & 0xff) + 127 > 255)
		return "an address whose last octet is at most 128, so that the router address "
		       "(the last octet + 127) exists";
	out->router.s_addr = htonl(g + 127);
	if (out->vifid == 1)
		snprintf(out->hostname, sizeof(out->hostname), "dom%u", domid);
	else
		snprintf(out->hostname, sizeof(out->hostname), "dom%u-%u", domid, out->vifid);
	return NULL;
}
