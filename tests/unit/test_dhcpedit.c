/* Unit tests for common/dhcpedit.c: the edits of dhcpd.conf, dhcpd's defaults and dnsmasq's hosts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dhcpedit.h"

/* got must be want exactly; got is freed either way. */
static void expect_text_at(char *got, const char *why, const char *want, const char *call, int line)
{
	if (!got)
		fail_msg("line %d: %s refused: %s", line, call, why ? why : "(no reason)");
	if (strcmp(got, want)) {
		print_error("line %d: %s\n--- got:\n%s\n--- expected:\n%s\n---\n", line, call, got,
			    want);
		free(got);
		fail_msg("line %d: %s: wrong text", line, call);
	}
	free(got);
}

/* The edit must be refused with a reason that contains phrase. */
static void expect_refused_at(char *got, const char *why, const char *phrase, const char *call,
			      int line)
{
	if (got) {
		print_error("line %d: %s accepted:\n%s\n", line, call, got);
		free(got);
		fail_msg("line %d: %s should have been refused", line, call);
	}
	if (!why || !strstr(why, phrase))
		fail_msg("line %d: %s: reason \"%s\" does not say \"%s\"", line, call,
			 why ? why : "(null)", phrase);
}

#define EXPECT(call, want)                                                                         \
	do {                                                                                       \
		const char *why = NULL;                                                            \
		char *got_ = call;                                                                 \
		expect_text_at(got_, why, want, #call, __LINE__);                                  \
	} while (0)

#define REFUSED(call, phrase)                                                                      \
	do {                                                                                       \
		const char *why = NULL;                                                            \
		char *got_ = call;                                                                 \
		expect_refused_at(got_, why, phrase, #call, __LINE__);                             \
	} while (0)

/* ---------------------------------------------------------------- dhcpd.conf */

#define HOST_DOM1                                                                                  \
	"host dom1 { hardware ethernet 00:16:3e:aa:bb:cc; fixed-address 10.0.1.1; option routers " \
	"10.0.1.128; option host-name \"dom1\"; }"
#define HOST_DOM1_OLD                                                                              \
	"host dom1 { hardware ethernet 00:16:3e:00:00:01; fixed-address 10.0.1.1; option routers " \
	"10.0.1.128; option host-name \"dom1\"; }"

/* What an administrator's dhcpd.conf looks like around the lines vif-nat writes. */
#define CONF_ADMIN                                                                                 \
	"# dhcpd.conf for the lab\n"                                                               \
	"option domain-name \"lab.example\";\n"                                                    \
	"default-lease-time 600;\n"                                                                \
	"\n"                                                                                       \
	"subnet 10.0.0.0 netmask 255.255.0.0 {}\n"                                                 \
	"host dom10 { hardware ethernet 00:16:3e:00:00:10; fixed-address 10.0.10.1; }\n"           \
	"host printer {\n"                                                                         \
	"\thardware ethernet 00:11:22:33:44:55;\n"                                                 \
	"\tfixed-address 192.168.1.9;\n"                                                           \
	"\toption host-name \"dom1\";   # named after the first guest\n"                           \
	"}\n"                                                                                      \
	"host dom1-2 { hardware ethernet 00:16:3e:00:01:02; fixed-address 10.0.1.2; }\n"           \
	"host dom1.lab { hardware ethernet 00:16:3e:00:01:03; }\n"                                 \
	"  # host dom1 { hardware ethernet 00:16:3e:00:00:99; }  (retired)\n"                      \
	"option routers-of-host dom1;\n"

static void test_isc_remove_keeps_everything_else(void **state)
{
	(void)state;
	EXPECT(dhcpedit_isc_host(CONF_ADMIN HOST_DOM1_OLD "\n", "dom1", NULL, &why), CONF_ADMIN);
	/* In the middle too, and the lines after it survive. */
	EXPECT(dhcpedit_isc_host("a;\n" HOST_DOM1_OLD "\n" CONF_ADMIN, "dom1", NULL, &why),
	       "a;\n" CONF_ADMIN);
	/* Nothing of ours: unchanged, byte for byte. */
	EXPECT(dhcpedit_isc_host(CONF_ADMIN, "dom1", NULL, &why), CONF_ADMIN);
}

/* Debian's script removes every line containing "host dom1", and so dom10 and dom1-2 too. */
static void test_isc_name_prefix_not_ours(void **state)
{
	(void)state;
	EXPECT(dhcpedit_isc_host(CONF_ADMIN, "dom1", HOST_DOM1, &why), CONF_ADMIN HOST_DOM1 "\n");
	EXPECT(dhcpedit_isc_host("host dom10 { }\nhost dom100 { }\n", "dom10", NULL, &why),
	       "host dom100 { }\n");
	EXPECT(dhcpedit_isc_host("host dom1-2 { }\nhost dom1 { }\n", "dom1-2", NULL, &why),
	       "host dom1 { }\n");
}

static void test_isc_add_replaces(void **state)
{
	(void)state;
	EXPECT(dhcpedit_isc_host(CONF_ADMIN HOST_DOM1_OLD "\n", "dom1", HOST_DOM1, &why),
	       CONF_ADMIN HOST_DOM1 "\n");
	/* Two stale declarations (an old bug, or a hand edit): both go, one line comes. */
	EXPECT(dhcpedit_isc_host(HOST_DOM1_OLD "\n" CONF_ADMIN HOST_DOM1_OLD "\n", "dom1",
				 HOST_DOM1, &why),
	       CONF_ADMIN HOST_DOM1 "\n");
}

/* online twice writes the same file: no duplicate, and no move that would rewrite the file. */
static void test_isc_add_idempotent(void **state)
{
	(void)state;
	const char *why = NULL;
	char *once = dhcpedit_isc_host(CONF_ADMIN, "dom1", HOST_DOM1, &why);
	assert_non_null(once);
	EXPECT(dhcpedit_isc_host(once, "dom1", HOST_DOM1, &why), CONF_ADMIN HOST_DOM1 "\n");
	free(once);
	EXPECT(dhcpedit_isc_host("a;\n" HOST_DOM1 "\nb;\n", "dom1", HOST_DOM1, &why),
	       "a;\n" HOST_DOM1 "\nb;\n");
	/* The same line twice: the first stays where it is. */
	EXPECT(dhcpedit_isc_host("a;\n" HOST_DOM1 "\nb;\n" HOST_DOM1 "\n", "dom1", HOST_DOM1, &why),
	       "a;\n" HOST_DOM1 "\nb;\n");
	/* The same line beside another declaration of the host: that one goes. */
	EXPECT(dhcpedit_isc_host(HOST_DOM1_OLD "\na;\n" HOST_DOM1 "\n", "dom1", HOST_DOM1, &why),
	       "a;\n" HOST_DOM1 "\n");
	/* Trailing blanks are not a difference. */
	EXPECT(dhcpedit_isc_host("a;\n" HOST_DOM1 "  \nb;\n", "dom1", HOST_DOM1, &why),
	       "a;\n" HOST_DOM1 "  \nb;\n");
}

static void test_isc_quoted_name(void **state)
{
	(void)state;
	EXPECT(dhcpedit_isc_host("a;\nhost \"dom1\" { hardware ethernet 00:16:3e:00:00:01; }\nb;\n",
				 "dom1", NULL, &why),
	       "a;\nb;\n");
	EXPECT(dhcpedit_isc_host("host \"dom10\" { }\nhost \"dom1-2\" { }\n", "dom1", NULL, &why),
	       "host \"dom10\" { }\nhost \"dom1-2\" { }\n");
	EXPECT(dhcpedit_isc_host("host \"dom1\"{ }\n", "dom1", HOST_DOM1, &why), HOST_DOM1 "\n");
}

/* Blanks, tabs, keyword case (dhcpd reads keywords in any case), comments, braces in strings. */
static void test_isc_one_line_variants(void **state)
{
	(void)state;
	static const char *const ours[] = {
	    "host dom1 { }",
	    "host dom1{}",
	    "\t host\tdom1\t{ hardware ethernet 00:16:3e:00:00:01; }\t",
	    "HOST dom1 { fixed-address 10.0.1.1; }",
	    "host dom1 { fixed-address 10.0.1.1; }  # written by hand",
	    "host dom1 { option host-name \"a}b{\"; }",
	    "host dom1 { option host-name \"a#b\"; }",
	    "host dom1 { group-ish { nested; } }",
	};
	for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++) {
		char text[256];
		snprintf(text, sizeof(text), "a;\n%s\nb;\n", ours[i]);
		const char *why = NULL;
		char *got = dhcpedit_isc_host(text, "dom1", NULL, &why);
		if (!got || strcmp(got, "a;\nb;\n")) {
			print_error("%s\n", got ? got : why);
			free(got);
			fail_msg("one-line declaration not removed: %s", ours[i]);
		}
		free(got);
	}
}

/* A declaration dhcpedit cannot take out whole is the administrator's: refuse, change nothing. */
static void test_isc_multiline_refused(void **state)
{
	(void)state;
	REFUSED(dhcpedit_isc_host("a;\nhost dom1 {\n\thardware ethernet 00:16:3e:00:00:01;\n}\n",
				  "dom1", HOST_DOM1, &why),
		"several lines");
	REFUSED(dhcpedit_isc_host("host dom1\n{ hardware ethernet 00:16:3e:00:00:01; }\n", "dom1",
				  NULL, &why),
		"several lines");
	REFUSED(dhcpedit_isc_host("host \"dom1\" {\r\n}\r\n", "dom1", NULL, &why), "several lines");
	REFUSED(dhcpedit_isc_host("host dom1 { option host-name \"}\";\n}\n", "dom1", NULL, &why),
		"several lines");
	REFUSED(dhcpedit_isc_host("host dom1 { a; } }\n", "dom1", NULL, &why), "several lines");
	/* Inside a group, or beside another host on its line: removing the line takes more. */
	REFUSED(dhcpedit_isc_host("group { host dom1 { fixed-address 10.0.1.1; } }\n", "dom1",
				  HOST_DOM1, &why),
		"several lines");
	REFUSED(dhcpedit_isc_host("group {\n  host dom1 { fixed-address 10.0.1.1; }\n}\n", "dom1",
				  HOST_DOM1, &why),
		"several lines");
	REFUSED(dhcpedit_isc_host("host dom1 { } host dom2 { }\n", "dom1", NULL, &why),
		"several lines");
	/* Other hosts' multi-line declarations are fine. */
	EXPECT(dhcpedit_isc_host("host dom2 {\n}\n", "dom1", HOST_DOM1, &why),
	       "host dom2 {\n}\n" HOST_DOM1 "\n");
}

static void test_isc_crlf(void **state)
{
	(void)state;
	EXPECT(dhcpedit_isc_host("a;\r\n" HOST_DOM1_OLD "\r\nb;\r\n", "dom1", NULL, &why),
	       "a;\r\nb;\r\n");
	EXPECT(dhcpedit_isc_host("a;\r\nb;\r\n", "dom1", HOST_DOM1, &why),
	       "a;\r\nb;\r\n" HOST_DOM1 "\r\n");
	EXPECT(dhcpedit_isc_host("a;\r\n" HOST_DOM1 "\r\n", "dom1", HOST_DOM1, &why),
	       "a;\r\n" HOST_DOM1 "\r\n");
}

static void test_isc_no_final_newline(void **state)
{
	(void)state;
	EXPECT(dhcpedit_isc_host("a;\nb;", "dom1", HOST_DOM1, &why), "a;\nb;\n" HOST_DOM1 "\n");
	EXPECT(dhcpedit_isc_host("a;\n" HOST_DOM1_OLD, "dom1", NULL, &why), "a;\n");
	EXPECT(dhcpedit_isc_host("a;\n" HOST_DOM1_OLD, "dom1", HOST_DOM1, &why),
	       "a;\n" HOST_DOM1 "\n");
	EXPECT(dhcpedit_isc_host("a;", "dom1", NULL, &why), "a;");
}

static void test_isc_empty(void **state)
{
	(void)state;
	EXPECT(dhcpedit_isc_host("", "dom1", HOST_DOM1, &why), HOST_DOM1 "\n");
	EXPECT(dhcpedit_isc_host("", "dom1", NULL, &why), "");
	EXPECT(dhcpedit_isc_host("\n", "dom1", HOST_DOM1, &why), "\n" HOST_DOM1 "\n");
	REFUSED(dhcpedit_isc_host("host  { }\n", "", NULL, &why), "name");
}

/* ---------------------------------------------------------------- the defaults file */

#define DEB_HEAD                                                                                   \
	"# Defaults for the DHCP server, read by its init script\n"                                \
	"#DHCPDv4_CONF=/etc/dhcp/dhcpd.conf\n"                                                     \
	"#INTERFACES=\"eth9\"\n"                                                                   \
	"\n"
#define DEB_V6 "INTERFACESv6=\"vif1.0\"\nINTERFACES_OLD=\"vif1.0\"\n"

static void test_iface_debian(void **state)
{
	(void)state;
	EXPECT(dhcpedit_iface(DEB_HEAD "INTERFACESv4=\"\"\n" DEB_V6, "vif1.0", true, &why),
	       DEB_HEAD "INTERFACESv4=\"vif1.0\"\n" DEB_V6);
	EXPECT(dhcpedit_iface(DEB_HEAD "INTERFACESv4=\"vif1.0\"\n" DEB_V6, "vif2.0", true, &why),
	       DEB_HEAD "INTERFACESv4=\"vif1.0 vif2.0\"\n" DEB_V6);
	EXPECT(dhcpedit_iface(DEB_HEAD "INTERFACESv4=\"vif1.0 vif2.0\"\n" DEB_V6, "vif1.0", false,
			      &why),
	       DEB_HEAD "INTERFACESv4=\"vif2.0\"\n" DEB_V6);
	EXPECT(dhcpedit_iface(DEB_HEAD "INTERFACESv4=\"vif1.0\"\n" DEB_V6, "vif1.0", false, &why),
	       DEB_HEAD "INTERFACESv4=\"\"\n" DEB_V6);
	/* Older Debian: INTERFACES alone. */
	EXPECT(dhcpedit_iface(DEB_HEAD "INTERFACES=\"eth0\"\n", "vif1.0", true, &why),
	       DEB_HEAD "INTERFACES=\"eth0 vif1.0\"\n");
}

/* INTERFACESv4 is read before INTERFACES: add there only; removal cleans both. */
static void test_iface_first_variable_wins(void **state)
{
	(void)state;
	EXPECT(dhcpedit_iface("INTERFACES=\"eth0\"\nINTERFACESv4=\"eth1\"\n", "vif1.0", true, &why),
	       "INTERFACES=\"eth0\"\nINTERFACESv4=\"eth1 vif1.0\"\n");
	EXPECT(dhcpedit_iface("INTERFACES=\"eth0 vif1.0\"\nINTERFACESv4=\"vif1.0 eth1\"\n",
			      "vif1.0", false, &why),
	       "INTERFACES=\"eth0\"\nINTERFACESv4=\"eth1\"\n");
	EXPECT(
	    dhcpedit_iface("DHCPDARGS=\"eth0\"\nDHCPD_INTERFACE=\"eth1\"\n", "vif1.0", true, &why),
	    "DHCPDARGS=\"eth0\"\nDHCPD_INTERFACE=\"eth1 vif1.0\"\n");
}

static void test_iface_redhat(void **state)
{
	(void)state;
	const char *head = "# Command line options here\n";
	char in[128], want[128];

	snprintf(in, sizeof(in), "%sDHCPDARGS=\n", head);
	snprintf(want, sizeof(want), "%sDHCPDARGS=\"vif3.1\"\n", head);
	EXPECT(dhcpedit_iface(in, "vif3.1", true, &why), want);
	EXPECT(dhcpedit_iface("DHCPDARGS=eth0\n", "vif3.1", true, &why),
	       "DHCPDARGS=\"eth0 vif3.1\"\n");
	EXPECT(dhcpedit_iface("DHCPDARGS=\"eth0 vif3.1\"\n", "vif3.1", false, &why),
	       "DHCPDARGS=\"eth0\"\n");
	/* Unquoted, with a comment after it. */
	EXPECT(dhcpedit_iface("DHCPDARGS=eth0   # the LAN\n", "vif3.1", true, &why),
	       "DHCPDARGS=\"eth0 vif3.1\"   # the LAN\n");
}

static void test_iface_suse(void **state)
{
	(void)state;
	const char *suse = "## Type: list(eth0,eth1)\n"
			   "## Default: \"\"\n"
			   "#\n"
			   "DHCPD_INTERFACE=\"eth1\"\n"
			   "DHCPD_RUN_CHROOTED=\"yes\"\n";
	EXPECT(dhcpedit_iface(suse, "vif5.0", true, &why), "## Type: list(eth0,eth1)\n"
							   "## Default: \"\"\n"
							   "#\n"
							   "DHCPD_INTERFACE=\"eth1 vif5.0\"\n"
							   "DHCPD_RUN_CHROOTED=\"yes\"\n");
	EXPECT(dhcpedit_iface("DHCPD_INTERFACE='eth1'\n", "vif5.0", true, &why),
	       "DHCPD_INTERFACE=\"eth1 vif5.0\"\n");
	EXPECT(dhcpedit_iface("DHCPD_INTERFACE='eth1 vif5.0'\n", "vif5.0", false, &why),
	       "DHCPD_INTERFACE=\"eth1\"\n");
}

static void test_iface_comments_and_export(void **state)
{
	(void)state;
	EXPECT(dhcpedit_iface("INTERFACESv4=\"eth0\"   # served\n", "vif1.0", true, &why),
	       "INTERFACESv4=\"eth0 vif1.0\"   # served\n");
	EXPECT(dhcpedit_iface("INTERFACES=eth0 # lan\n", "vif1.0", true, &why),
	       "INTERFACES=\"eth0 vif1.0\" # lan\n");
	EXPECT(dhcpedit_iface("export INTERFACES=\"eth0\"\n", "vif1.0", true, &why),
	       "export INTERFACES=\"eth0 vif1.0\"\n");
	EXPECT(dhcpedit_iface("  export\tINTERFACES=\"eth0 vif1.0\"\n", "vif1.0", false, &why),
	       "  export\tINTERFACES=\"eth0\"\n");
	EXPECT(dhcpedit_iface("INTERFACESv4=\"eth0\"; export INTERFACESv4\n", "vif1.0", true, &why),
	       "INTERFACESv4=\"eth0 vif1.0\"; export INTERFACESv4\n");
	/* Commented assignments are not assignments. */
	EXPECT(dhcpedit_iface("#INTERFACES=\"vif1.0\"\n# INTERFACESv4=\"vif1.0\"\n", "vif1.0",
			      false, &why),
	       "#INTERFACES=\"vif1.0\"\n# INTERFACESv4=\"vif1.0\"\n");
}

static void test_iface_add_twice(void **state)
{
	(void)state;
	const char *why = NULL;
	char *once = dhcpedit_iface(DEB_HEAD "INTERFACESv4=\"eth0\"\n", "vif1.0", true, &why);
	assert_non_null(once);
	EXPECT(dhcpedit_iface(once, "vif1.0", true, &why),
	       DEB_HEAD "INTERFACESv4=\"eth0 vif1.0\"\n");
	free(once);
	/* Already there, in whatever spacing and quoting: left alone. */
	EXPECT(dhcpedit_iface("INTERFACES='vif1.0  eth0'\n", "vif1.0", true, &why),
	       "INTERFACES='vif1.0  eth0'\n");
	EXPECT(dhcpedit_iface("INTERFACES=vif1.0\n", "vif1.0", true, &why), "INTERFACES=vif1.0\n");
}

/* Debian's script removes "vif1.0 " with sed, where '.' is any character. */
static void test_iface_remove_only_our_word(void **state)
{
	(void)state;
	EXPECT(dhcpedit_iface("INTERFACES=\"vif1.01 eth0 vif1x0\"\n", "vif1.0", false, &why),
	       "INTERFACES=\"vif1.01 eth0 vif1x0\"\n");
	EXPECT(
	    dhcpedit_iface("INTERFACES=\"vif1.01 vif1.0 eth0 avif1.0\"\n", "vif1.0", false, &why),
	    "INTERFACES=\"vif1.01 eth0 avif1.0\"\n");
	EXPECT(dhcpedit_iface("INTERFACES=\"vif1.0 eth0 vif1.0\"\n", "vif1.0", false, &why),
	       "INTERFACES=\"eth0\"\n");
	EXPECT(dhcpedit_iface("INTERFACES=\"vif1.01\"\n", "vif1.0", true, &why),
	       "INTERFACES=\"vif1.01 vif1.0\"\n");
	/* Removing what is not there changes nothing, whatever the list looks like. */
	EXPECT(dhcpedit_iface("INTERFACES=\"$LAN\"  # from elsewhere\n", "vif1.0", false, &why),
	       "INTERFACES=\"$LAN\"  # from elsewhere\n");
}

/* No variable at all: add the Debian one; remove finds nothing to do. */
static void test_iface_none_present(void **state)
{
	(void)state;
	EXPECT(dhcpedit_iface("# nothing here\n", "vif1.0", true, &why),
	       "# nothing here\nINTERFACESv4=\"vif1.0\"\n");
	EXPECT(dhcpedit_iface("# nothing here", "vif1.0", true, &why),
	       "# nothing here\nINTERFACESv4=\"vif1.0\"\n");
	EXPECT(dhcpedit_iface("", "vif1.0", true, &why), "INTERFACESv4=\"vif1.0\"\n");
	EXPECT(dhcpedit_iface("", "vif1.0", false, &why), "");
	EXPECT(dhcpedit_iface("# nothing here", "vif1.0", false, &why), "# nothing here");
}

static void test_iface_crlf_and_final_newline(void **state)
{
	(void)state;
	EXPECT(dhcpedit_iface("# x\r\nINTERFACES=\"eth0\"\r\n", "vif1.0", true, &why),
	       "# x\r\nINTERFACES=\"eth0 vif1.0\"\r\n");
	EXPECT(dhcpedit_iface("INTERFACES=eth0\r\n", "vif1.0", true, &why),
	       "INTERFACES=\"eth0 vif1.0\"\r\n");
	EXPECT(dhcpedit_iface("INTERFACES=\"eth0 vif1.0\"\r\n", "vif1.0", false, &why),
	       "INTERFACES=\"eth0\"\r\n");
	EXPECT(dhcpedit_iface("# x\r\n", "vif1.0", true, &why),
	       "# x\r\nINTERFACESv4=\"vif1.0\"\r\n");
	EXPECT(dhcpedit_iface("a=1\nINTERFACES=\"eth0\"", "vif1.0", true, &why),
	       "a=1\nINTERFACES=\"eth0 vif1.0\"");
}

/* A list whose meaning the shell decides cannot be edited as words. */
static void test_iface_shell_refused(void **state)
{
	(void)state;
	static const char *const lists[] = {
	    "INTERFACES=\"$LAN\"\n",
	    "INTERFACES=\"${LAN:-eth0}\"\n",
	    "INTERFACES=\"`cat /etc/lan`\"\n",
	    "INTERFACES=\"$(cat /etc/lan)\"\n",
	    "INTERFACES=\"eth0\\ eth1\"\n",
	    "INTERFACES=$LAN\n",
	    "INTERFACES=eth*\n",
	    "INTERFACES=eth[01]\n",
	    "INTERFACES=~/x\n",
	    "INTERFACES=a\\ b\n",
	    "INTERFACES=\"eth0\"\"eth1\"\n",
	    "INTERFACES=\"eth0\"x\n",
	    "INTERFACES=\"eth0\"#x\n",
	    "INTERFACES=eth0\"x\"\n",
	    "INTERFACES='a\"b'\n",
	    "INTERFACES='$x'\n",
	};
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		const char *why = NULL;
		char *got = dhcpedit_iface(lists[i], "vif1.0", true, &why);
		if (got || !why || !*why) {
			print_error("%s", got ? got : "");
			free(got);
			fail_msg("not refused: %s", lists[i]);
		}
	}
	REFUSED(dhcpedit_iface("INTERFACES=\"$LAN vif1.0\"\n", "vif1.0", false, &why), "shell");
	REFUSED(dhcpedit_iface("INTERFACES=\"eth0\n", "vif1.0", true, &why), "quote");
}

