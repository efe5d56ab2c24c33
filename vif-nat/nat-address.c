/* A NAT guest's address, its router's address and its host name (SPEC §5): pure arithmetic. */
#include "nat-address.h"
#include "params.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* 0/8, 127/8 and 224/3 (multicast and reserved): no guest can have such an address. */
static bool unicast(uint32_t a)
{
	unsigned first = a >> 24;
	return first != 0 && first != 127 && first < 224;
}

static const char *derive(unsigned domid, unsigned handle, struct nat_address *out)
{
	/* Said in terms of the handle: with no ip given, it is what the administrator can change.
	 */
	if (handle > 127)
		return "a device handle of at most 127 (the derived guest address ends in handle + "
		       "1 and its router's in that + 127, at most 255), or an ip for the guest";
	if (domid > 65535)
		return "a domain id of at most 65535 (the derived guest address holds it in two "
		       "octets), or an ip for the guest";
	uint32_t a = (10u << 24) | ((domid / 256) << 16) | ((domid % 256) << 8) | (handle + 1);
	out->guest.s_addr = htonl(a);
	out->prefix = 16;
	return NULL;
}

static const char *given(const char *ip, struct nat_address *out)
{
	struct ip_prefix p;
	if (parse_ip_prefix(ip, &p) || p.family != AF_INET)
		return "an IPv4 address, optionally with a prefix length (10.0.0.5, 10.0.0.5/16)";
	if (!unicast(ntohl(p.addr.v4.s_addr)))
		return "a unicast IPv4 address (not 0.x, 127.x, multicast or reserved)";
	out->guest = p.addr.v4;
	out->prefix = p.len;
	return NULL;
}

const char *nat_address(const char *ip, unsigned domid, unsigned handle, struct nat_address *out)
{
	memset(out, 0, sizeof(*out));
	/* vifid would wrap to 0 and name the host as if it were the first vif. */
	if (handle == UINT_MAX)
		return "a device handle of at most 4294967294";
	const char *e = ip && *ip ? given(ip, out) : derive(domid, handle, out);
	uint32_t g = ntohl(out->guest.s_addr);
	if (!e && (g & 0xff) > 128)
		e = "an address whose last octet is at most 128, so that the router address (the "
		    "last octet + 127) exists";
	if (e) {
		memset(out, 0, sizeof(*out));
		return e;
	}
	out->router.s_addr = htonl(g + 127);
	out->vifid = handle + 1;
	if (out->vifid == 1)
		snprintf(out->hostname, sizeof(out->hostname), "dom%u", domid);
	else
		snprintf(out->hostname, sizeof(out->hostname), "dom%u-%u", domid, out->vifid);
	return NULL;
}
