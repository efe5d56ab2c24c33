/* Fuzz target: the command line parser and every validator of common/params.c. */
#include "fuzz.h"
#include "params.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdbool.h>

/* The canonical decimal form of v is s: what the strict decimal parsers promise to accept. */
static bool canonical(const char *s, unsigned long v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%lu", v);
	return !strcmp(buf, s);
}

/* Is s a plain decimal without sign or leading zero, at most max? */
static bool decimal_at_most(const char *s, unsigned long max, unsigned long *v)
{
	size_t n = strlen(s);
	if (n == 0 || n > 10 || (s[0] == '0' && n > 1) || strspn(s, "0123456789") != n)
		return false;
	*v = strtoul(s, NULL, 10);
	return *v <= max;
}

static bool same_prefix(const struct ip_prefix *a, const struct ip_prefix *b)
{
	if (a->family != b->family || a->len != b->len)
		return false;
	return a->family == AF_INET ? a->addr.v4.s_addr == b->addr.v4.s_addr
				    : !memcmp(&a->addr.v6, &b->addr.v6, sizeof(a->addr.v6));
}

/* An accepted prefix is well formed, and its text form reads back as the same prefix. */
static void check_prefix(const struct ip_prefix *p)
{
	char text[INET6_ADDRSTRLEN + 8];
	struct ip_prefix again;
	PROPERTY(p->family == AF_INET || p->family == AF_INET6);
	PROPERTY(p->len <= (p->family == AF_INET ? 32 : 128));
	ip_prefix_format(p, text, sizeof(text));
	PROPERTY(parse_ip_prefix(text, &again) == NULL);
	PROPERTY(same_prefix(p, &again));
}

/*
 * check_ifname accepts at least the plain names (letters, digits, '.', '_', '-', not starting
 * with '-'), and at most what SPEC §1 allows: 1-15 bytes, no '/', ':', whitespace, control or
 * non-ASCII byte, not '.' or '..'.
 */
static void check_ifname_value(const char *s)
{
	size_t n = strlen(s);
	bool spec = n >= 1 && n <= IFNAME_MAX && strcmp(s, ".") && strcmp(s, "..");
	bool plain = spec && s[0] != '-';
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		spec = spec && *c > 0x20 && *c < 0x7f && *c != '/' && *c != ':';
		plain = plain && (isalnum(*c) || strchr("._-", *c));
	}
	const char *e = check_ifname(s);
	if (!e)
		PROPERTY(spec);
	if (plain)
		PROPERTY(!e);
	if (e)
		check_message(e, 512, 0);
}

static void check_numbers(const char *s, unsigned max)
{
	unsigned v = 0;
	unsigned long want;
	const char *e = parse_mtu(s, &v);
	PROPERTY(!e == (decimal_at_most(s, 65535, &want) && want >= 68));
	if (!e)
		PROPERTY(v == want && canonical(s, v));
	e = parse_id(s, max, &v);
	PROPERTY(!e == decimal_at_most(s, max, &want));
	if (!e)
		PROPERTY(v == want && canonical(s, v));
}

/*
 * parse_seconds takes exactly a plain decimal (no sign, no leading zero) with at most three
 * decimals whose value is above 0 and at most 3600, and gives it in milliseconds.
 */
static void check_seconds(const char *s)
{
	unsigned long ms = 0, whole_v;
	const char *e = parse_seconds(s, &ms);
	const char *dot = strchr(s, '.');
	size_t whole = dot ? (size_t)(dot - s) : strlen(s), frac = dot ? strlen(dot + 1) : 0;
	char w[16];
	bool shape = whole < sizeof(w) &&
		     (!dot || (frac >= 1 && frac <= 3 && strspn(dot + 1, "0123456789") == frac));
	if (shape) {
		memcpy(w, s, whole);
		w[whole] = '\0';
		shape = decimal_at_most(w, 4294967295UL, &whole_v);
	}
	double want = shape ? strtod(s, NULL) * 1000 : 0;
	bool in_range = shape && want >= 0.5 && want <= 3600000.5;
	PROPERTY(!e == in_range);
	if (!e)
		PROPERTY(ms >= 1 && ms <= 3600000 && (double)ms > want - 0.5 &&
			 (double)ms < want + 0.5);
}

static void check_mac(const char *s)
{
	uint8_t mac[6];
	if (parse_mac(s, mac))
		return;
	char again[18];
	snprintf(again, sizeof(again), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
		 mac[3], mac[4], mac[5]);
	PROPERTY(strlen(s) == 17 && !strcasecmp(again, s));
}

static void check_ips(const char *s, size_t max)
{
	struct ip_prefix one, list[IP_LIST_MAX];
	size_t n = 99;
	if (!parse_ip_prefix(s, &one)) {
		PROPERTY(!strchr(s, ' ') && !strchr(s, ','));
		check_prefix(&one);
	}
	const char *e = parse_ip_list(s, list, max, &n);
	if (e) {
		check_message(e, 512, 0);
		return;
	}
	PROPERTY(n <= max);
	/* The list written back, one space between entries, reads back as the same list. */
	char *text = calloc(n + 1, INET6_ADDRSTRLEN + 8);
	struct ip_prefix again[IP_LIST_MAX];
	size_t m = 99, len = 0;
	if (!text)
		abort();
	for (size_t i = 0; i < n; i++) {
		check_prefix(&list[i]);
		ip_prefix_format(&list[i], text + len, INET6_ADDRSTRLEN + 8);
		len += strlen(text + len);
		text[len++] = ' ';
	}
	text[len] = '\0';
	PROPERTY(parse_ip_list(text, again, max, &m) == NULL && m == n);
	for (size_t i = 0; i < n; i++)
		PROPERTY(same_prefix(&list[i], &again[i]));
	free(text);
}