/* The file is sourced by a root shell: a device name must not smuggle code into it. */
static void test_iface_bad_device_refused(void **state)
{
	(void)state;
	static const char *const devs[] = {"",	  "a$(reboot)", "a`id`", "a\"b", "a\\b",
					   "a'b", "a b",	"a\tb",	 "a\nb", "a;b"};
	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++)
		for (int add = 0; add <= 1; add++) {
			const char *why = NULL;
			char *got = dhcpedit_iface("INTERFACES=\"eth0\"\n", devs[i], add, &why);
			if (got || !why) {
				print_error("%s", got ? got : "");
				free(got);
				fail_msg("device \"%s\" not refused (add %d)", devs[i], add);
			}
		}
	/* What xl and vifname= produce is fine. */
	EXPECT(dhcpedit_iface("INTERFACES=\"\"\n", "vif12.3-emu", true, &why),
	       "INTERFACES=\"vif12.3-emu\"\n");
	EXPECT(dhcpedit_iface("INTERFACES=\"\"\n", "web_eth0.1", true, &why),
	       "INTERFACES=\"web_eth0.1\"\n");
}

/* ---------------------------------------------------------------- dnsmasq's hosts file */

#define MAC  "00:16:3e:aa:bb:cc"
#define LINE MAC ",10.0.1.1,dom1"
#define HOSTS_ADMIN                                                                                \
	"# guests of the lab\n"                                                                    \
	"00:16:3e:00:00:10,10.0.10.1,dom10\n"                                                      \
	"00:16:3e:00:01:02,10.0.1.2,dom1-2\n"                                                      \
	"00:11:22:33:44:55,192.168.1.9,printer,infinite\n"                                         \
	"# " MAC ",10.0.1.99,retired\n"                                                            \
	"00:16:3e:aa:bb:cd,set:dom1,10.0.1.7\n"                                                    \
	"\n"

