/* Pure text edits of the DHCP servers' files (dhcpd.conf, its defaults file, dnsmasq's hosts). */
#include "dhcpedit.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A growing output text. */
struct out {
	char *s;
	size_t len, cap;
	bool failed;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->failed)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = (o->cap ? o->cap : 256) * 2;
		while (cap < o->len + n + 1)
			cap *= 2;
		char *p = realloc(o->s, cap);
		if (!p) {
			o->failed = true;
			return;
		}
		o->s = p;
		o->cap = cap;
	}
	memcpy(o->s + o->len, s, n);
	o->len += n;
	o->s[o->len] = '\0';
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static char *finish(struct out *o, const char **why)
{
	put(o, "", 0);
	if (o->failed) {
		free(o->s);
		*why = "out of memory";
		return NULL;
	}
	return o->s;
}

static char *fail(struct out *o, const char **why, const char *reason)
{
	free(o->s);
	*why = reason;
	return NULL;
}

/* Append line as a line of its own, after a newline the text may lack. */
static void append_line(struct out *o, const char *line)
{
	if (o->len && o->s[o->len - 1] != '\n')
		puts_(o, "\n");
	puts_(o, line);
	puts_(o, "\n");
}

static const char *skip_blank(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* Does [p, end) start with word followed by a blank, '{' or the end? */
static const char *word(const char *p, const char *end, const char *w)
{
	size_t n = strlen(w);
	if ((size_t)(end - p) < n || memcmp(p, w, n))
		return NULL;
	p += n;
	if (p < end && *p != ' ' && *p != '\t' && *p != '{' && *p != ';')
		return NULL;
	return p;
}

/* The line [p, end) declares host name: 1 on one line ("{ ... }"), 2 spread over more, else 0. */
static int isc_host_decl(const char *p, const char *end, const char *name)
{
	p = skip_blank(p, end);
	if (!(p = word(p, end, "host")))
		return 0;
	const char *q = skip_blank(p, end);
	if (q == p)
		return 0;
	/* The name may be quoted. */
	bool quoted = q < end && *q == '"';
	if (!(q = word(q + quoted, end, name)))
		return 0;
	if (quoted) {
		if (q >= end || *q != '"')
			return 0;
		q++;
	}
	q = skip_blank(q, end);
	if (q < end && *q != '{')
		return 0;
	const char *e = end;
	while (e > q && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	return q < end && e > q && e[-1] == '}' ? 1 : 2;
}

char *dhcpedit_isc_host(const char *text, const char *name, const char *line, const char **why)
{
	struct out o = {0};
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		const char *end = nl ? nl : p + strlen(p);
		const char *next = nl ? nl + 1 : end;
		int decl = isc_host_decl(p, end, name);
		if (decl == 2)
			return fail(&o, why,
				    "it declares this host over several lines itself; remove that "
				    "declaration or choose another guest address");
		if (!decl)
			put(&o, p, (size_t)(next - p));
		p = next;
	}
	if (line)
		append_line(&o, line);
	return finish(&o, why);
}

static const char *const iface_vars[] = {"INTERFACESv4", "INTERFACES", "DHCPD_INTERFACE",
					 "DHCPDARGS"};
#define N_IFACE_VARS (sizeof(iface_vars) / sizeof(iface_vars[0]))

/* Index in iface_vars of the variable assigned on [p, end), value start in *val; else -1. */
static int iface_assignment(const char *p, const char *end, const char **val)
{
	p = skip_blank(p, end);
	const char *q = word(p, end, "export");
	if (q)
		p = skip_blank(q, end);
	for (size_t i = 0; i < N_IFACE_VARS; i++) {
		size_t n = strlen(iface_vars[i]);
		if ((size_t)(end - p) > n && !memcmp(p, iface_vars[i], n) && p[n] == '=') {
			*val = p + n + 1;
			return (int)i;
		}
	}
	return -1;
}

/*
 * Rewrite the assignment whose value starts at val on [line, end): dev added or removed, the
 * words kept, the value double-quoted, whatever follows it (a comment) kept.
 */
static const char *rewrite_iface(struct out *o, const char *line, const char *val, const char *end,
				 const char *dev, bool add)
{
	const char *v = val, *vend;
	char quote = 0;
	if (v < end && (*v == '"' || *v == '\'')) {
		quote = *v++;
		vend = memchr(v, quote, (size_t)(end - v));
		if (!vend)
			return "an interface list has no closing quote";
	} else {
		vend = v;
		while (vend < end && *vend != ' ' && *vend != '\t' && *vend != '#')
			vend++;
	}
	size_t dl = strlen(dev);
	bool had = false;
	for (const char *w = v; w < vend && !had;) {
		while (w < vend && (*w == ' ' || *w == '\t'))
			w++;
		const char *we = w;
		while (we < vend && *we != ' ' && *we != '\t')
			we++;
		had = we > w && (size_t)(we - w) == dl && !memcmp(w, dev, dl);
		w = we;
	}
	if (had == add) {
		put(o, line, (size_t)(end - line));
		return NULL;
	}
	/* Shell expansions cannot be edited as a word list without changing their meaning. */
	for (const char *c = v; c < vend; c++)
		if (*c == '$' || *c == '`' || *c == '\\' || (!quote && (*c == '"' || *c == '\'')))
			return "an interface list uses shell expansions or escapes";
	put(o, line, (size_t)(val - line));
	puts_(o, "\"");
	bool any = false, present = false;
	for (const char *w = v; w < vend;) {
		while (w < vend && (*w == ' ' || *w == '\t'))
			w++;
		const char *we = w;
		while (we < vend && *we != ' ' && *we != '\t')
			we++;
		if (we == w)
			break;
		bool is_dev = (size_t)(we - w) == dl && !memcmp(w, dev, dl);
		if (is_dev && (present || !add)) {
			w = we;
			continue;
		}
		present |= is_dev;
		if (any)
			puts_(o, " ");
		put(o, w, (size_t)(we - w));
		any = true;
		w = we;
	}
	if (add && !present) {
		if (any)
			puts_(o, " ");
		puts_(o, dev);
	}
	puts_(o, "\"");
	put(o, vend + (quote ? 1 : 0), (size_t)(end - vend - (quote ? 1 : 0)));
	return NULL;
}

char *dhcpedit_iface(const char *text, const char *dev, bool add, const char **why)
{
	/* Which variable takes the device: the first of the list the file assigns. */
	int target = -1;
	const char *val;
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		const char *end = nl ? nl : p + strlen(p);
		int i = iface_assignment(p, end, &val);
		if (i >= 0 && (target < 0 || i < target))
			target = i;
		p = nl ? nl + 1 : end;
	}
	struct out o = {0};
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		const char *end = nl ? nl : p + strlen(p);
		int i = iface_assignment(p, end, &val);
		if (i >= 0 && (!add || i == target)) {
			const char *e = rewrite_iface(&o, p, val, end, dev, add);
			if (e)
				return fail(&o, why, e);
			if (nl)
				puts_(&o, "\n");
		} else {
			put(&o, p, (size_t)((nl ? nl + 1 : end) - p));
		}
		p = nl ? nl + 1 : end;
	}
	if (add && target < 0) {
		if (o.len && o.s[o.len - 1] != '\n')
			puts_(&o, "\n");
		puts_(&o, "INTERFACESv4=\"");
		puts_(&o, dev);
		puts_(&o, "\"\n");
	}
	return finish(&o, why);
}

