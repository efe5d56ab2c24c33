/* Fuzz target: vif-nat's address arithmetic (vif-nat/nat-address.c), against SPEC §5. */
#include "fuzz.h"
#include "params.h"
#include "vif-nat/nat-address.h"

#include <arpa/inet.h>
#include <stdbool.h>

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		if (c[i])
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nat_address a;
	uint32_t domid, handle;
	if (size < 8)
		return 0;
	/* domid and handle as 32-bit numbers, then the ip (empty: derived). */
	memcpy(&domid, data, 4);
	memcpy(&handle, data + 4, 4);
	/* Mostly the values that occur, sometimes anything. */
	if (!(data[0] & 0x80)) {
		domid %= 70000;
		handle %= 200;
	}
	char *ip = strndup((const char *)data + 8, size - 8);
	if (!ip)
		abort();
	const char *e = nat_address(ip, domid, handle, &a);
	if (e) {
		check_message(e, 512, 0);
		PROPERTY(all_zero(&a, sizeof(a)));
		free(ip);
		return 0;
	}
	uint32_t g = ntohl(a.guest.s_addr), r = ntohl(a.router.s_addr);
	/* The router is the guest + 127 on the last octet, never wrapped into the next. */
	PROPERTY((g & 0xff) <= 128);
	PROPERTY(r == g + 127 && (r >> 8) == (g >> 8));
	PROPERTY(a.vifid == handle + 1 && a.vifid != 0);
	char name[32];
	if (a.vifid == 1)
		snprintf(name, sizeof(name), "dom%u", domid);
	else
		snprintf(name, sizeof(name), "dom%u-%u", domid, a.vifid);
	PROPERTY(!strcmp(a.hostname, name));
	/* The host name is also a valid name for the DHCP servers' files. */
	PROPERTY(strspn(a.hostname, "dom0123456789-") == strlen(a.hostname));
	if (!*ip) {
		/* 10.<domid/256>.<domid%256>.<handle+1>/16 */
		PROPERTY(domid <= 65535 && handle <= 127);
		PROPERTY(g == ((10u << 24) | (domid << 8) | (handle + 1)));
		PROPERTY(a.prefix == 16);
	} else {
		struct ip_prefix p;
		PROPERTY(parse_ip_prefix(ip, &p) == NULL && p.family == AF_INET);
		PROPERTY(p.addr.v4.s_addr == a.guest.s_addr && p.len == a.prefix);
		unsigned first = g >> 24;
		PROPERTY(first != 0 && first != 127 && first < 224);
	}
	free(ip);
	return 0;
}