static void test_dnsmasq_replace_by_mac_and_name(void **state)
{
	(void)state;
	/* Same MAC, other case and name; same name, other MAC; name not in the last field. */
	EXPECT(dhcpedit_dnsmasq_host("00:16:3E:AA:BB:CC,10.0.1.50,oldname\n" HOSTS_ADMIN
				     "52:54:00:12:34:56,10.0.5.5,dom1\n"
				     "52:54:00:12:34:57,10.0.5.6,DOM1,infinite\n"
				     " 00:16:3e:aa:bb:cc , 10.0.1.9 \n",
				     MAC, "dom1", LINE, &why),
	       HOSTS_ADMIN LINE "\n");
	/* A MAC among several of an entry. */
	EXPECT(dhcpedit_dnsmasq_host("11:22:33:44:55:66," MAC ",10.0.1.70,other\n" HOSTS_ADMIN, MAC,
				     "dom1", LINE, &why),
	       HOSTS_ADMIN LINE "\n");
	EXPECT(dhcpedit_dnsmasq_host(HOSTS_ADMIN, MAC, "dom1", LINE, &why), HOSTS_ADMIN LINE "\n");
}

static void test_dnsmasq_remove(void **state)
{
	(void)state;
	EXPECT(dhcpedit_dnsmasq_host(HOSTS_ADMIN LINE "\n", MAC, "dom1", NULL, &why), HOSTS_ADMIN);
	EXPECT(dhcpedit_dnsmasq_host(LINE "\n" HOSTS_ADMIN, MAC, "dom1", NULL, &why), HOSTS_ADMIN);
	EXPECT(dhcpedit_dnsmasq_host(HOSTS_ADMIN, MAC, "dom1", NULL, &why), HOSTS_ADMIN);
	/* offline of a vif whose MAC is unknown: by name only, nothing else. */
	EXPECT(
	    dhcpedit_dnsmasq_host(",10.0.9.9,lost\n" HOSTS_ADMIN LINE "\n", "", "dom1", NULL, &why),
	    ",10.0.9.9,lost\n" HOSTS_ADMIN);
	EXPECT(dhcpedit_dnsmasq_host(HOSTS_ADMIN LINE "\n", MAC, "", NULL, &why), HOSTS_ADMIN);
}

