/* Command line and environment parsing, and the validators every value passes through. */
#include "params.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *printable(const char *value, char *buf, size_t len)
{
	size_t o = 0;

	if (len < 8)
		return "";
	for (const unsigned char *c = (const unsigned char *)value; *c; c++) {
		if (o + 8 >= len) {
			memcpy(buf + o, "...", 4);
			return buf;
		}
		if (*c >= 0x20 && *c < 0x7f && *c != '\\')
			buf[o++] = (char)*c;
		else
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", *c);
	}
	buf[o] = '\0';
	return buf;
}

void params_invalid(char *err, size_t errlen, const char *param, const char *value,
		    const char *expected)
{
	char shown[96];

	snprintf(err, errlen, "invalid %s '%s': expected %s", param,
		 printable(value, shown, sizeof(shown)), expected);
}

int params_parse(struct params *p, int argc, char *const argv[], char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	p->prog = argc > 0 && argv[0] ? argv[0] : "xen-net";
	const char *slash = strrchr(p->prog, '/');
	if (slash)
		p->prog = slash + 1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *eq = strchr(a, '=');

		if (a[0] == '-') {
			if (!strcmp(a, "-h") || !strcmp(a, "--help"))
				p->help = true;
			else if (!strcmp(a, "--version"))
				p->version = true;
			else if (!strcmp(a, "-v") || !strcmp(a, "--verbose"))
				p->verbose = true;
			else if (!strcmp(a, "-n") || !strcmp(a, "--dry-run"))
				p->dry_run = true;
			else if (!strcmp(a, "--json"))
				p->json = true;
			else {
				char shown[64];
				snprintf(err, errlen, "unknown option '%s' (try --help)",
					 printable(a, shown, sizeof(shown)));
				return -1;
			}
		} else if (eq) {
			if (eq == a) {
				params_invalid(err, errlen, "argument", a,
					       "key=value with a non-empty key");
				return -1;
			}
			if (p->n_args == PARAMS_MAX_ARGS) {
				snprintf(err, errlen, "too many key=value arguments (at most %d)",
					 PARAMS_MAX_ARGS);
				return -1;
			}
			p->args[p->n_args].key = a;
			p->args[p->n_args].key_len = (size_t)(eq - a);
			p->args[p->n_args].value = eq + 1;
			p->n_args++;
		} else if (!p->command) {
			p->command = a;
		} else {
			char shown[64], first[64];
			snprintf(err, errlen, "unexpected argument '%s' after the command '%s'",
				 printable(a, shown, sizeof(shown)),
				 printable(p->command, first, sizeof(first)));
			return -1;
		}
	}
	return 0;
}

const char *params_get(const struct params *p, const char *key)
{
	size_t klen = strlen(key);

	for (size_t i = p->n_args; i-- > 0;) {
		if (p->args[i].key_len == klen && !memcmp(p->args[i].key, key, klen))
			return p->args[i].value;
	}
	return getenv(key);
}

bool params_command_valid(const char *cmd, const char *const valid[])
{
	if (!cmd)
		return false;
	for (size_t i = 0; valid[i]; i++)
		if (!strcmp(cmd, valid[i]))
			return true;
	return false;
}

const char *check_ifname(const char *s)
{
	static const char expected[] =
	    "an interface name of 1-15 letters, digits, '.', '_', '-', '@' or '+', not "
	    "starting with '-', not '.' or '..'";
	size_t n = strlen(s);

	/* The kernel takes more, but a name also reaches hooks and the shell-read defaults file
	 * of dhcpd, and programs' argv: no shell syntax, no '%' (a kernel name template), no
	 * leading '-' (an option). */
	if (n == 0 || n > IFNAME_MAX || s[0] == '-' || !strcmp(s, ".") || !strcmp(s, ".."))
		return expected;
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		if (!isalnum(*c) && !strchr("._-@+", *c))
			return expected;
	return NULL;
}

/* Strict decimal: digits only, no sign, no leading zeros, no overflow. */
static int parse_decimal(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!*s || (s[0] == '0' && s[1]))
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > max)
			return -1;
	}
	*out = v;
	return 0;
}

const char *parse_mtu(const char *s, unsigned *mtu)
{
	unsigned long v;

	if (parse_decimal(s, 65535, &v) || v < 68)
		return "a decimal MTU from 68 to 65535";
	*mtu = (unsigned)v;
	return NULL;
}

