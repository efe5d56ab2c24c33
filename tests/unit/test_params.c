/*
 * Unit tests for common/params.c: argv/environment splitting and the validators that every
 * value from argv, the environment or xenstore passes through (SPEC §1).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include "params.h"

/* argv vectors are NULL-terminated compound literals; argc is counted from them. */
static int parse_vec(struct params *p, char *err, size_t errlen, char *argv[])
{
	int argc = 0;

	while (argv[argc])
		argc++;
	return params_parse(p, argc, argv, err, errlen);
}

#define PARSE(p, err, ...)                                                                         \
	parse_vec((p), (err), sizeof(err),                                                         \
		  (char *[]){"/etc/xen/scripts/vif-bridge", __VA_ARGS__, NULL})

static bool key_is(const struct param_kv *kv, const char *key)
{
	return kv->key_len == strlen(key) && !memcmp(kv->key, key, kv->key_len);
}

/* Validators are checked over tables; the failing input is named in the message. */
static void expect_ifname(const char *s, bool ok)
{
	const char *r = check_ifname(s);

	if ((r == NULL) != ok)
		fail_msg("check_ifname(\"%s\") %s", s, ok ? "rejected a valid name" : "accepted");
	if (r && !*r)
		fail_msg("check_ifname(\"%s\") returned an empty phrase", s);
}

/* ---- params_parse ---- */

static void test_parse_command_only(void **state)
{
	(void)state;
	struct params p;
	char err[256] = "";

	assert_int_equal(PARSE(&p, err, "online"), 0);
	assert_string_equal(p.command, "online");
	assert_string_equal(p.prog, "vif-bridge");
	assert_int_equal(p.n_args, 0);
	assert_false(p.help || p.version || p.verbose || p.dry_run || p.json);
}

static void test_parse_prog_name(void **state)
{
	(void)state;
	struct params p;
	char err[256] = "";
	char *plain[] = {"network-bridge", "start", NULL};
	char *none[] = {NULL};

	assert_int_equal(parse_vec(&p, err, sizeof(err), plain), 0);
	assert_string_equal(p.prog, "network-bridge");
	assert_string_equal(p.command, "start");

	/* argc 0 (execve with an empty argv) must not crash and still gives a name. */
	assert_int_equal(params_parse(&p, 0, none, err, sizeof(err)), 0);
	assert_non_null(p.prog);
	assert_true(p.prog[0] != '\0');
	assert_null(p.command);
}

static void test_parse_no_command(void **state)
{
	(void)state;
	struct params p;
	char err[256] = "";

	assert_int_equal(PARSE(&p, err, "bridge=xenbr0"), 0);
	assert_null(p.command);
	assert_int_equal(p.n_args, 1);
}

/* udev (xend era) puts the vif-script arguments before the action. */
static void test_parse_kv_before_command(void **state)
{
	(void)state;
	struct params p;
	char err[256] = "";

	assert_int_equal(PARSE(&p, err, "bridge=xenbr1", "mac=00:16:3e:00:00:01", "online"), 0);
	assert_string_equal(p.command, "online");
	assert_int_equal(p.n_args, 2);
	assert_true(key_is(&p.args[0], "bridge"));
	assert_string_equal(p.args[0].value, "xenbr1");
	assert_true(key_is(&p.args[1], "mac"));
	assert_string_equal(p.args[1].value, "00:16:3e:00:00:01");
}

/* xl puts type_if=tap after the action. */
static void test_parse_kv_after_command(void **state)
{
	(void)state;
	struct params p;
	char err[256] = "";

	assert_int_equal(PARSE(&p, err, "add", "type_if=tap"), 0);
	assert_string_equal(p.command, "add");
	assert_int_equal(p.n_args, 1);
	assert_true(key_is(&p.args[0], "type_if"));
	assert_string_equal(p.args[0].value, "tap");
}

static void test_parse_kv_both_sides(void **state)
{
	(void)state;
	struct params p;
	char err[256] = "";

	assert_int_equal(PARSE(&p, err, "netdev=eth1", "start", "bridge=xenbr1", "vifnum=1"), 0);
	assert_string_equal(p.command, "start");
	assert_int_equal(p.n_args, 3);
	assert_true(key_is(&p.args[0], "netdev"));
	assert_true(key_is(&p.args[1], "bridge"));
	assert_true(key_is(&p.args[2], "vifnum"));
	assert_string_equal(p.args[2].value, "1");
}

/* Only the first '=' splits; an empty value is a value. */
static void test_parse_kv_value_forms(void **state)
{
	(void)state;
	struct params p;
	char err[256] = "";

	assert_int_equal(PARSE(&p, err, "script=/etc/xen/a=b", "netdev=", "online"), 0);
	assert_int_equal(p.n_args, 2);
	assert_true(key_is(&p.args[0], "script"));
	assert_string_equal(p.args[0].value, "/etc/xen/a=b");
	assert_true(key_is(&p.args[1], "netdev"));
	assert_string_equal(p.args[1].value, "");
}