static void check_yesno(const char *s)
{
	static const char *const yes[] = {"yes", "1", "true", "on"}, *const no[] = {"no", "0",
										    "false", "off"};
	bool v, want_yes = false, want_no = false;
	for (size_t i = 0; i < 4; i++) {
		want_yes |= !strcmp(s, yes[i]);
		want_no |= !strcmp(s, no[i]);
	}
	const char *e = parse_yesno(s, &v);
	PROPERTY(!e == (want_yes || want_no));
	if (!e)
		PROPERTY(v == want_yes);
}

static void check_vif_name(const char *s)
{
	unsigned domid, devid;
	bool emu;
	if (parse_vif_name(s, &domid, &devid, &emu))
		return;
	char again[64];
	snprintf(again, sizeof(again), "vif%u.%u%s", domid, devid, emu ? "-emu" : "");
	PROPERTY(!strcmp(again, s));
	PROPERTY(domid <= 32751 && devid <= 65535);
	PROPERTY(check_ifname(s) == NULL);
}

/* printable: bounded, printable only, and the input itself when short and plain. */
static void check_printable(const char *s, size_t len)
{
	char *buf = malloc(len ? len : 1);
	if (!buf)
		abort();
	const char *shown = printable(s, buf, len);
	if (len < 8) {
		PROPERTY(!strcmp(shown, ""));
	} else {
		check_message(shown, len, 1);
		bool plain = true;
		for (const unsigned char *c = (const unsigned char *)s; *c; c++)
			plain = plain && *c >= 0x20 && *c < 0x7f && *c != '\\';
		if (plain && strlen(s) + 8 < len)
			PROPERTY(!strcmp(shown, s));
		/* Not truncated: decoding the \xNN escapes gives back the input. */
		size_t n = strlen(shown);
		if (n < 3 || strcmp(shown + n - 3, "...")) {
			size_t o = 0;
			for (size_t i = 0; i < n; o++) {
				unsigned char want = (unsigned char)s[o];
				if (shown[i] == '\\') {
					PROPERTY(shown[i + 1] == 'x');
					PROPERTY(strtoul((char[]){shown[i + 2], shown[i + 3], 0},
							 NULL, 16) == want);
					i += 4;
				} else {
					PROPERTY((unsigned char)shown[i] == want);
					i++;
				}
			}
			PROPERTY(s[o] == '\0');
		}
	}
	free(buf);
}

static void check_invalid(const char *s, size_t errlen)
{
	char *err = malloc(errlen);
	if (!err)
		abort();
	params_invalid(err, errlen, "ip", s, "an address");
	check_message(err, errlen, errlen == 1);
	free(err);
}

static void check_parse(const struct pieces *p)
{
	struct params params;
	char err[256];
	char *argv[17];
	for (size_t i = 0; i < p->n; i++)
		argv[i] = p->s[i];
	argv[p->n] = NULL;
	if (params_parse(&params, (int)p->n, argv, err, sizeof(err)) < 0) {
		check_message(err, sizeof(err), 0);
		return;
	}
	PROPERTY(!strchr(params.prog, '/'));
	PROPERTY(params.n_args <= PARAMS_MAX_ARGS);
	if (params.command)
		PROPERTY(params.command[0] != '-' && !strchr(params.command, '='));
	for (size_t i = 0; i < params.n_args; i++) {
		const struct param_kv *kv = &params.args[i];
		PROPERTY(kv->key_len > 0 && kv->key[kv->key_len] == '=');
		PROPERTY(!memchr(kv->key, '=', kv->key_len));
		PROPERTY(kv->value == kv->key + kv->key_len + 1);
		/* The last of the same key wins. */
		char key[256];
		if (kv->key_len >= sizeof(key))
			continue;
		memcpy(key, kv->key, kv->key_len);
		key[kv->key_len] = '\0';
		const char *want = kv->value;
		for (size_t j = i + 1; j < params.n_args; j++)
			if (params.args[j].key_len == kv->key_len &&
			    !memcmp(params.args[j].key, key, kv->key_len))
				want = params.args[j].value;
		PROPERTY(params_get(&params, key) == want);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pieces p;
	if (size < 1)
		return 0;
	/* The first byte sets the sizes the validators are given, the rest are the strings. */
	unsigned knob = data[0];
	split(&p, data + 1, size - 1, 16);
	check_parse(&p);
	for (size_t i = 0; i < p.n; i++) {
		const char *s = p.s[i];
		check_ifname_value(s);
		check_numbers(s, knob * 257u);
		check_seconds(s);
		check_mac(s);
		check_ips(s, knob % (IP_LIST_MAX + 1));
		check_yesno(s);
		check_vif_name(s);
		check_printable(s, knob % 128);
		check_invalid(s, 1 + knob % 200);
	}
	free(p.buf);
	return 0;
}