const char *parse_seconds(const char *s, unsigned long *ms)
{
	static const char expected[] =
	    "a number of seconds like 20 or 0.5, above 0 and at most 3600";
	char whole[8];
	const char *dot = strchr(s, '.');
	size_t n = dot ? (size_t)(dot - s) : strlen(s), frac = dot ? strlen(dot + 1) : 0;
	unsigned long v, part = 0;

	/* Milliseconds are as fine as a wait needs: more decimals would only look precise. */
	if (n >= sizeof(whole) || (dot && (frac == 0 || frac > 3)))
		return expected;
	memcpy(whole, s, n);
	whole[n] = '\0';
	if (parse_decimal(whole, 3600, &v))
		return expected;
	for (size_t i = 0; i < 3; i++) {
		char d = i < frac ? dot[1 + i] : '0';
		if (d < '0' || d > '9')
			return expected;
		part = part * 10 + (unsigned long)(d - '0');
	}
	v = v * 1000 + part;
	if (v == 0 || v > 3600 * 1000UL)
		return expected;
	*ms = v;
	return NULL;
}

const char *parse_id(const char *s, unsigned max, unsigned *id)
{
	unsigned long v;

	if (parse_decimal(s, max, &v))
		return "a decimal id";
	*id = (unsigned)v;
	return NULL;
}

static const char mac_expected[] = "a unicast MAC address of six hex bytes, like 00:16:3e:01:02:03";

const char *parse_mac_syntax(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		const char *b = s + i * 3;
		if (!isxdigit((unsigned char)b[0]) || !isxdigit((unsigned char)b[1]))
			return mac_expected;
		if (b[2] != (i == 5 ? '\0' : ':'))
			return mac_expected;
		char hex[3] = {b[0], b[1], '\0'};
		mac[i] = (uint8_t)strtoul(hex, NULL, 16);
	}
	return NULL;
}

const char *parse_mac(const char *s, uint8_t mac[6])
{
	if (parse_mac_syntax(s, mac))
		return mac_expected;
	/* A multicast (broadcast included) or all-zero source address is no card's: bridges
	 * drop frames sent from it. */
	if ((mac[0] & 1) || !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return mac_expected;
	return NULL;
}

const char *parse_ip_prefix(const char *s, struct ip_prefix *out)
{
	static const char expected[] =
	    "an IPv4 or IPv6 address, optionally with a prefix length (10.0.0.1, "
	    "10.0.0.0/24, 2001:db8::/64)";
	char buf[INET6_ADDRSTRLEN + 5];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long len;

	if (alen == 0 || alen >= INET6_ADDRSTRLEN)
		return expected;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, &out->addr.v4) == 1) {
		out->family = AF_INET;
		len = 32;
	} else if (inet_pton(AF_INET6, buf, &out->addr.v6) == 1) {
		out->family = AF_INET6;
		len = 128;
	} else {
		return expected;
	}
	if (slash && parse_decimal(slash + 1, len, &len))
		return expected;
	out->len = (uint8_t)len;
	return NULL;
}

const char *parse_ip_list(const char *s, struct ip_prefix *out, size_t max, size_t *n)
{
	static const char too_many[] = "at most 32 addresses separated by spaces";
	char item[INET6_ADDRSTRLEN + 8];

	*n = 0;
	while (*s) {
		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		if (!*s)
			break;
		size_t l = strcspn(s, " \t,");
		if (l >= sizeof(item))
			return "a space-separated list of IPv4 or IPv6 addresses or prefixes";
		if (*n == max)
			return too_many;
		memcpy(item, s, l);
		item[l] = '\0';
		if (parse_ip_prefix(item, &out[*n]))
			return "a space-separated list of IPv4 or IPv6 addresses or prefixes";
		(*n)++;
		s += l;
	}
	return NULL;
}

const char *parse_yesno(const char *s, bool *out)
{
	if (!strcmp(s, "yes") || !strcmp(s, "1") || !strcmp(s, "true") || !strcmp(s, "on"))
		*out = true;
	else if (!strcmp(s, "no") || !strcmp(s, "0") || !strcmp(s, "false") || !strcmp(s, "off"))
		*out = false;
	else
		return "yes or no";
	return NULL;
}

void ip_prefix_format(const struct ip_prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(p->family, &p->addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, p->len);
}

const char *parse_vif_name(const char *s, unsigned *domid, unsigned *devid, bool *emu)
{
	static const char expected[] = "a name of the form vif<domid>.<devid>[-emu]";
	char buf[IFNAME_MAX + 1];
	size_t n = strlen(s);

	if (strncmp(s, "vif", 3) || n > IFNAME_MAX)
		return expected;
	memcpy(buf, s + 3, n - 2);
	*emu = false;
	n -= 3;
	if (n > 4 && !strcmp(buf + n - 4, "-emu")) {
		buf[n - 4] = '\0';
		*emu = true;
	}
	char *dot = strchr(buf, '.');
	if (!dot)
		return expected;
	*dot = '\0';
	if (parse_id(buf, 32751, domid) || parse_id(dot + 1, 65535, devid))
		return expected;
	return NULL;
}