static void test_parse_options(void **state)
{
	(void)state;
	static const struct {
		const char *opt;
		size_t field; /* offsetof the bool it sets */
	} opts[] = {
	    {"-h", offsetof(struct params, help)},
	    {"--help", offsetof(struct params, help)},
	    {"--version", offsetof(struct params, version)},
	    {"-v", offsetof(struct params, verbose)},
	    {"--verbose", offsetof(struct params, verbose)},
	    {"-n", offsetof(struct params, dry_run)},
	    {"--dry-run", offsetof(struct params, dry_run)},
	    {"--json", offsetof(struct params, json)},
	};
	static const size_t all[] = {
	    offsetof(struct params, help),    offsetof(struct params, version),
	    offsetof(struct params, verbose), offsetof(struct params, dry_run),
	    offsetof(struct params, json),
	};

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		struct params p;
		char err[256] = "";
		char *argv[] = {"vif-bridge", (char *)opts[i].opt, "online", NULL};

		if (parse_vec(&p, err, sizeof(err), argv) != 0)
			fail_msg("option %s rejected: %s", opts[i].opt, err);
		assert_string_equal(p.command, "online");
		for (size_t f = 0; f < sizeof(all) / sizeof(all[0]); f++) {
			bool set = *(const bool *)((const char *)&p + all[f]);
			if (set != (all[f] == opts[i].field))
				fail_msg("option %s: wrong flag state at offset %zu", opts[i].opt,
					 all[f]);
		}
	}
}

/* Options may appear anywhere, also between and after key=value arguments. */
static void test_parse_options_anywhere(void **state)
{
	(void)state;
	struct params p;
	char err[256] = "";

	assert_int_equal(
	    PARSE(&p, err, "bridge=x", "-v", "online", "--dry-run", "mtu=9000", "--json"), 0);
	assert_string_equal(p.command, "online");
	assert_true(p.verbose);
	assert_true(p.dry_run);
	assert_true(p.json);
	assert_false(p.help);
	assert_false(p.version);
	assert_int_equal(p.n_args, 2);
	assert_true(key_is(&p.args[1], "mtu"));
}

static void test_parse_unknown_option(void **state)
{
	(void)state;
	static const char *const bad[] = {"-x",	      "--bogus",  "-",	      "--help=1",
					  "--versio", "-verbose", "-mtu=1500"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct params p;
		char err[256] = "";
		char *argv[] = {"vif-bridge", "online", (char *)bad[i], NULL};

		if (parse_vec(&p, err, sizeof(err), argv) != -1)
			fail_msg("unknown option %s accepted", bad[i]);
		if (!strstr(err, "unknown option") || !strstr(err, bad[i]))
			fail_msg("message for %s does not name it: %s", bad[i], err);
	}
}

/* An option full of control characters must not forge a second log line. */
static void test_parse_unknown_option_escaped(void **state)
{
	(void)state;
	struct params p;
	char err[256] = "";

	assert_int_equal(PARSE(&p, err, "-x\nvif-bridge: fake line\x1b[2J"), -1);
	assert_null(strchr(err, '\n'));
	assert_null(strchr(err, '\x1b'));
	assert_non_null(strstr(err, "\\x0a"));
	assert_non_null(strstr(err, "\\x1b"));
}

static void test_parse_second_bare_word(void **state)
{
	(void)state;
	struct params p;
	char err[256] = "";

	assert_int_equal(PARSE(&p, err, "online", "offline"), -1);
	assert_non_null(strstr(err, "offline"));
	assert_non_null(strstr(err, "online"));

	err[0] = '\0';
	assert_int_equal(PARSE(&p, err, "bridge=x", "online", "mtu=1500", "extra"), -1);
	assert_non_null(strstr(err, "extra"));
}

static void test_parse_empty_key(void **state)
{
	(void)state;
	struct params p;
	char err[256] = "";

	assert_int_equal(PARSE(&p, err, "online", "=value"), -1);
	assert_non_null(strstr(err, "=value"));
	assert_non_null(strstr(err, "invalid"));

	err[0] = '\0';
	assert_int_equal(PARSE(&p, err, "="), -1);
	assert_true(err[0] != '\0');
}

