/* Unit tests for common/sysctl.c's names: keys of both trees, their files and sysctl(8) names. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "sysctl.h"

/* A key's file and the name sysctl(8) gives it. */
static void expect_names(const char *key, const char *path, const char *name)
{
	char p[SYSCTL_PATH_MAX], n[SYSCTL_NAME_MAX];
	assert_string_equal(sysctl_path(key, p), path);
	assert_string_equal(sysctl_name(key, n), name);
}

/* IPv4 keys keep the form earlier state files hold: relative to net/ipv4. */
static void test_ipv4_keys(void **state)
{
	(void)state;
	expect_names("ip_forward", "/proc/sys/net/ipv4/ip_forward", "net.ipv4.ip_forward");
	char key[SYSCTL_KEY_MAX];
	sysctl_conf_key(key, "vif1.0", "proxy_arp");
	assert_string_equal(key, "conf/vif1.0/proxy_arp");
	expect_names(key, "/proc/sys/net/ipv4/conf/vif1.0/proxy_arp",
		     "net.ipv4.conf.vif1/0.proxy_arp");
}

static void test_ipv6_keys(void **state)
{
	(void)state;
	char key[SYSCTL_KEY_MAX];
	sysctl_conf6_key(key, "eth0", "proxy_ndp");
	assert_string_equal(key, "ipv6/conf/eth0/proxy_ndp");
	expect_names(key, "/proc/sys/net/ipv6/conf/eth0/proxy_ndp", "net.ipv6.conf.eth0.proxy_ndp");
	expect_names("ipv6/conf/all/forwarding", "/proc/sys/net/ipv6/conf/all/forwarding",
		     "net.ipv6.conf.all.forwarding");
	/* The longest interface name and setting fit, uncut. */
	sysctl_conf6_key(key, "abcdefghijklmno", "accept_ra");
	expect_names(key, "/proc/sys/net/ipv6/conf/abcdefghijklmno/accept_ra",
		     "net.ipv6.conf.abcdefghijklmno.accept_ra");
}

/* A key that would climb out of the tree opens nothing. */
static void test_bad_keys(void **state)
{
	(void)state;
	char value[SYSCTL_VALUE_MAX];
	assert_int_equal(sysctl_get("../../../etc/passwd", value, sizeof(value)), -EINVAL);
	assert_int_equal(sysctl_get("ipv6/../../etc/passwd", value, sizeof(value)), -EINVAL);
	assert_int_equal(sysctl_get("/etc/passwd", value, sizeof(value)), -EINVAL);
	assert_int_equal(sysctl_get("", value, sizeof(value)), -EINVAL);
	assert_false(sysctl_on("../../../etc/passwd"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ipv4_keys),
	    cmocka_unit_test(test_ipv6_keys),
	    cmocka_unit_test(test_bad_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
