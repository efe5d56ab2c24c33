/*
 * Fuzz target: the edits of the DHCP servers' files (common/dhcpedit.c), on hostile file
 * contents and hostile names: refused or right, never out of bounds, never a line not meant.
 */
#include "dhcpedit.h"
#include "fuzz.h"

#include <stdbool.h>

/* The lines of a text, each without its newline and trailing blanks (as the edits compare). */
struct lines {
	char **v;
	size_t n;
	char *buf;
};

static void lines_of(const char *text, struct lines *l)
{
	size_t cap = 1;
	for (const char *c = text; *c; c++)
		cap += *c == '\n';
	l->buf = strdup(text);
	l->v = calloc(cap, sizeof(*l->v));
	if (!l->buf || !l->v)
		abort();
	l->n = 0;
	for (char *c = l->buf; *c;) {
		char *nl = strchr(c, '\n'), *end = nl ? nl : c + strlen(c);
		l->v[l->n++] = c;
		for (char *e = end; e > c && strchr(" \t\r\v\f", e[-1]); e--)
			e[-1] = '\0';
		if (!nl)
			break;
		*nl = '\0';
		c = nl + 1;
	}
}

static void lines_free(struct lines *l)
{
	free(l->v);
	free(l->buf);
}

static size_t count(const struct lines *l, const char *s)
{
	size_t n = 0;
	for (size_t i = 0; i < l->n; i++)
		n += !strcmp(l->v[i], s);
	return n;
}

/*
 * out holds no line that text did not (but line, or the lines allowed() accepts), and no
 * more copies of one than text had.
 */
static void no_new_lines(const char *text, const char *out, const char *line,
			 bool (*allowed)(const char *l, const void *arg), const void *arg)
{
	struct lines a, b;
	lines_of(text, &a);
	lines_of(out, &b);
	for (size_t i = 0; i < b.n; i++) {
		if ((line && !strcmp(b.v[i], line)) || (allowed && allowed(b.v[i], arg)))
			continue;
		PROPERTY(count(&b, b.v[i]) <= count(&a, b.v[i]));
	}
	lines_free(&a);
	lines_free(&b);
}

/* text with the newline the edits put after a last line that lacked one (as in the file orig). */
static char *with_final_newline(const char *text, const char *orig)
{
	size_t n = strlen(text);
	const char *first = strchr(orig, '\n');
	const char *nl = first && first > orig && first[-1] == '\r' ? "\r\n" : "\n";
	char *s = malloc(n + 3);
	if (!s)
		abort();
	memcpy(s, text, n + 1);
	if (n && text[n - 1] != '\n')
		strcat(s, nl);
	return s;
}

static bool eq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/*
 * The properties every entry edit has (ISC host lines, dnsmasq hosts lines, single lines):
 * edit(text, line) adds, edit(text, NULL) removes.
 */
typedef char *(*edit_fn)(const char *text, const char *line, const void *arg, const char **why);

static void check_entry_edit(const char *text, const char *line, edit_fn edit, const void *arg)
{
	const char *why = NULL;
	char *removed = edit(text, NULL, arg, &why);
	if (!removed)
		check_message(why, 512, 0);
	char *added = edit(text, line, arg, &why);
	if (strchr(line, '\n'))
		PROPERTY(!added); /* a line that would be two is never written */
	if (!added) {
		check_message(why, 512, 0);
		free(removed);
		return;
	}
	/* Whatever refuses removal refuses addition: both read the same file. */
	PROPERTY(removed);
	/* The line is there exactly once (trailing blanks aside: the edits trim them). */
	struct lines l;
	char *trimmed = strdup(line);
	if (!trimmed)
		abort();
	for (size_t n = strlen(trimmed); n && strchr(" \t\r\v\f", trimmed[n - 1]); n--)
		trimmed[n - 1] = '\0';
	no_new_lines(text, added, trimmed, NULL, NULL);
	no_new_lines(text, removed, NULL, NULL, NULL);
	lines_of(added, &l);
	PROPERTY(count(&l, trimmed) == 1);
	lines_free(&l);
	free(trimmed);

	/* Adding twice is adding once. */
	char *twice = edit(added, line, arg, &why);
	PROPERTY(eq(twice, added));
	/* Removing what was added gives the file without our entries. */
	char *back = edit(added, NULL, arg, &why);
	char *want = with_final_newline(removed, text);
	PROPERTY(eq(back, want) || eq(back, removed));
	/* And when the file had none, that is the file itself. */
	if (!strcmp(removed, text)) {
		char *orig = with_final_newline(text, text);
		PROPERTY(eq(back, orig) || eq(back, text));
		free(orig);
	}
	free(want);
	free(back);
	free(twice);
	free(added);
	free(removed);
}

struct host {
	const char *name, *mac;
};

static char *isc_edit(const char *text, const char *line, const void *arg, const char **why)
{
	const struct host *h = arg;
	return dhcpedit_isc_host(text, h->name, line, why);
}