static void test_parse_max_args(void **state)
{
	(void)state;
	static char kv[PARAMS_MAX_ARGS + 1][16];
	char *argv[PARAMS_MAX_ARGS + 6];
	struct params p;
	char err[256] = "";
	int argc = 0;

	argv[argc++] = "vif-bridge";
	argv[argc++] = "-v";
	argv[argc++] = "online";
	for (int i = 0; i < PARAMS_MAX_ARGS; i++) {
		snprintf(kv[i], sizeof(kv[i]), "k%d=%d", i, i);
		argv[argc++] = kv[i];
	}
	argv[argc++] = "--json"; /* options do not count towards the limit */
	argv[argc] = NULL;

	assert_int_equal(params_parse(&p, argc, argv, err, sizeof(err)), 0);
	assert_int_equal(p.n_args, PARAMS_MAX_ARGS);
	assert_string_equal(p.args[PARAMS_MAX_ARGS - 1].value, "63");
	assert_true(p.json);

	/* One more key=value is too many. */
	snprintf(kv[PARAMS_MAX_ARGS], sizeof(kv[0]), "last=1");
	argv[argc++] = kv[PARAMS_MAX_ARGS];
	argv[argc] = NULL;
	assert_int_equal(params_parse(&p, argc, argv, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too many"));
	assert_true(p.n_args <= PARAMS_MAX_ARGS);
}

/* ---- params_get ---- */

static const char *const env_keys[] = {"xnh_test_bridge", "xnh_test_mtu", "xnh_test_b"};

static int unset_env(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(env_keys) / sizeof(env_keys[0]); i++)
		unsetenv(env_keys[i]);
	return 0;
}

static void test_get_arg_over_env(void **state)
{
	(void)state;
	struct params p;
	char err[256] = "";

	assert_int_equal(setenv("xnh_test_bridge", "from-env", 1), 0);
	assert_int_equal(
	    PARSE(&p, err, "xnh_test_bridge=first", "online", "xnh_test_bridge=second"), 0);
	assert_string_equal(params_get(&p, "xnh_test_bridge"), "second");
}

static void test_get_env_without_arg(void **state)
{
	(void)state;
	struct params p;
	char err[256] = "";

	assert_int_equal(setenv("xnh_test_bridge", "from-env", 1), 0);
	assert_int_equal(PARSE(&p, err, "online", "xnh_test_mtu=1500"), 0);
	assert_string_equal(params_get(&p, "xnh_test_bridge"), "from-env");
	assert_string_equal(params_get(&p, "xnh_test_mtu"), "1500");

	unsetenv("xnh_test_bridge");
	assert_null(params_get(&p, "xnh_test_bridge"));
}

/* An empty argument still overrides the environment (netdev= clears it). */
static void test_get_empty_arg_overrides_env(void **state)
{
	(void)state;
	struct params p;
	char err[256] = "";

	assert_int_equal(setenv("xnh_test_bridge", "from-env", 1), 0);
	assert_int_equal(PARSE(&p, err, "xnh_test_bridge=", "online"), 0);
	assert_string_equal(params_get(&p, "xnh_test_bridge"), "");
}

/* Keys match whole: neither a prefix nor an extension of the key matches. */
static void test_get_whole_key(void **state)
{
	(void)state;
	struct params p;
	char err[256] = "";

	assert_int_equal(setenv("xnh_test_b", "env-b", 1), 0);
	assert_int_equal(PARSE(&p, err, "xnh_test_bridge=arg", "online"), 0);
	assert_string_equal(params_get(&p, "xnh_test_b"), "env-b");
	assert_null(params_get(&p, "xnh_test_bridge2"));
	assert_null(params_get(&p, "xnh_test_brid"));
	assert_string_equal(params_get(&p, "xnh_test_bridge"), "arg");
}

/* ---- params_command_valid ---- */

static void test_command_valid(void **state)
{
	(void)state;
	static const char *const vif[] = {"online", "offline", "add", "remove", NULL};
	static const char *const none[] = {NULL};

	assert_true(params_command_valid("online", vif));
	assert_true(params_command_valid("offline", vif));
	assert_true(params_command_valid("add", vif));
	assert_true(params_command_valid("remove", vif));
	assert_false(params_command_valid(NULL, vif));
	assert_false(params_command_valid("", vif));
	assert_false(params_command_valid("start", vif));
	assert_false(params_command_valid("Online", vif));
	assert_false(params_command_valid("onlin", vif));
	assert_false(params_command_valid("online ", vif));
	assert_false(params_command_valid("onlinex", vif));
	assert_false(params_command_valid("online", none));
}

/* ---- check_ifname ---- */

static void test_ifname_valid(void **state)
{
	(void)state;
	static const char *const ok[] = {
	    "a",  "eth0", "xenbr0", "vif1.0", "vif1.0-emu", "br-lan_1", "abcdefghijklmno",
	    ".a", "...",  "a.",	    "tap@x",  "a..b",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		expect_ifname(ok[i], true);
}

static void test_ifname_invalid(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "",
	    "abcdefghijklmnop",
	    ".",
	    "..",
	    "/",
	    "a/b",
	    "../eth0",
	    "eth0:1",
	    "a b",
	    " eth0",
	    "eth0 ",
	    "a\tb",
	    "a\nb",
	    "a\rb",
	    "\x01",
	    "eth\x1b",
	    "a\x7f",
	    "a\vb",
	    "a\fb",
	    "eth0/",
	    "xenbr0;reboot ",
	    "-eth0",
	    "a%d",
	    "$(x)",
	    "`x`",
	    "a;b",
	    "a|b",
	    "a\xff",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_ifname(bad[i], false);
}

/* ---- parse_mtu ---- */

static void test_mtu_valid(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		unsigned v;
	} ok[] = {{"68", 68}, {"576", 576}, {"1500", 1500}, {"9000", 9000}, {"65535", 65535}};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		unsigned mtu = 0;
		if (parse_mtu(ok[i].s, &mtu))
			fail_msg("parse_mtu(\"%s\") rejected", ok[i].s);
		assert_int_equal(mtu, ok[i].v);
	}
}