static void test_dnsmasq_idempotent(void **state)
{
	(void)state;
	EXPECT(
	    dhcpedit_dnsmasq_host("a,1.2.3.4,x\n" LINE "\nb,1.2.3.5,y\n", MAC, "dom1", LINE, &why),
	    "a,1.2.3.4,x\n" LINE "\nb,1.2.3.5,y\n");
	EXPECT(dhcpedit_dnsmasq_host(LINE "\n" LINE "\n", MAC, "dom1", LINE, &why), LINE "\n");
	const char *why = NULL;
	char *once = dhcpedit_dnsmasq_host(HOSTS_ADMIN, MAC, "dom1", LINE, &why);
	assert_non_null(once);
	EXPECT(dhcpedit_dnsmasq_host(once, MAC, "dom1", LINE, &why), HOSTS_ADMIN LINE "\n");
	free(once);
}

static void test_dnsmasq_crlf_final_newline_empty(void **state)
{
	(void)state;
	EXPECT(dhcpedit_dnsmasq_host("a,1.2.3.4,x\r\n" LINE "\r\n", MAC, "dom1", NULL, &why),
	       "a,1.2.3.4,x\r\n");
	EXPECT(dhcpedit_dnsmasq_host("a,1.2.3.4,x\r\n", MAC, "dom1", LINE, &why),
	       "a,1.2.3.4,x\r\n" LINE "\r\n");
	EXPECT(dhcpedit_dnsmasq_host("a,1.2.3.4,x", MAC, "dom1", LINE, &why),
	       "a,1.2.3.4,x\n" LINE "\n");
	EXPECT(dhcpedit_dnsmasq_host("a,1.2.3.4,x\n" LINE, MAC, "dom1", NULL, &why),
	       "a,1.2.3.4,x\n");
	EXPECT(dhcpedit_dnsmasq_host("", MAC, "dom1", LINE, &why), LINE "\n");
	EXPECT(dhcpedit_dnsmasq_host("", MAC, "dom1", NULL, &why), "");
}

