/*
 * Unit tests for common/vlan.c: the grammar of libxl's vlan node (xl-network-configuration(5),
 * as Xen's own hotplug scripts read it) and the canonical form it is shown in.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "vlan.h"

/* "10p/20u/30" style: every member with its flag, the PVID marked. */
static void members(const struct vlan_set *s, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = '\0';
	for (unsigned v = 1; v <= VLAN_ID_MAX && o + 16 < len; v++)
		if (vlan_has(s, v))
			o += (size_t)snprintf(buf + o, len - o, "%s%u%s", o ? "/" : "", v,
					      v == s->pvid	       ? "p"
					      : vlan_is_untagged(s, v) ? "u"
								       : "");
}

static void expect_ok(const char *spec, const char *want, unsigned count)
{
	struct vlan_set s;
	char why[512], got[4096];
	const char *e = vlan_parse(spec, &s, why, sizeof(why));
	if (e)
		fail_msg("vlan_parse(\"%s\") refused: %s", spec, e);
	members(&s, got, sizeof(got));
	if (want && strcmp(got, want))
		fail_msg("vlan_parse(\"%s\") gave %s, expected %s", spec, got, want);
	if (s.count != count)
		fail_msg("vlan_parse(\"%s\") counted %u, expected %u", spec, s.count, count);
	/* The PVID leaves the port untagged (Np implies u). */
	assert_true(vlan_is_untagged(&s, s.pvid));
}

/* Refused, and the message says the expected grammar and the given words. */
static void expect_bad(const char *spec, const char *word)
{
	struct vlan_set s;
	char why[512];
	const char *e = vlan_parse(spec, &s, why, sizeof(why));
	if (!e)
		fail_msg("vlan_parse(\"%s\") accepted", spec);
	if (!strstr(e, "VLAN IDs from 1 to 4094"))
		fail_msg("vlan_parse(\"%s\"): message without the grammar: %s", spec, e);
	if (word && !strstr(e, word))
		fail_msg("vlan_parse(\"%s\"): '%s' not in: %s", spec, word, e);
	for (const char *c = e; *c; c++)
		if (*c < 0x20 || *c >= 0x7f)
			fail_msg("vlan_parse(\"%s\"): unprintable byte in the message", spec);
}

static void expect_bad(const char *spec, const char *word);

static void test_single_id_is_pvid(void **state)
{
	(void)state;
	expect_ok("10", "10p", 1);
	expect_ok("10p", "10p", 1);
	expect_ok("10u", "10p", 1);
	expect_ok("1", "1p", 1);
	expect_ok("4094", "4094p", 1);
	/* One ID however written. */
	expect_ok("7-7", "7p", 1);
	expect_ok("7+3x1", "7p", 1);
}

static void test_examples_of_the_manual(void **state)
{
	(void)state;
	expect_ok("10p/20", "10p/20", 2);
	/* Count C means C IDs: Xen's own parser (xen-network-common.sh) counts so. */
	expect_ok("10p/100+10x4", "10p/100/110/120/130", 5);
	expect_ok("1p/10-15/20-25u", NULL, 13);
	expect_ok("20/10p", "10p/20", 2);
}

static void test_flags(void **state)
{
	(void)state;
	expect_ok("10p/20u/30", "10p/20u/30", 3);
	expect_ok("5-7u/9p", "5u/6u/7u/9p", 4);
	expect_ok("100+2x3u/1p", "1p/100u/102u/104u", 4);
	expect_ok("10p/11-12", "10p/11/12", 3);
	/* A step of 0 with one ID is that ID. */
	expect_ok("30+0x1/10p", "10p/30", 2);
}

static void test_whole_range(void **state)
{
	(void)state;
	expect_ok("1-4093/4094p", NULL, 4094);
	expect_ok("1p/2-4094u", NULL, 4094);
	expect_bad("1-4094", "no ID is the PVID");
}

static void test_out_of_range(void **state)
{
	(void)state;
	expect_bad("0", "0 is no VLAN ID");
	expect_bad("4095", "above 4094");
	expect_bad("10p/4095", "above 4094");
	expect_bad("99999999999999999999", "above 4094");
	expect_bad("4090-4095/1p", "above 4094");
	expect_bad("0-3/5p", "0 is no VLAN ID");
	expect_bad("100+1000x5/1p", "go past 4094");
	expect_bad("4000+100x2/1p", "go past 4094");
	expect_bad("1+4095x4095/2p", "go past 4094");
}

static void test_pvid_rules(void **state)
{
	(void)state;
	expect_bad("10p/20p", "two PVIDs");
	expect_bad("10/20", "no ID is the PVID");
	expect_bad("10-12", "no ID is the PVID");
	expect_bad("100+10x4", "no ID is the PVID");
	expect_bad("10p/10p", "two PVIDs");
}