static char *dnsmasq_edit(const char *text, const char *line, const void *arg, const char **why)
{
	const struct host *h = arg;
	return dhcpedit_dnsmasq_host(text, h->mac, h->name, line, why);
}

static char *line_edit(const char *text, const char *line, const void *arg, const char **why)
{
	const char *l = arg;
	return dhcpedit_line(text, l, line != NULL, why);
}

/* ---------------------------------------------------------------- the defaults file */

static const char *const vars[] = {"INTERFACESv4", "INTERFACES", "DHCPD_INTERFACE", "DHCPDARGS"};

/* The value of an interface list assignment on line l (the words, quotes taken off), or NULL. */
static const char *assignment(const char *l, char *value, size_t len)
{
	while (*l == ' ' || *l == '\t')
		l++;
	if (!strncmp(l, "export", 6) && (l[6] == ' ' || l[6] == '\t'))
		for (l += 6; *l == ' ' || *l == '\t';)
			l++;
	for (size_t i = 0; i < 4; i++) {
		size_t n = strlen(vars[i]);
		if (strncmp(l, vars[i], n) || l[n] != '=')
			continue;
		const char *v = l + n + 1, *e;
		if (*v == '"' || *v == '\'') {
			e = strchr(v + 1, *v);
			if (!e)
				return NULL;
			v++;
		} else {
			e = v + strcspn(v, " \t;");
		}
		snprintf(value, len, "%.*s", (int)(e - v), v);
		return vars[i];
	}
	return NULL;
}

static bool has_word(const char *value, const char *dev)
{
	size_t n = strlen(dev);
	for (const char *w = value; *w;) {
		w += strspn(w, " \t");
		size_t l = strcspn(w, " \t");
		if (l == n && !strncmp(w, dev, n))
			return true;
		w += l;
	}
	return false;
}

static bool iface_line(const char *l, const void *arg)
{
	char value[4096];
	(void)arg;
	return assignment(l, value, sizeof(value)) != NULL;
}

/* The property, not the library's rule: a name outside the characters a shell takes as part of
 * a plain word (and one starting with '-', an option) never reaches the defaults file. */
static bool dev_ok(const char *dev)
{
	if (!*dev || *dev == '-')
		return false;
	for (const char *c = dev; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || strchr("._-+@%=,", *c)))
			return false;
	return true;
}

/* After adding, some list names dev; after removing, none does. */
static void check_lists(const char *text, const char *dev, bool add)
{
	struct lines l;
	char value[4096];
	bool found = false;
	lines_of(text, &l);
	for (size_t i = 0; i < l.n; i++)
		if (assignment(l.v[i], value, sizeof(value)) && strlen(l.v[i]) < sizeof(value))
			found |= has_word(value, dev);
	lines_free(&l);
	if (add)
		PROPERTY(found);
	else
		PROPERTY(!found);
}

static void check_iface(const char *text, const char *dev)
{
	const char *why = NULL;
	char *added = dhcpedit_iface(text, dev, true, &why);
	if (!dev_ok(dev))
		PROPERTY(!added);
	if (!added) {
		check_message(why, 512, 0);
		return;
	}
	no_new_lines(text, added, NULL, iface_line, NULL);
	check_lists(added, dev, true);
	char *twice = dhcpedit_iface(added, dev, true, &why);
	PROPERTY(eq(twice, added));
	/* What could be removed before it was added can be removed after. */
	char *before = dhcpedit_iface(text, dev, false, &why);
	char *back = dhcpedit_iface(added, dev, false, &why);
	PROPERTY(back || !before);
	free(before);
	if (!back) {
		free(twice);
		free(added);
		return;
	}
	no_new_lines(text, back, NULL, iface_line, NULL);
	check_lists(back, dev, false);
	char *again = dhcpedit_iface(back, dev, false, &why);
	PROPERTY(eq(again, back));
	free(again);
	free(back);
	free(twice);
	free(added);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pieces p;
	char line[1024];

	split(&p, data, size, 3);
	/* The file, then a name (host name or interface), then a MAC address or a line. */
	const char *text = piece(&p, 0, ""), *name = piece(&p, 1, "dom1"),
		   *mac = piece(&p, 2, "00:16:3e:00:00:01");
	if (strlen(name) < 200 && strlen(mac) < 200) {
		struct host h = {name, mac};
		snprintf(line, sizeof(line),
			 "host %s { hardware ethernet %s; fixed-address 10.0.0.1; option routers "
			 "10.0.0.128; option host-name \"%s\"; }",
			 name, mac, name);
		if (*name)
			check_entry_edit(text, line, isc_edit, &h);
		snprintf(line, sizeof(line), "%s,10.0.0.1,%s", mac, name);
		if (*mac || *name)
			check_entry_edit(text, line, dnsmasq_edit, &h);
		check_iface(text, name);
	}
	const char *any = piece(&p, 2, "subnet 10.0.0.0 netmask 255.255.0.0 {}");
	if (strspn(any, " \t\r\v\f") < strlen(any))
		check_entry_edit(text, any, line_edit, any);
	free(p.buf);
	return 0;
}