/* Field k (0-based) of a comma-separated line [p, end), blanks trimmed. */
static bool field(const char *p, const char *end, int k, const char **f, size_t *n)
{
	for (; k > 0; k--) {
		const char *c = memchr(p, ',', (size_t)(end - p));
		if (!c)
			return false;
		p = c + 1;
	}
	const char *c = memchr(p, ',', (size_t)(end - p));
	const char *fe = c ? c : end;
	p = skip_blank(p, fe);
	while (fe > p && (fe[-1] == ' ' || fe[-1] == '\t' || fe[-1] == '\r'))
		fe--;
	*f = p;
	*n = (size_t)(fe - p);
	return true;
}

static int count_fields(const char *p, const char *end)
{
	int n = 1;
	for (; p < end; p++)
		n += *p == ',';
	return n;
}

char *dhcpedit_dnsmasq_host(const char *text, const char *mac, const char *name, const char *line,
			    const char **why)
{
	struct out o = {0};
	size_t ml = strlen(mac), nl_ = strlen(name);
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		const char *end = nl ? nl : p + strlen(p);
		const char *next = nl ? nl + 1 : end;
		const char *f;
		size_t n;
		const char *s = skip_blank(p, end);
		bool drop = false;
		if (s < end && *s != '#') {
			if (field(p, end, 0, &f, &n) && n == ml && !strncasecmp(f, mac, ml))
				drop = true;
			int last = count_fields(p, end) - 1;
			if (last > 0 && field(p, end, last, &f, &n) && n == nl_ &&
			    !memcmp(f, name, nl_))
				drop = true;
		}
		if (!drop)
			put(&o, p, (size_t)(next - p));
		p = next;
	}
	if (line)
		append_line(&o, line);
	return finish(&o, why);
}

char *dhcpedit_line(const char *text, const char *line, bool add, const char **why)
{
	struct out o = {0};
	size_t ll = strlen(line);
	bool kept = false;
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		const char *end = nl ? nl : p + strlen(p);
		const char *next = nl ? nl + 1 : end;
		const char *e = end;
		while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			e--;
		bool same = (size_t)(e - p) == ll && !memcmp(p, line, ll);
		if (!same || (add && !kept))
			put(&o, p, (size_t)(next - p));
		kept |= same;
		p = next;
	}
	if (add && !kept)
		append_line(&o, line);
	return finish(&o, why);
}
