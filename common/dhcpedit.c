/* Pure text edits of the DHCP servers' files (dhcpd.conf, its defaults file, dnsmasq's hosts). */
#include "dhcpedit.h"
#include "params.h"

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

/* One line of a text: [p, end) without its newline, next the start of the following line. */
struct line {
	const char *p, *end, *next;
};

static bool next_line(const char **cur, struct line *l)
{
	if (!**cur)
		return false;
	const char *nl = strchr(*cur, '\n');
	l->p = *cur;
	l->end = nl ? nl : *cur + strlen(*cur);
	l->next = nl ? nl + 1 : l->end;
	*cur = l->next;
	return true;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* The end of [p, end) without trailing blanks (a CR included). */
static const char *trim_end(const char *p, const char *end)
{
	while (end > p && blank(end[-1]))
		end--;
	return end;
}

/* Is the line [p, end) the text s, trailing blanks aside on both? */
static bool same_line(const char *p, const char *end, const char *s)
{
	end = trim_end(p, end);
	size_t n = (size_t)(trim_end(s, s + strlen(s)) - s);
	return (size_t)(end - p) == n && !memcmp(p, s, n);
}

/* The newline the file uses, judged by its first line, so an added line matches the others. */
static const char *newline_of(const char *text)
{
	const char *nl = strchr(text, '\n');
	return nl && nl > text && nl[-1] == '\r' ? "\r\n" : "\n";
}

/* Append line as a line of its own, after a newline the text may lack. */
static void append_line(struct out *o, const char *line, const char *nl)
{
	if (o->len && o->s[o->len - 1] != '\n')
		puts_(o, nl);
	put(o, line, (size_t)(trim_end(line, line + strlen(line)) - line));
	puts_(o, nl);
}

/* A line to write: one line, not empty (a stray newline would split it or add a blank one). */
static const char *check_new_line(const char *line)
{
	if (strchr(line, '\n'))
		return "the text to add is more than one line";
	if (trim_end(line, line + strlen(line)) == line)
		return "the line to add or remove is empty";
	return NULL;
}

/*
 * The shape every entry edit has: each line is_entry() calls an entry (1) goes, but for one
 * equal to line, which stays where it is so that a repeated edit changes nothing; line is
 * appended when it was not there (NULL: remove only).  is_entry returns -1, with *why set, to
 * refuse the edit.
 */
typedef int (*entry_fn)(const struct line *l, void *state, const char **why);

static char *replace_entry(const char *text, const char *line, entry_fn is_entry, void *state,
			   const char **why)
{
	struct out o = {0};
	struct line l;
	bool kept = false;

	if (line && (*why = check_new_line(line)))
		return NULL;
	for (const char *cur = text; next_line(&cur, &l);) {
		int entry = is_entry(&l, state, why);
		if (entry < 0)
			return fail(&o, why, *why);
		bool keep = !entry || (line && !kept && same_line(l.p, l.end, line));
		if (keep)
			put(&o, l.p, (size_t)(l.next - l.p));
		kept |= keep && entry;
	}
	if (line && !kept)
		append_line(&o, line, newline_of(text));
	return finish(&o, why);
}

/* ---------------------------------------------------------------- dhcpd.conf */

enum tok_kind { T_END, T_WORD, T_STRING, T_PUNCT };

struct tok {
	enum tok_kind kind;
	const char *s; /* a string's content, without its quotes */
	size_t n;
	bool unterminated; /* a string that goes on past the line */
};

/* The next token of dhcpd.conf's syntax on [p, end): words, strings, braces; '#' ends it. */
static const char *isc_token(const char *p, const char *end, struct tok *t)
{
	while (p < end && blank(*p))
		p++;
	*t = (struct tok){.kind = T_END, .s = p};
	if (p == end || *p == '#')
		return end;
	if (*p == '"') {
		const char *q = ++p;
		while (q < end && *q != '"')
			q += *q == '\\' && q + 1 < end ? 2 : 1;
		*t = (struct tok){
		    .kind = T_STRING, .s = p, .n = (size_t)(q - p), .unterminated = q >= end};
		return q < end ? q + 1 : end;
	}
	if (strchr("{};,", *p)) {
		*t = (struct tok){.kind = T_PUNCT, .s = p, .n = 1};
		return p + 1;
	}
	const char *q = p;
	while (q < end && !blank(*q) && !strchr("{};,\"#", *q))
		q++;
	*t = (struct tok){.kind = T_WORD, .s = p, .n = (size_t)(q - p)};
	return q;
}

static bool tok_is(const struct tok *t, enum tok_kind kind, const char *s, bool nocase)
{
	size_t n = strlen(s);
	return t->kind == kind && t->n == n &&
	       !(nocase ? strncasecmp(t->s, s, n) : memcmp(t->s, s, n));
}

/*
 * Does the line [p, end) declare host name?  1: a whole one-line declaration "host name { ... }"
 * (a comment may follow), which can be taken out; 2: a declaration of it that is more than this
 * line or shares it with other statements; 0: no.  Keywords are case-insensitive to dhcpd.
 * *delta: how much the line opens (or, negative, closes) blocks.
 */
static int isc_host_decl(const char *p, const char *end, const char *name, int *delta)
{
	struct tok prev = {.kind = T_END}, t;
	int n = 0, depth = 0, closed_at = -1;
	bool mentions = false, leading = false, bad = false;

	for (;; n++) {
		p = isc_token(p, end, &t);
		if (t.kind == T_END)
			break;
		bool is_name = tok_is(&t, T_WORD, name, false) || tok_is(&t, T_STRING, name, false);
		if (is_name && tok_is(&prev, T_WORD, "host", true)) {
			mentions = true;
			if (n == 1)
				leading = true;
			else
				bad = true;
		}
		if (t.unterminated)
			bad = true;
		/* "host name" must open its block on this line. */
		if (n == 2 && leading && !tok_is(&t, T_PUNCT, "{", false))
			bad = true;
		if (tok_is(&t, T_PUNCT, "{", false)) {
			depth++;
		} else if (tok_is(&t, T_PUNCT, "}", false)) {
			if (--depth < 0)
				bad = true;
			if (depth == 0 && closed_at < 0)
				closed_at = n;
		}
		prev = t;
	}
	*delta = depth;
	if (!mentions)
		return 0;
	return leading && !bad && depth == 0 && closed_at == n - 1 ? 1 : 2;
}

struct isc_entry {
	const char *name;
	int depth; /* how deep in blocks the line starts */
};

static int isc_entry(const struct line *l, void *state, const char **why)
{
	struct isc_entry *e = state;
	int delta, decl = isc_host_decl(l->p, l->end, e->name, &delta);
	/* Inside a group or subnet block: taking it out would change that block. */
	if (decl == 1 && e->depth > 0)
		decl = 2;
	e->depth = e->depth + delta > 0 ? e->depth + delta : 0;
	if (decl == 2) {
		*why = "it declares this host over several lines, or inside another statement, "
		       "itself; remove that declaration or choose another guest address";
		return -1;
	}
	return decl;
}

char *dhcpedit_isc_host(const char *text, const char *name, const char *line, const char **why)
{
	struct isc_entry e = {name, 0};
	int delta;
	if (!*name) {
		*why = "no host name given";
		return NULL;
	}
	/* A line the next edit would not take for this host's would be added again each time. */
	if (line && !check_new_line(line) &&
	    isc_host_decl(line, line + strlen(line), name, &delta) != 1) {
		*why = "the line to add is not a one-line declaration of this host";
		return NULL;
	}
	char *out = replace_entry(text, line, isc_entry, &e, why);
	/* A block left open at the end would take in the line appended after it. */
	if (out && line && e.depth > 0) {
		free(out);
		*why = "it ends inside a block (a '{' without its '}'), where a host line added at "
		       "the end would land; close that block";
		return NULL;
	}
	return out;
}

/* ---------------------------------------------------------------- the defaults file */

static const char *const iface_vars[] = {"INTERFACESv4", "INTERFACES", "DHCPD_INTERFACE",
					 "DHCPDARGS"};
#define N_IFACE_VARS (sizeof(iface_vars) / sizeof(iface_vars[0]))

/* Characters the shell treats specially outside quotes (blanks and ';' end the value). */
#define SHELL_SPECIAL "$`\\\"'&|<>()*?[]~{}!#"

static const char *skip_blank(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* Index in iface_vars of the variable assigned on [p, end), value start in *val; else -1. */
static int iface_assignment(const char *p, const char *end, const char **val)
{
	p = skip_blank(p, end);
	if ((size_t)(end - p) > 6 && !memcmp(p, "export", 6) && (p[6] == ' ' || p[6] == '\t'))
		p = skip_blank(p + 6, end);
	for (size_t i = 0; i < N_IFACE_VARS; i++) {
		size_t n = strlen(iface_vars[i]);
		if ((size_t)(end - p) > n && !memcmp(p, iface_vars[i], n) && p[n] == '=') {
			*val = p + n + 1;
			return (int)i;
		}
	}
	return -1;
}

/* The next blank-separated word of [*w, vend), *len long, *w moved past it; NULL at the end. */
static const char *next_word(const char **w, const char *vend, size_t *len)
{
	const char *s = skip_blank(*w, vend), *e = s;
	while (e < vend && *e != ' ' && *e != '\t')
		e++;
	*w = e;
	*len = (size_t)(e - s);
	return e > s ? s : NULL;
}

static bool is_word(const char *w, size_t len, const char *dev)
{
	return len == strlen(dev) && !memcmp(w, dev, len);
}

/* Does the word list [v, vend) hold dev as a word of its own? */
static bool has_word(const char *v, const char *vend, const char *dev)
{
	size_t len;
	for (const char *w; (w = next_word(&v, vend, &len));)
		if (is_word(w, len, dev))
			return true;
	return false;
}

/*
 * Rewrite the assignment whose value starts at val on [line, end): dev added or removed, the
 * other words kept in order, the value double-quoted, whatever follows it (a comment, a ';')
 * kept.  NULL, or why it cannot be done without changing what the shell makes of it.
 */
static const char *rewrite_iface(struct out *o, const char *line, const char *val, const char *end,
				 const char *dev, bool add)
{
	static const char shell[] =
	    "an interface list uses shell expansions, escapes or quoting that cannot be edited as "
	    "a list of words; write it as INTERFACES=\"eth0 eth1\"";
	/* A CR before the newline is the line's end, not part of an unquoted value. */
	const char *lend = end > line && end[-1] == '\r' ? end - 1 : end;
	const char *v = val, *vend, *after;
	char quote = 0;

	if (v < lend && (*v == '"' || *v == '\'')) {
		quote = *v++;
		vend = memchr(v, quote, (size_t)(lend - v));
		if (!vend)
			return "an interface list has no closing quote on its line";
		after = vend + 1;
	} else {
		vend = v;
		while (vend < lend && *vend != ' ' && *vend != '\t' && *vend != ';')
			vend++;
		after = vend;
	}
	/* A value glued to more text ("a"b, "a"#b) is one shell word this cannot rewrite, nor
	 * say whether dev is in it. */
	bool glued = after < lend && *after != ' ' && *after != '\t' && *after != ';';
	bool present = has_word(v, vend, dev);
	if (present && glued)
		return shell;
	if (present == add) {
		put(o, line, (size_t)(end - line));
		return NULL;
	}
	if (glued)
		return shell;
	const char *bad = quote == '"' ? "$`\\" : quote ? "$`\\\"" : SHELL_SPECIAL;
	for (const char *c = v; c < vend; c++)
		if (strchr(bad, *c))
			return shell;

	put(o, line, (size_t)(val - line));
	puts_(o, "\"");
	bool any = false;
	size_t len;
	for (const char *w, *rest = v; (w = next_word(&rest, vend, &len));) {
		if (is_word(w, len, dev))
			continue;
		if (any)
			puts_(o, " ");
		put(o, w, len);
		any = true;
	}
	if (add) {
		if (any)
			puts_(o, " ");
		puts_(o, dev);
	}
	puts_(o, "\"");
	put(o, after, (size_t)(end - after));
	return NULL;
}

/* The file is sourced by the init script's shell: a name must mean itself inside quotes. */
char *dhcpedit_iface(const char *text, const char *dev, bool add, const char **why)
{
	struct out o = {0};
	struct line l;
	const char *val;

	/* The defaults file is read by a shell: the programs' one rule for names keeps it safe. */
	const char *expected = check_ifname(dev);
	if (expected)
		return fail(&o, why, expected);
	/* Which variable takes the device: the first of the list the file assigns. */
	int target = -1;
	for (const char *cur = text; next_line(&cur, &l);) {
		int i = iface_assignment(l.p, l.end, &val);
		if (i >= 0 && (target < 0 || i < target))
			target = i;
		/* Refused for adding as for removing, so that what was added can be removed. */
		if (i >= 0 && (*val == '"' || *val == '\'') &&
		    !memchr(val + 1, *val, (size_t)(l.end - val - 1)))
			return fail(&o, why, "an interface list has no closing quote on its line");
	}
	for (const char *cur = text; next_line(&cur, &l);) {
		int i = iface_assignment(l.p, l.end, &val);
		if (i >= 0 && (!add || i == target)) {
			const char *e = rewrite_iface(&o, l.p, val, l.end, dev, add);
			if (e)
				return fail(&o, why, e);
			put(&o, l.end, (size_t)(l.next - l.end));
		} else {
			put(&o, l.p, (size_t)(l.next - l.p));
		}
	}
	if (add && target < 0) {
		const char *nl = newline_of(text);
		if (o.len && o.s[o.len - 1] != '\n')
			puts_(&o, nl);
		puts_(&o, "INTERFACESv4=\"");
		puts_(&o, dev);
		puts_(&o, "\"");
		puts_(&o, nl);
	}
	return finish(&o, why);
}

/* ---------------------------------------------------------------- dnsmasq's hosts file */

/* Is any comma-separated field of [p, end), blanks trimmed, s (ignoring case)? */
static bool has_field(const char *p, const char *end, const char *s)
{
	size_t n = strlen(s);
	if (!n)
		return false;
	while (p <= end) {
		const char *c = memchr(p, ',', (size_t)(end - p));
		const char *fe = c ? c : end;
		const char *f = skip_blank(p, fe);
		fe = trim_end(f, fe);
		if ((size_t)(fe - f) == n && !strncasecmp(f, s, n))
			return true;
		if (!c)
			break;
		p = c + 1;
	}
	return false;
}

struct dnsmasq_entry {
	const char *mac, *name;
};

static int dnsmasq_entry(const struct line *l, void *state, const char **why)
{
	(void)why;
	const struct dnsmasq_entry *e = state;
	const char *s = skip_blank(l->p, l->end);
	/* dnsmasq compares MAC addresses and host names without regard to case. */
	return s < l->end && *s != '#' &&
	       (has_field(l->p, l->end, e->mac) || has_field(l->p, l->end, e->name));
}

char *dhcpedit_dnsmasq_host(const char *text, const char *mac, const char *name, const char *line,
			    const char **why)
{
	struct dnsmasq_entry e = {mac, name};
	const char *end = line ? line + strlen(line) : NULL;
	/* A line the next edit would not take for this guest's would be added again each time. */
	if (line && !check_new_line(line) &&
	    !dnsmasq_entry(&(struct line){line, end, end}, &e, why)) {
		*why = "the line to add names neither this MAC address nor this host name";
		return NULL;
	}
	return replace_entry(text, line, dnsmasq_entry, &e, why);
}

/* ---------------------------------------------------------------- any line */

static int same_entry(const struct line *l, void *state, const char **why)
{
	(void)why;
	return same_line(l->p, l->end, state);
}

char *dhcpedit_line(const char *text, const char *line, bool add, const char **why)
{
	if ((*why = check_new_line(line)))
		return NULL;
	return replace_entry(text, add ? line : NULL, same_entry, (void *)line, why);
}