static void test_mtu_invalid(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "0",      "67",	    "65536",
	    "",	      "+100",	    "0100",
	    "1500 ",  "abc",	    "99999999999999999999",
	    " 1500",  "-1500",	    "1500\n",
	    "15 00",  "1e3",	    "0x5dc",
	    "1500.0", "4294968796",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned mtu = 12345;
		const char *r = parse_mtu(bad[i], &mtu);
		if (!r)
			fail_msg("parse_mtu(\"%s\") accepted as %u", bad[i], mtu);
		assert_non_null(strstr(r, "68"));
		assert_non_null(strstr(r, "65535"));
	}
}

/* ---- parse_seconds ---- */

static void test_seconds_valid(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		unsigned long ms;
	} ok[] = {{"20", 20000},  {"1", 1000},	     {"0.5", 500},	    {"0.001", 1},
		  {"2.25", 2250}, {"3600", 3600000}, {"3599.999", 3599999}, {"10.0", 10000}};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		unsigned long ms = 0;
		if (parse_seconds(ok[i].s, &ms))
			fail_msg("parse_seconds(\"%s\") rejected", ok[i].s);
		assert_int_equal(ms, ok[i].ms);
	}
}

static void test_seconds_invalid(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "",	  "0",	"0.0",	"0.0001", "3600.001", "3601", "-1",  "+1",  "1e3",   "1.",
	    ".5", "01", "0x10", " 1",	  "1 ",	      "1,5",  "inf", "nan", "1.2.3", "99999999999",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned long ms = 12345;
		const char *r = parse_seconds(bad[i], &ms);
		if (!r)
			fail_msg("parse_seconds(\"%s\") accepted as %lu ms", bad[i], ms);
		assert_int_equal(ms, 12345);
		assert_non_null(strstr(r, "seconds"));
	}
}

/* ---- parse_mac ---- */

static void test_mac_valid(void **state)
{
	(void)state;
	uint8_t mac[6];
	static const uint8_t a[6] = {0x00, 0x16, 0x3e, 0x01, 0x02, 0x03};
	static const uint8_t b[6] = {0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
	static const uint8_t c[6] = {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff};

	assert_null(parse_mac("00:16:3e:01:02:03", mac));
	assert_memory_equal(mac, a, 6);
	assert_null(parse_mac("AA:BB:CC:DD:EE:FF", mac));
	assert_memory_equal(mac, b, 6);
	assert_null(parse_mac("aA:Bb:cC:dD:eE:Ff", mac));
	assert_memory_equal(mac, b, 6);
	assert_null(parse_mac("fe:ff:ff:ff:ff:ff", mac));
	assert_memory_equal(mac, c, 6);
}

static void test_mac_invalid(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "",
	    "00:16:3e:01:02",
	    "00:16:3e:01:02:03:04",
	    "00:16:3e:01:02:03:",
	    "0:16:3e:01:02:03",
	    "00:16:3e:01:02:3",
	    "00-16-3e-01-02-03",
	    "0016.3e01.0203",
	    "00163e010203",
	    "00:16:3e:01:02:0g",
	    "00:16:3e:01:02:03 ",
	    " 00:16:3e:01:02:03",
	    "001:6:3e:01:02:03",
	    "00:16:3e:01:02:03\n",
	    "00:16:3e::02:03",
	    "+0:16:3e:01:02:03",
	    "0x:16:3e:01:02:03",
	    "01:00:5e:00:00:01",
	    "ff:ff:ff:ff:ff:ff",
	    "00:00:00:00:00:00",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t mac[6];
		if (!parse_mac(bad[i], mac))
			fail_msg("parse_mac(\"%s\") accepted", bad[i]);
	}
}

/* ---- parse_id ---- */