static void test_duplicates(void **state)
{
	(void)state;
	expect_bad("10p/10", "VLAN 10 is given twice");
	expect_bad("10p/5-15", "VLAN 10 is given twice");
	expect_bad("1p/5-10/8-12", "VLAN 8 is given twice");
	expect_bad("1p/100+0x2", "VLAN 100 is given twice");
	expect_bad("1p/10+10x3/30", "VLAN 30 is given twice");
}

static void test_syntax(void **state)
{
	(void)state;
	expect_bad("", "empty");
	expect_bad("10/", "a term is empty");
	expect_bad("/10", "a term is empty");
	expect_bad("10p//20", "a term is empty");
	expect_bad("abc", "'abc'");
	expect_bad("10pu", "'10pu'");
	expect_bad("10up", "'10up'");
	expect_bad("10p/20x", "'20x'");
	expect_bad("010", "'010'");
	expect_bad("10p/20-", "'20-'");
	expect_bad("10p/-20", "'-20'");
	expect_bad("10p/20-30p", "'20-30p'");
	expect_bad("10p/+5", "'+5'");
	expect_bad("10p/100+10", "'100+10'");
	expect_bad("10p/100+10x", "'100+10x'");
	expect_bad("10p/100+x3", "'100+x3'");
	expect_bad("10p/100+10x0", "counts no ID");
	expect_bad("30-20/1p", "runs backwards");
	expect_bad(" 10", NULL);
	expect_bad("10 ", NULL);
	expect_bad("10,20", NULL);
	expect_bad("10p;20", NULL);
	expect_bad("1\n0", NULL);
	expect_bad("10\xff", NULL);
	expect_bad("$(touch x)", NULL);
}

static void test_format_round_trip(void **state)
{
	(void)state;
	static const char *const specs[] = {
	    "10",	 "10p/20",	 "10p/100+10x4", "1p/10-15/20-25u", "5-7u/9p/8u",
	    "3/1-2u/4p", "1-4093/4094p", "2-4094u/1p",	 "4094p/1-4093u",   "100p/99/101"};
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		struct vlan_set a, b;
		char why[512], text[4096];
		assert_null(vlan_parse(specs[i], &a, why, sizeof(why)));
		vlan_format(&a, text, sizeof(text));
		if (vlan_parse(text, &b, why, sizeof(why)) || !vlan_equal(&a, &b))
			fail_msg("%s formats as %s, which does not read back the same", specs[i],
				 text);
	}
	struct vlan_set s;
	char why[512], text[64];
	assert_null(vlan_parse("10p/100+10x4", &s, why, sizeof(why)));
	vlan_format(&s, text, sizeof(text));
	assert_string_equal(text, "10p/100/110/120/130");
	assert_null(vlan_parse("5-7u/9p/8u/10", &s, why, sizeof(why)));
	vlan_format(&s, text, sizeof(text));
	assert_string_equal(text, "5-8u/9p/10");
	/* Too short a buffer: truncated, marked, terminated. */
	assert_null(vlan_parse("1p/3/5/7/9/11/13/15/17/19", &s, why, sizeof(why)));
	vlan_format(&s, text, 12);
	assert_true(strlen(text) < 12);
	assert_non_null(strstr(text, "..."));
	memset(&s, 0, sizeof(s));
	vlan_format(&s, text, sizeof(text));
	assert_string_equal(text, "none");
}

static void test_put_and_equal(void **state)
{
	(void)state;
	struct vlan_set a, b;
	char why[512];
	assert_null(vlan_parse("10p/20", &a, why, sizeof(why)));
	b = a;
	assert_true(vlan_equal(&a, &b));
	vlan_put(&b, 20, true, true);
	assert_false(vlan_equal(&a, &b));
	assert_int_equal(b.count, 2);
	vlan_put(&b, 20, false, false);
	assert_int_equal(b.count, 1);
	assert_false(vlan_has(&b, 20));
	/* Out of range: ignored. */
	vlan_put(&b, 0, true, true);
	vlan_put(&b, 4095, true, true);
	assert_int_equal(b.count, 1);
	assert_false(vlan_has(&b, 0) || vlan_has(&b, 4095));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_single_id_is_pvid),
	    cmocka_unit_test(test_examples_of_the_manual),
	    cmocka_unit_test(test_flags),
	    cmocka_unit_test(test_whole_range),
	    cmocka_unit_test(test_out_of_range),
	    cmocka_unit_test(test_pvid_rules),
	    cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_syntax),
	    cmocka_unit_test(test_format_round_trip),
	    cmocka_unit_test(test_put_and_equal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