/* ---------------------------------------------------------------- any line */

#define SUBNET "subnet 10.0.0.0 netmask 255.255.0.0 {}"

static void test_line_add_remove(void **state)
{
	(void)state;
	EXPECT(dhcpedit_line(CONF_ADMIN, "subnet 10.1.0.0 netmask 255.255.0.0 {}", true, &why),
	       CONF_ADMIN "subnet 10.1.0.0 netmask 255.255.0.0 {}\n");
	EXPECT(dhcpedit_line(CONF_ADMIN, SUBNET, false, &why),
	       "# dhcpd.conf for the lab\n"
	       "option domain-name \"lab.example\";\n"
	       "default-lease-time 600;\n"
	       "\n"
	       "host dom10 { hardware ethernet 00:16:3e:00:00:10; fixed-address 10.0.10.1; }\n"
	       "host printer {\n"
	       "\thardware ethernet 00:11:22:33:44:55;\n"
	       "\tfixed-address 192.168.1.9;\n"
	       "\toption host-name \"dom1\";   # named after the first guest\n"
	       "}\n"
	       "host dom1-2 { hardware ethernet 00:16:3e:00:01:02; fixed-address 10.0.1.2; }\n"
	       "host dom1.lab { hardware ethernet 00:16:3e:00:01:03; }\n"
	       "  # host dom1 { hardware ethernet 00:16:3e:00:00:99; }  (retired)\n"
	       "option routers-of-host dom1;\n");
	EXPECT(dhcpedit_line("a\n" SUBNET "\nb\n" SUBNET " \n", SUBNET, false, &why), "a\nb\n");
	EXPECT(dhcpedit_line("a\nb\n", SUBNET, false, &why), "a\nb\n");
}