static void test_id(void **state)
{
	(void)state;
	unsigned id = 99;
	static const char *const bad[] = {
	    "", "01", "-1", "+1", " 1", "1 ", "0x1", "1a", "1.0", "32752", "99999999999999999999"};

	assert_null(parse_id("0", 32751, &id));
	assert_int_equal(id, 0);
	assert_null(parse_id("7", 32751, &id));
	assert_int_equal(id, 7);
	assert_null(parse_id("32751", 32751, &id));
	assert_int_equal(id, 32751);
	assert_null(parse_id("65535", 65535, &id));
	assert_int_equal(id, 65535);
	assert_non_null(parse_id("65536", 65535, &id));
	assert_null(parse_id("4294967295", UINT_MAX, &id));
	assert_int_equal(id, UINT_MAX);
	assert_non_null(parse_id("4294967296", UINT_MAX, &id));
	assert_null(parse_id("0", 0, &id));
	assert_non_null(parse_id("1", 0, &id));

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!parse_id(bad[i], 32751, &id))
			fail_msg("parse_id(\"%s\") accepted as %u", bad[i], id);
}

/* ---- parse_ip_prefix ---- */

static void expect_prefix(const char *s, int family, unsigned len, const char *text)
{
	struct ip_prefix ip;
	char buf[64];
	const char *r = parse_ip_prefix(s, &ip);

	if (r)
		fail_msg("parse_ip_prefix(\"%s\") rejected: %s", s, r);
	if (ip.family != family || ip.len != len)
		fail_msg("parse_ip_prefix(\"%s\"): family %d len %u", s, ip.family, ip.len);
	ip_prefix_format(&ip, buf, sizeof(buf));
	if (strcmp(buf, text))
		fail_msg("parse_ip_prefix(\"%s\") formats as \"%s\", not \"%s\"", s, buf, text);
}

static void test_ip_prefix_valid(void **state)
{
	(void)state;
	expect_prefix("10.0.0.1", AF_INET, 32, "10.0.0.1/32");
	expect_prefix("10.0.0.0/24", AF_INET, 24, "10.0.0.0/24");
	expect_prefix("10.0.0.1/24", AF_INET, 24, "10.0.0.1/24");
	expect_prefix("0.0.0.0/0", AF_INET, 0, "0.0.0.0/0");
	expect_prefix("255.255.255.255/32", AF_INET, 32, "255.255.255.255/32");
	expect_prefix("2001:db8::1", AF_INET6, 128, "2001:db8::1/128");
	expect_prefix("2001:DB8::/64", AF_INET6, 64, "2001:db8::/64");
	expect_prefix("::/0", AF_INET6, 0, "::/0");
	expect_prefix("::1/128", AF_INET6, 128, "::1/128");
	expect_prefix("fe80::1/10", AF_INET6, 10, "fe80::1/10");
	expect_prefix("::ffff:1.2.3.4", AF_INET6, 128, "::ffff:1.2.3.4/128");
	/* The longest textual IPv6 address (45 bytes) still fits. */
	expect_prefix("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/96", AF_INET6, 96,
		      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/96");

	struct ip_prefix ip;
	assert_null(parse_ip_prefix("192.168.1.2/16", &ip));
	assert_int_equal(ntohl(ip.addr.v4.s_addr), 0xc0a80102);
}

static void test_ip_prefix_invalid(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "",
	    "/24",
	    "/",
	    "10.0.0.0/",
	    "10.0.0.0/33",
	    "10.0.0.0/99999999999999999999",
	    "10.0.0.0/-1",
	    "10.0.0.0/+8",
	    "10.0.0.0/08",
	    "10.0.0.0/24/1",
	    "10.0.0.0/24 ",
	    "10.0.0.0 /24",
	    " 10.0.0.1",
	    "10.0.0.1 ",
	    "10.0.0.300",
	    "10.0.0",
	    "10.0.0.0.1",
	    "010.0.0.1",
	    "0x0a.0.0.1",
	    "1.2.3.4;rm -rf /",
	    "1.2.3.4/24;reboot",
	    "$(reboot)",
	    "::/129",
	    "2001:db8::/1280",
	    "2001:db8:::1",
	    "2001:db8::g",
	    "fe80::1%eth0",
	    "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.2555",
	    "10.0.0.1\n",
	    "localhost",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ip_prefix ip;
		if (!parse_ip_prefix(bad[i], &ip))
			fail_msg("parse_ip_prefix(\"%s\") accepted", bad[i]);
	}
}

/* ---- parse_ip_list ---- */

