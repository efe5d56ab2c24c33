/* Unit tests for vif-nat/nat-address.c: a NAT guest's address, router and host name (SPEC §5). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "vif-nat/nat-address.h"

static const unsigned domids[] = {0, 1, 2, 255, 256, 257, 300, 4095, 32767, 65534, 65535};
#define N_DOMIDS (sizeof(domids) / sizeof(domids[0]))

static void dotted(struct in_addr a, char *buf)
{
	inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* nat_address must succeed and give exactly these values. */
static void expect_ok(const char *ip, unsigned domid, unsigned handle, const char *guest,
		      unsigned prefix, const char *router, const char *hostname)
{
	struct nat_address a;
	char g[INET_ADDRSTRLEN], r[INET_ADDRSTRLEN];
	const char *e = nat_address(ip, domid, handle, &a);

	if (e)
		fail_msg("nat_address(\"%s\", %u, %u) refused: %s", ip ? ip : "(null)", domid,
			 handle, e);
	dotted(a.guest, g);
	dotted(a.router, r);
	if (strcmp(g, guest) || a.prefix != prefix || strcmp(r, router) ||
	    strcmp(a.hostname, hostname) || a.vifid != handle + 1)
		fail_msg("nat_address(\"%s\", %u, %u) = %s/%u router %s host %s vifid %u; "
			 "expected %s/%u router %s host %s vifid %u",
			 ip ? ip : "(null)", domid, handle, g, a.prefix, r, a.hostname, a.vifid,
			 guest, prefix, router, hostname, handle + 1);
}

/* nat_address must refuse, with a phrase that contains want (a phrase, not an empty string). */
static void expect_refused(const char *ip, unsigned domid, unsigned handle, const char *want)
{
	struct nat_address a;
	const char *e = nat_address(ip, domid, handle, &a);

	if (!e) {
		char g[INET_ADDRSTRLEN], r[INET_ADDRSTRLEN];
		dotted(a.guest, g);
		dotted(a.router, r);
		fail_msg("nat_address(\"%s\", %u, %u) accepted: %s/%u router %s",
			 ip ? ip : "(null)", domid, handle, g, a.prefix, r);
	}
	if (strlen(e) < 10 || !strstr(e, want))
		fail_msg("nat_address(\"%s\", %u, %u): phrase \"%s\" does not say \"%s\"",
			 ip ? ip : "(null)", domid, handle, e, want);
}

/* 10.<domid/256>.<domid%256>.<handle+1>/16 for every domid in the table and every handle whose
 * router (+127) still fits in the last octet: handles 0..127. */
static void test_derived_every_handle(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_DOMIDS; i++) {
		unsigned d = domids[i];
		for (unsigned h = 0; h <= 127; h++) {
			char guest[32], router[32], host[32];
			snprintf(guest, sizeof(guest), "10.%u.%u.%u", d / 256, d % 256, h + 1);
			snprintf(router, sizeof(router), "10.%u.%u.%u", d / 256, d % 256, h + 128);
			if (h == 0)
				snprintf(host, sizeof(host), "dom%u", d);
			else
				snprintf(host, sizeof(host), "dom%u-%u", d, h + 1);
			expect_ok(NULL, d, h, guest, 16, router, host);
			expect_ok("", d, h, guest, 16, router, host);
		}
	}
}

/* Values written out by hand, so that the table above is not checked only against itself. */
static void test_derived_examples(void **state)
{
	(void)state;
	expect_ok(NULL, 0, 0, "10.0.0.1", 16, "10.0.0.128", "dom0");
	expect_ok(NULL, 1, 0, "10.0.1.1", 16, "10.0.1.128", "dom1");
	expect_ok(NULL, 1, 1, "10.0.1.2", 16, "10.0.1.129", "dom1-2");
	expect_ok(NULL, 255, 0, "10.0.255.1", 16, "10.0.255.128", "dom255");
	expect_ok(NULL, 256, 0, "10.1.0.1", 16, "10.1.0.128", "dom256");
	expect_ok(NULL, 300, 2, "10.1.44.3", 16, "10.1.44.130", "dom300-3");
	expect_ok(NULL, 32767, 0, "10.127.255.1", 16, "10.127.255.128", "dom32767");
	expect_ok(NULL, 65535, 127, "10.255.255.128", 16, "10.255.255.255", "dom65535-128");
}