static void test_line_idempotent(void **state)
{
	(void)state;
	EXPECT(dhcpedit_line("a\n" SUBNET "\nb\n", SUBNET, true, &why), "a\n" SUBNET "\nb\n");
	/* Present twice: made present once, the first kept in place. */
	EXPECT(dhcpedit_line("a\n" SUBNET "\nb\n" SUBNET "\n", SUBNET, true, &why),
	       "a\n" SUBNET "\nb\n");
	/* Trailing blanks in the file or in the line are not a difference. */
	EXPECT(dhcpedit_line("a\n" SUBNET "\t \nb\n", SUBNET, true, &why), "a\n" SUBNET "\t \nb\n");
	EXPECT(dhcpedit_line("a\n" SUBNET "\nb\n", SUBNET "  ", true, &why), "a\n" SUBNET "\nb\n");
	EXPECT(dhcpedit_line("a\n" SUBNET "\nb\n", SUBNET "  ", false, &why), "a\nb\n");
	/* Leading blanks or a comment are: the administrator's line stays. */
	EXPECT(dhcpedit_line("  " SUBNET "\n#" SUBNET "\n", SUBNET, false, &why),
	       "  " SUBNET "\n#" SUBNET "\n");
}

static void test_line_crlf_final_newline_empty(void **state)
{
	(void)state;
	EXPECT(dhcpedit_line("a\r\n", SUBNET, true, &why), "a\r\n" SUBNET "\r\n");
	EXPECT(dhcpedit_line("a\r\n" SUBNET "\r\nb\r\n", SUBNET, false, &why), "a\r\nb\r\n");
	EXPECT(dhcpedit_line("a\r\n" SUBNET "\r\n", SUBNET, true, &why), "a\r\n" SUBNET "\r\n");
	EXPECT(dhcpedit_line("a", SUBNET, true, &why), "a\n" SUBNET "\n");
	EXPECT(dhcpedit_line("a\n" SUBNET, SUBNET, false, &why), "a\n");
	EXPECT(dhcpedit_line("a\n" SUBNET, SUBNET, true, &why), "a\n" SUBNET);
	EXPECT(dhcpedit_line("", SUBNET, true, &why), SUBNET "\n");
	EXPECT(dhcpedit_line("", SUBNET, false, &why), "");
	REFUSED(dhcpedit_line("a\n\nb\n", "", true, &why), "empty");
	REFUSED(dhcpedit_line("a\n\nb\n", " ", false, &why), "empty");
	REFUSED(dhcpedit_line("a\n", "x\ny", true, &why), "line");
}