static void test_ip_list_valid(void **state)
{
	(void)state;
	struct ip_prefix ips[IP_LIST_MAX];
	char buf[64];
	size_t n = 99;

	assert_null(parse_ip_list("10.0.0.1", ips, IP_LIST_MAX, &n));
	assert_int_equal(n, 1);

	assert_null(parse_ip_list("10.0.0.1 10.0.0.2/24\t2001:db8::1/64,192.168.0.0/16", ips,
				  IP_LIST_MAX, &n));
	assert_int_equal(n, 4);
	ip_prefix_format(&ips[0], buf, sizeof(buf));
	assert_string_equal(buf, "10.0.0.1/32");
	ip_prefix_format(&ips[1], buf, sizeof(buf));
	assert_string_equal(buf, "10.0.0.2/24");
	ip_prefix_format(&ips[2], buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8::1/64");
	ip_prefix_format(&ips[3], buf, sizeof(buf));
	assert_string_equal(buf, "192.168.0.0/16");

	/* Runs of separators and leading/trailing ones are fine. */
	assert_null(parse_ip_list(" ,\t10.0.0.1 ,, \t 10.0.0.2 ,", ips, IP_LIST_MAX, &n));
	assert_int_equal(n, 2);
}

static void test_ip_list_empty(void **state)
{
	(void)state;
	struct ip_prefix ips[2];
	size_t n = 99;

	assert_null(parse_ip_list("", ips, 2, &n));
	assert_int_equal(n, 0);
	n = 99;
	assert_null(parse_ip_list("  \t , ", ips, 2, &n));
	assert_int_equal(n, 0);
	n = 99;
	assert_null(parse_ip_list("", ips, 0, &n));
	assert_int_equal(n, 0);
}

static void test_ip_list_invalid(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "10.0.0.1 10.0.0.300",
	    "10.0.0.300 10.0.0.1",
	    "1.2.3.4;rm -rf /",
	    "10.0.0.1;10.0.0.2",
	    "10.0.0.1\n10.0.0.2",
	    "10.0.0.1 /24",
	    "10.0.0.1 10.0.0.0/33",
	    "10.0.0.1 ::/129",
	    "10.0.0.1 x",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ip_prefix ips[IP_LIST_MAX];
		size_t n;
		if (!parse_ip_list(bad[i], ips, IP_LIST_MAX, &n))
			fail_msg("parse_ip_list(\"%s\") accepted (%zu addresses)", bad[i], n);
	}
}

static void test_ip_list_too_many(void **state)
{
	(void)state;
	struct ip_prefix ips[IP_LIST_MAX + 1];
	char list[IP_LIST_MAX * 16 + 32] = "";
	size_t n;

	for (int i = 0; i < IP_LIST_MAX; i++) {
		char one[24];
		snprintf(one, sizeof(one), "%s10.0.0.%d", i ? " " : "", i + 1);
		strcat(list, one);
	}
	assert_null(parse_ip_list(list, ips, IP_LIST_MAX, &n));
	assert_int_equal(n, IP_LIST_MAX);

	/* One more: rejected, and nothing written past out[max - 1]. */
	strcat(list, ",10.0.0.200");
	memset(&ips[IP_LIST_MAX], 0xa5, sizeof(ips[0]));
	assert_non_null(parse_ip_list(list, ips, IP_LIST_MAX, &n));
	for (size_t b = 0; b < sizeof(ips[0]); b++)
		assert_int_equal(((unsigned char *)&ips[IP_LIST_MAX])[b], 0xa5);

	/* A smaller caller limit is honoured the same way. */
	memset(&ips[2], 0xa5, sizeof(ips[0]));
	assert_non_null(parse_ip_list("10.0.0.1 10.0.0.2 10.0.0.3", ips, 2, &n));
	for (size_t b = 0; b < sizeof(ips[0]); b++)
		assert_int_equal(((unsigned char *)&ips[2])[b], 0xa5);
	assert_null(parse_ip_list("10.0.0.1 10.0.0.2", ips, 2, &n));
	assert_int_equal(n, 2);
}

/* ---- parse_yesno ---- */