/*
 * Debian's vif-nat adds 127 to the last octet with awk and never checks it: handle 128 gives a
 * router 10.0.0.256, handle 255 a guest 10.0.0.256, handle 299 a router .427.  Ours refuses.
 */
static void test_derived_router_past_255_refused(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_DOMIDS; i++)
		for (unsigned h = 128; h <= 300; h++)
			expect_refused(NULL, domids[i], h, "handle");
	expect_refused(NULL, 1, 65535, "handle");
	expect_refused(NULL, 1, 4294967294u, "handle");
	/* handle + 1 must not wrap to 0 and produce 10.0.1.0 with host name dom1. */
	expect_refused(NULL, 1, 4294967295u, "handle");
	expect_refused("", 5, 255, "handle");
}

/* The script would make 10.256.0.1 of domain 65536; a domain id has 16 bits. */
static void test_derived_domid_too_big(void **state)
{
	(void)state;
	expect_refused(NULL, 65536, 0, "domain id");
	expect_refused(NULL, 70000, 0, "domain id");
	expect_refused(NULL, 4294967295u, 0, "domain id");
}

static void test_given_ip(void **state)
{
	(void)state;
	/* Without a prefix: the address alone (/32); with one: that prefix. */
	expect_ok("10.0.0.5", 3, 0, "10.0.0.5", 32, "10.0.0.132", "dom3");
	expect_ok("10.0.0.5/32", 3, 0, "10.0.0.5", 32, "10.0.0.132", "dom3");
	expect_ok("10.0.0.5/16", 3, 0, "10.0.0.5", 16, "10.0.0.132", "dom3");
	expect_ok("192.168.7.20/24", 12, 1, "192.168.7.20", 24, "192.168.7.147", "dom12-2");
	expect_ok("172.16.3.9/0", 9, 0, "172.16.3.9", 0, "172.16.3.136", "dom9");
	/* Host bits are the guest's address, never masked away. */
	expect_ok("10.9.8.7/8", 70, 0, "10.9.8.7", 8, "10.9.8.134", "dom70");
	/* The boundary: .128 gives the router .255, .0 gives .127. */
	expect_ok("10.0.0.128", 1, 0, "10.0.0.128", 32, "10.0.0.255", "dom1");
	expect_ok("10.0.0.128/16", 1, 0, "10.0.0.128", 16, "10.0.0.255", "dom1");
	expect_ok("10.0.1.0/16", 1, 0, "10.0.1.0", 16, "10.0.1.127", "dom1");
	/* A given address does not depend on the domain id: no 16-bit limit there. */
	expect_ok("10.0.0.9", 70000, 0, "10.0.0.9", 32, "10.0.0.136", "dom70000");
}

/* With an address given, the handle only names the host: the last octet is the ip's. */
static void test_given_ip_any_handle(void **state)
{
	(void)state;
	expect_ok("10.0.0.9", 4, 127, "10.0.0.9", 32, "10.0.0.136", "dom4-128");
	expect_ok("10.0.0.9", 4, 254, "10.0.0.9", 32, "10.0.0.136", "dom4-255");
	expect_ok("10.0.0.9", 4, 255, "10.0.0.9", 32, "10.0.0.136", "dom4-256");
	expect_ok("10.0.0.9", 65535, 65535, "10.0.0.9", 32, "10.0.0.136", "dom65535-65536");
	expect_refused("10.0.0.9", 4, 4294967295u, "handle");
}