/* ---------------------------------------------------------------- every function */

/* Output is a fresh allocation even when nothing changes: callers free it. */
static void test_results_are_fresh(void **state)
{
	(void)state;
	const char *why = NULL;
	const char *in = "a\n";
	char *r[4] = {
	    dhcpedit_isc_host(in, "dom1", NULL, &why),
	    dhcpedit_iface(in, "vif1.0", false, &why),
	    dhcpedit_dnsmasq_host(in, MAC, "dom1", NULL, &why),
	    dhcpedit_line(in, "b", false, &why),
	};
	for (int i = 0; i < 4; i++) {
		assert_non_null(r[i]);
		assert_ptr_not_equal(r[i], in);
		assert_string_equal(r[i], in);
		free(r[i]);
	}
}

/* A big file: every line survives and the growth of the output buffer is right. */
static void test_large_file(void **state)
{
	(void)state;
	size_t n = 20000, cap = n * 80 + 1;
	char *in = malloc(cap), *want = malloc(cap + 200);
	assert_non_null(in);
	assert_non_null(want);
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len +=
		    (size_t)snprintf(in + len, cap - len,
				     "host dom%zu { hardware ethernet 00:16:3e:00:%02zx:%02zx; }\n",
				     i + 2, (i >> 8) & 0xff, i & 0xff);
	snprintf(want, cap + 200, "%s%s\n", in, HOST_DOM1);
	const char *why = NULL;
	char *got = dhcpedit_isc_host(in, "dom1", HOST_DOM1, &why);
	assert_non_null(got);
	assert_string_equal(got, want);
	char *back = dhcpedit_isc_host(got, "dom1", NULL, &why);
	assert_non_null(back);
	assert_string_equal(back, in);
	free(back);
	free(got);
	free(want);
	free(in);
}

/* ---------------------------------------------------------------- random files, against a model */

enum kind { KEEP, OURS, EXACT, REFUSE };

struct vocab {
	const char *text;
	enum kind kind;
};

/* Lines of dhcpd.conf and what removing host dom1 must do with each (blocks balanced per line). */
static const struct vocab isc_vocab[] = {
    {"# comment", KEEP},
    {"", KEEP},
    {"option domain-name \"lab.example\";", KEEP},
    {"subnet 10.0.0.0 netmask 255.255.0.0 {}", KEEP},
    {"host dom10 { fixed-address 10.0.10.1; }", KEEP},
    {"host dom1-2 { fixed-address 10.0.1.2; }", KEEP},
    {"host \"dom11\" { }", KEEP},
    {"# host dom1 { fixed-address 10.0.1.1; }", KEEP},
    {"\toption host-name \"dom1\";", KEEP},
    {"host dom2 { option host-name \"host dom1 {\"; }", KEEP},
    {HOST_DOM1_OLD, OURS},
    {"host dom1 { }", OURS},
    {"  HOST \"dom1\" { a; }  # by hand", OURS},
    {HOST_DOM1, EXACT},
    {HOST_DOM1 " \t", EXACT},
    {"host dom1 {", REFUSE},
    {"host dom1", REFUSE},
    {"group { host dom1 { } }", REFUSE},
    {"host dom1 { } host dom3 { }", REFUSE},
};

/* Lines of dnsmasq's hosts file, for MAC 00:16:3e:aa:bb:cc and name dom1. */
static const struct vocab dnsmasq_vocab[] = {
    {"# comment " MAC, KEEP},
    {"", KEEP},
    {"   ", KEEP},
    {"00:16:3e:00:00:10,10.0.10.1,dom10", KEEP},
    {"00:16:3e:aa:bb:cd,set:dom1,10.0.1.7", KEEP},
    {"00:16:3e:00:01:02,10.0.1.2,dom1-2,infinite", KEEP},
    {"00:16:3E:AA:BB:CC,10.0.1.50,other", OURS},
    {"52:54:00:12:34:56,10.0.5.5,Dom1,12h", OURS},
    {" 00:16:3e:aa:bb:cc , 10.0.1.1 , dom1x", OURS},
    {LINE, EXACT},
    {LINE "  ", EXACT},
};

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (unsigned)(rng_state % n);
}