static void test_yesno(void **state)
{
	(void)state;
	static const char *const yes[] = {"yes", "1", "true", "on"};
	static const char *const no[] = {"no", "0", "false", "off"};
	static const char *const bad[] = {"", "maybe", "2", "yes ", " no", "y e s", "01"};
	bool v;

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		v = false;
		if (parse_yesno(yes[i], &v) || !v)
			fail_msg("parse_yesno(\"%s\") is not true", yes[i]);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		v = true;
		if (parse_yesno(no[i], &v) || v)
			fail_msg("parse_yesno(\"%s\") is not false", no[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!parse_yesno(bad[i], &v))
			fail_msg("parse_yesno(\"%s\") accepted", bad[i]);
}

/* ---- printable ---- */

static void test_printable_plain(void **state)
{
	(void)state;
	char buf[64];

	assert_string_equal(printable("xenbr0", buf, sizeof(buf)), "xenbr0");
	assert_string_equal(printable("", buf, sizeof(buf)), "");
	assert_string_equal(printable("a b'c\"~", buf, sizeof(buf)), "a b'c\"~");
}

static void test_printable_escapes(void **state)
{
	(void)state;
	char buf[64];

	assert_string_equal(printable("a\nb", buf, sizeof(buf)), "a\\x0ab");
	assert_string_equal(printable("\t\r\x1b\x7f", buf, sizeof(buf)), "\\x09\\x0d\\x1b\\x7f");
	assert_string_equal(printable("\xff\x80", buf, sizeof(buf)), "\\xff\\x80");
	/* Backslash is escaped too, so the output cannot be mistaken for an escape. */
	assert_string_equal(printable("a\\x0ab", buf, sizeof(buf)), "a\\x5cx0ab");
}

static void test_printable_truncates(void **state)
{
	(void)state;
	char longv[512];
	char buf[32];

	memset(longv, 'a', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	const char *r = printable(longv, buf, sizeof(buf));
	assert_true(strlen(r) < sizeof(buf));
	assert_true(strlen(r) > 3);
	assert_string_equal(r + strlen(r) - 3, "...");
	assert_int_equal(strspn(r, "a"), strlen(r) - 3);
}

/* Whatever the buffer size and input, output stays inside the buffer and is terminated. */
static void test_printable_bounds(void **state)
{
	(void)state;
	static const char *const inputs[] = {
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13",
	    "a\x01"
	    "b\x02"
	    "c\x03"
	    "d\x04"
	    "e\x05"
	    "f\x06"
	    "g\x07"
	    "h\x08"
	    "i\x0b"
	    "j\x0c"
	    "k\x0e"
	    "l\x0f",
	    "short",
	};

	for (size_t in = 0; in < sizeof(inputs) / sizeof(inputs[0]); in++) {
		for (size_t len = 0; len < 48; len++) {
			char area[64];
			memset(area, 'Z', sizeof(area));
			const char *r = printable(inputs[in], area, len);
			assert_non_null(r);
			if (len < 8) {
				/* Too small to say anything useful: an empty string. */
				assert_string_equal(r, "");
			} else {
				assert_ptr_equal(r, area);
				if (strnlen(area, len) >= len)
					fail_msg("input %zu len %zu: not terminated in buffer", in,
						 len);
			}
			for (size_t b = len; b < sizeof(area); b++)
				if (area[b] != 'Z')
					fail_msg("input %zu len %zu: wrote byte %zu", in, len, b);
			for (const char *c = r; *c; c++)
				if (*c < 0x20 || *c >= 0x7f)
					fail_msg("input %zu len %zu: unprintable output", in, len);
		}
	}
}

/* ---- params_invalid ---- */

static void test_params_invalid_format(void **state)
{
	(void)state;
	char err[256];

	params_invalid(err, sizeof(err), "mtu", "abc", "a decimal MTU from 68 to 65535");
	assert_string_equal(err, "invalid mtu 'abc': expected a decimal MTU from 68 to 65535");

	params_invalid(err, sizeof(err), "bridge", "br0\nfake: log line", "an interface name");
	assert_non_null(strstr(err, "bridge"));
	assert_non_null(strstr(err, "br0\\x0afake: log line"));
	assert_non_null(strstr(err, "expected an interface name"));
	assert_null(strchr(err, '\n'));
}

static void test_params_invalid_long_value(void **state)
{
	(void)state;
	char value[1024];
	char err[512];
	char small[24];

	memset(value, 'v', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	params_invalid(err, sizeof(err), "ip", value, "an address");
	assert_true(strncmp(err, "invalid ip 'vvv", 15) == 0);
	assert_non_null(strstr(err, "...': expected an address"));
	assert_true(strlen(err) < 200);

	/* A short error buffer is truncated, never overrun. */
	memset(small, 'Z', sizeof(small));
	params_invalid(small, 16, "ip", value, "an address");
	assert_int_equal(strlen(small), 15);
	for (size_t b = 16; b < sizeof(small); b++)
		assert_int_equal(small[b], 'Z');
}

/* ---- ip_prefix_format ---- */

static void test_ip_prefix_format(void **state)
{
	(void)state;
	struct ip_prefix ip;
	char buf[64];
	char small[12];

	memset(&ip, 0, sizeof(ip));
	ip.family = AF_INET;
	ip.len = 24;
	ip.addr.v4.s_addr = htonl(0xc0a80100);
	ip_prefix_format(&ip, buf, sizeof(buf));
	assert_string_equal(buf, "192.168.1.0/24");

	memset(&ip, 0, sizeof(ip));
	ip.family = AF_INET6;
	ip.len = 128;
	ip.addr.v6.s6_addr[15] = 1;
	ip_prefix_format(&ip, buf, sizeof(buf));
	assert_string_equal(buf, "::1/128");

	assert_null(parse_ip_prefix("2001:db8:0:0:1:0:0:1/48", &ip));
	ip_prefix_format(&ip, buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8::1:0:0:1/48");

	/* A short buffer is truncated and terminated. */
	memset(small, 'Z', sizeof(small));
	ip_prefix_format(&ip, small, 8);
	assert_string_equal(small, "2001:db");
	for (size_t b = 8; b < sizeof(small); b++)
		assert_int_equal(small[b], 'Z');
}

/* ---- parse_vif_name ---- */

static void expect_vif(const char *s, unsigned domid, unsigned devid, bool emu)
{
	unsigned d = 999999, i = 999999;
	bool e = !emu;
	const char *r = parse_vif_name(s, &d, &i, &e);

	if (r)
		fail_msg("parse_vif_name(\"%s\") rejected: %s", s, r);
	if (d != domid || i != devid || e != emu)
		fail_msg("parse_vif_name(\"%s\") gave %u.%u emu=%d", s, d, i, e);
}

static void test_vif_name_valid(void **state)
{
	(void)state;
	expect_vif("vif1.0", 1, 0, false);
	expect_vif("vif0.0", 0, 0, false);
	expect_vif("vif12.3", 12, 3, false);
	expect_vif("vif32751.65535", 32751, 65535, false);
	expect_vif("vif1.0-emu", 1, 0, true);
	expect_vif("vif7.12-emu", 7, 12, true);
	/* 15 bytes, the longest interface name, with the suffix. */
	expect_vif("vif123.4567-emu", 123, 4567, true);
	expect_vif("vif32751.65-emu", 32751, 65, true);
}

static void test_vif_name_invalid(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "",
	    "v",
	    "vif",
	    "vif1",
	    "vif1.",
	    "vif.0",
	    "vif.",
	    "vifa.0",
	    "vif1.b",
	    "vif01.0",
	    "vif1.00",
	    "vif+1.0",
	    "vif-1.0",
	    "vif1.-0",
	    "vif1.2.3",
	    "vif1.0-emu-emu",
	    "vif1.0emu",
	    "vif1.0-em",
	    "vif1.0-",
	    "vif-emu",
	    "vif.-emu",
	    "vif1-emu",
	    "VIF1.0",
	    "tap1.0",
	    "eth0",
	    "vif1.0 ",
	    " vif1.0",
	    "vif1.0\n",
	    "vif32752.0",
	    "vif1.65536",
	    "vif99999999999.0",
	    /* 18 bytes: longer than an interface name can be, so no such device. */
	    "vif32751.65535-emu",
	    "vif1234.5678-emu",
	    "vif1.0-emuxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned d, dev;
		bool emu;
		if (!parse_vif_name(bad[i], &d, &dev, &emu))
			fail_msg("parse_vif_name(\"%s\") accepted as %u.%u emu=%d", bad[i], d, dev,
				 emu);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_command_only),
	    cmocka_unit_test(test_parse_prog_name),
	    cmocka_unit_test(test_parse_no_command),
	    cmocka_unit_test(test_parse_kv_before_command),
	    cmocka_unit_test(test_parse_kv_after_command),
	    cmocka_unit_test(test_parse_kv_both_sides),
	    cmocka_unit_test(test_parse_kv_value_forms),
	    cmocka_unit_test(test_parse_options),
	    cmocka_unit_test(test_parse_options_anywhere),
	    cmocka_unit_test(test_parse_unknown_option),
	    cmocka_unit_test(test_parse_unknown_option_escaped),
	    cmocka_unit_test(test_parse_second_bare_word),
	    cmocka_unit_test(test_parse_empty_key),
	    cmocka_unit_test(test_parse_max_args),
	    cmocka_unit_test_setup_teardown(test_get_arg_over_env, unset_env, unset_env),
	    cmocka_unit_test_setup_teardown(test_get_env_without_arg, unset_env, unset_env),
	    cmocka_unit_test_setup_teardown(test_get_empty_arg_overrides_env, unset_env, unset_env),
	    cmocka_unit_test_setup_teardown(test_get_whole_key, unset_env, unset_env),
	    cmocka_unit_test(test_command_valid),
	    cmocka_unit_test(test_ifname_valid),
	    cmocka_unit_test(test_ifname_invalid),
	    cmocka_unit_test(test_mtu_valid),
	    cmocka_unit_test(test_mtu_invalid),
	    cmocka_unit_test(test_mac_valid),
	    cmocka_unit_test(test_mac_invalid),
	    cmocka_unit_test(test_id),
	    cmocka_unit_test(test_ip_prefix_valid),
	    cmocka_unit_test(test_ip_prefix_invalid),
	    cmocka_unit_test(test_ip_list_valid),
	    cmocka_unit_test(test_ip_list_empty),
	    cmocka_unit_test(test_ip_list_invalid),
	    cmocka_unit_test(test_ip_list_too_many),
	    cmocka_unit_test(test_yesno),
	    cmocka_unit_test(test_seconds_valid),
	    cmocka_unit_test(test_seconds_invalid),
	    cmocka_unit_test(test_printable_plain),
	    cmocka_unit_test(test_printable_escapes),
	    cmocka_unit_test(test_printable_truncates),
	    cmocka_unit_test(test_printable_bounds),
	    cmocka_unit_test(test_params_invalid_format),
	    cmocka_unit_test(test_params_invalid_long_value),
	    cmocka_unit_test(test_ip_prefix_format),
	    cmocka_unit_test(test_vif_name_valid),
	    cmocka_unit_test(test_vif_name_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