/* Where the script's awk prints .256 to .382, ours refuses. */
static void test_given_ip_router_past_255_refused(void **state)
{
	(void)state;
	expect_refused("10.0.0.129", 1, 0, "last octet");
	expect_refused("10.0.0.129/16", 1, 0, "last octet");
	expect_refused("10.0.0.200/24", 1, 0, "last octet");
	expect_refused("10.0.0.255", 1, 0, "last octet");
	expect_refused("192.168.1.254/24", 1, 0, "last octet");
}

static void test_given_ip_invalid(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "2001:db8::1", "2001:db8::/64",   "::ffff:10.0.0.1", "garbage",
	    "10.0.0",	   "10.0.0.1.2",      "10.0.0.256",	 "010.0.0.1",
	    "10.0.0.1/33", "10.0.0.1/",	      "10.0.0.1/-1",	 "10.0.0.1/016",
	    "/16",	   " 10.0.0.1",	      "10.0.0.1 ",	 "10.0.0.1 10.0.0.2",
	    "10.0.0.1\n",  "10.0.0.1;reboot",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_refused(bad[i], 1, 0, "IPv4");
}

/* A guest address the kernel would route elsewhere or nowhere is not a guest's. */
static void test_given_ip_not_unicast(void **state)
{
	(void)state;
	expect_refused("0.0.0.0", 1, 0, "unicast");
	expect_refused("0.1.2.3/8", 1, 0, "unicast");
	expect_refused("127.0.0.1", 1, 0, "unicast");
	expect_refused("127.1.2.3/8", 1, 0, "unicast");
	expect_refused("224.0.0.1", 1, 0, "unicast");
	expect_refused("239.255.255.100", 1, 0, "unicast");
	expect_refused("240.0.0.1", 1, 0, "unicast");
	expect_ok("1.2.3.4", 1, 0, "1.2.3.4", 32, "1.2.3.131", "dom1");
	expect_ok("223.255.255.1", 1, 0, "223.255.255.1", 32, "223.255.255.128", "dom1");
}

/* The host name is what both DHCP servers see; the longest one still fits. */
static void test_hostname(void **state)
{
	(void)state;
	struct nat_address a;

	assert_null(nat_address("10.0.0.9", 4294967295u, 4294967294u, &a));
	assert_string_equal(a.hostname, "dom4294967295-4294967295");
	assert_null(nat_address(NULL, 7, 0, &a));
	assert_string_equal(a.hostname, "dom7");
	assert_int_equal(a.vifid, 1);
	assert_null(nat_address(NULL, 7, 9, &a));
	assert_string_equal(a.hostname, "dom7-10");
	assert_int_equal(a.vifid, 10);
}

/* A refusal leaves nothing in out that a careless caller could use as an address. */
static void test_refusal_clears_output(void **state)
{
	(void)state;
	struct nat_address a;

	memset(&a, 0xa5, sizeof(a));
	assert_non_null(nat_address("10.0.0.200", 1, 0, &a));
	assert_int_equal(a.guest.s_addr, 0);
	assert_int_equal(a.router.s_addr, 0);
	assert_string_equal(a.hostname, "");
	memset(&a, 0xa5, sizeof(a));
	assert_non_null(nat_address(NULL, 1, 200, &a));
	assert_int_equal(a.guest.s_addr, 0);
	assert_int_equal(a.router.s_addr, 0);
	assert_string_equal(a.hostname, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_derived_every_handle),
	    cmocka_unit_test(test_derived_examples),
	    cmocka_unit_test(test_derived_router_past_255_refused),
	    cmocka_unit_test(test_derived_domid_too_big),
	    cmocka_unit_test(test_given_ip),
	    cmocka_unit_test(test_given_ip_any_handle),
	    cmocka_unit_test(test_given_ip_router_past_255_refused),
	    cmocka_unit_test(test_given_ip_invalid),
	    cmocka_unit_test(test_given_ip_not_unicast),
	    cmocka_unit_test(test_hostname),
	    cmocka_unit_test(test_refusal_clears_output),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