/* A random file of vocabulary lines, and what the edit must make of it (want "" + refused). */
static void random_case(const struct vocab *v, size_t nv, const char *line, char *text, char *want,
			size_t cap, bool *refused)
{
	const char *nl = rnd(4) ? "\n" : "\r\n";
	size_t n = rnd(12);
	bool final_nl = rnd(5) != 0, exact_kept = false;
	size_t tl = 0, wl = 0;

	*refused = false;
	text[0] = want[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const struct vocab *e = &v[rnd((unsigned)nv)];
		const char *end = i + 1 < n || final_nl ? nl : "";
		tl += (size_t)snprintf(text + tl, cap - tl, "%s%s", e->text, end);
		*refused |= e->kind == REFUSE;
		bool keep = e->kind == KEEP || (e->kind == EXACT && line && !exact_kept);
		exact_kept |= keep && e->kind == EXACT;
		if (keep)
			wl += (size_t)snprintf(want + wl, cap - wl, "%s%s", e->text, end);
	}
	if (line && !exact_kept) {
		const char *first = strchr(text, '\n');
		const char *fnl = first && first > text && first[-1] == '\r' ? "\r\n" : "\n";
		if (wl && want[wl - 1] != '\n')
			wl += (size_t)snprintf(want + wl, cap - wl, "%s", fnl);
		snprintf(want + wl, cap - wl, "%s%s", line, fnl);
	}
}

static void check_model(const char *what, const char *text, const char *want, bool refused,
			char *got, const char *why)
{
	if (refused) {
		if (got) {
			print_error("%s accepted:\n%s\n", what, text);
			free(got);
			fail_msg("%s: a file that must be refused was edited", what);
		}
		return;
	}
	if (!got)
		fail_msg("%s refused (%s):\n%s", what, why, text);
	if (strcmp(got, want)) {
		print_error("%s of:\n%s\n--- got:\n%s\n--- expected:\n%s\n", what, text, got, want);
		free(got);
		fail_msg("%s: differs from the model", what);
	}
	free(got);
}

static void test_random_isc_files(void **state)
{
	(void)state;
	static char text[4096], want[4096];
	const size_t nv = sizeof(isc_vocab) / sizeof(isc_vocab[0]);
	for (int i = 0; i < 3000; i++) {
		bool refused, add = rnd(2);
		const char *line = add ? HOST_DOM1 : NULL;
		random_case(isc_vocab, nv, line, text, want, sizeof(text), &refused);
		const char *why = NULL;
		char *got = dhcpedit_isc_host(text, "dom1", line, &why);
		check_model(add ? "isc add" : "isc remove", text, want, refused, got, why);
	}
}

static void test_random_dnsmasq_files(void **state)
{
	(void)state;
	static char text[4096], want[4096];
	const size_t nv = sizeof(dnsmasq_vocab) / sizeof(dnsmasq_vocab[0]);
	for (int i = 0; i < 3000; i++) {
		bool refused, add = rnd(2);
		const char *line = add ? LINE : NULL;
		random_case(dnsmasq_vocab, nv, line, text, want, sizeof(text), &refused);
		const char *why = NULL;
		char *got = dhcpedit_dnsmasq_host(text, MAC, "dom1", line, &why);
		check_model(add ? "dnsmasq add" : "dnsmasq remove", text, want, refused, got, why);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_isc_remove_keeps_everything_else),
	    cmocka_unit_test(test_isc_name_prefix_not_ours),
	    cmocka_unit_test(test_isc_add_replaces),
	    cmocka_unit_test(test_isc_add_idempotent),
	    cmocka_unit_test(test_isc_quoted_name),
	    cmocka_unit_test(test_isc_one_line_variants),
	    cmocka_unit_test(test_isc_multiline_refused),
	    cmocka_unit_test(test_isc_crlf),
	    cmocka_unit_test(test_isc_no_final_newline),
	    cmocka_unit_test(test_isc_empty),
	    cmocka_unit_test(test_iface_debian),
	    cmocka_unit_test(test_iface_first_variable_wins),
	    cmocka_unit_test(test_iface_redhat),
	    cmocka_unit_test(test_iface_suse),
	    cmocka_unit_test(test_iface_comments_and_export),
	    cmocka_unit_test(test_iface_add_twice),
	    cmocka_unit_test(test_iface_remove_only_our_word),
	    cmocka_unit_test(test_iface_none_present),
	    cmocka_unit_test(test_iface_crlf_and_final_newline),
	    cmocka_unit_test(test_iface_shell_refused),
	    cmocka_unit_test(test_iface_bad_device_refused),
	    cmocka_unit_test(test_dnsmasq_replace_by_mac_and_name),
	    cmocka_unit_test(test_dnsmasq_remove),
	    cmocka_unit_test(test_dnsmasq_idempotent),
	    cmocka_unit_test(test_dnsmasq_crlf_final_newline_empty),
	    cmocka_unit_test(test_line_add_remove),
	    cmocka_unit_test(test_line_idempotent),
	    cmocka_unit_test(test_line_crlf_final_newline_empty),
	    cmocka_unit_test(test_results_are_fresh),
	    cmocka_unit_test(test_large_file),
	    cmocka_unit_test(test_random_isc_files),
	    cmocka_unit_test(test_random_dnsmasq_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
