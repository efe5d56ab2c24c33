/* A guest card's VLANs: the grammar of libxl's vlan node, parsed into a set.  Pure code, fuzzed. */
#include "vlan.h"

#include "params.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char grammar[] =
    "VLAN IDs from 1 to 4094 joined by '/', each N, Np (the PVID), Nu (untagged), A-B[u] (a "
    "range) or N+OxC[u] (C IDs from N in steps of O), like 10, 10p/20 or 10p/100+10x4";

bool vlan_has(const struct vlan_set *s, unsigned vid)
{
	return vid >= 1 && vid <= VLAN_ID_MAX && (s->member[vid / 8] & (1u << (vid % 8)));
}

bool vlan_is_untagged(const struct vlan_set *s, unsigned vid)
{
	return vlan_has(s, vid) && (s->untagged[vid / 8] & (1u << (vid % 8)));
}

void vlan_put(struct vlan_set *s, unsigned vid, bool member, bool untagged)
{
	if (vid < 1 || vid > VLAN_ID_MAX)
		return;
	uint8_t bit = (uint8_t)(1u << (vid % 8));
	if (member != vlan_has(s, vid))
		s->count = (uint16_t)(s->count + (member ? 1 : -1));
	s->member[vid / 8] =
	    (uint8_t)(member ? s->member[vid / 8] | bit : s->member[vid / 8] & ~bit);
	untagged = member && untagged;
	s->untagged[vid / 8] =
	    (uint8_t)(untagged ? s->untagged[vid / 8] | bit : s->untagged[vid / 8] & ~bit);
}

bool vlan_equal(const struct vlan_set *a, const struct vlan_set *b)
{
	return a->pvid == b->pvid && a->count == b->count &&
	       !memcmp(a->member, b->member, sizeof(a->member)) &&
	       !memcmp(a->untagged, b->untagged, sizeof(a->untagged));
}

/*
 * A decimal number of at most 4 digits without sign or leading zero, at *p; its end goes back
 * in *p.  Larger numbers are read to their end too, as VLAN_ID_MAX + 1, so that the message
 * can say they are out of range rather than that they are no number.
 */
static bool number(const char **p, unsigned *v)
{
	const char *s = *p;
	size_t n = strspn(s, "0123456789");
	if (n == 0 || (s[0] == '0' && n > 1))
		return false;
	*v = 0;
	for (size_t i = 0; i < n; i++)
		*v = *v > VLAN_ID_MAX ? VLAN_ID_MAX + 1 : *v * 10 + (unsigned)(s[i] - '0');
	*p = s + n;
	return true;
}

/* The message: what was expected, then what is wrong; returns why. */
static const char *wrong(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static const char *wrong(char *why, size_t len, const char *fmt, ...)
{
	char what[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(why, len, "%s, but %s", grammar, what);
	return why;
}

/* The term at at, as far as the next '/', for a message: short and printable. */
static const char *snippet(const char *at, char *buf, size_t len)
{
	char raw[17];
	size_t n = strcspn(at, "/");
	if (n >= sizeof(raw))
		n = sizeof(raw) - 1;
	memcpy(raw, at, n);
	raw[n] = '\0';
	return printable(raw, buf, len);
}

/* Add one ID of a term, refusing what the grammar does not allow. */
static const char *add(struct vlan_set *s, unsigned vid, bool untagged, char *why, size_t len)
{
	if (vid < 1 || vid > VLAN_ID_MAX)
		return vid > VLAN_ID_MAX ? wrong(why, len, "an ID is above 4094")
					 : wrong(why, len, "0 is no VLAN ID");
	if (vlan_has(s, vid))
		return wrong(why, len, "VLAN %u is given twice", vid);
	vlan_put(s, vid, true, untagged);
	return NULL;
}

/* The phrase for a term that is not of the grammar. */
static const char *syntax(const char *at, char *why, size_t len)
{
	char t[80];
	if (!*at || *at == '/')
		return wrong(why, len, "a term is empty");
	return wrong(why, len,
		     "the term '%s' is none of N, Np, Nu, A-B[u], N+OxC[u] (plain decimal numbers)",
		     snippet(at, t, sizeof(t)));
}

/* One term, from *p to the next '/' or the end, which *p is left at. */
static const char *term(const char **p, struct vlan_set *s, char *why, size_t len)
{
	unsigned first, last, step, n;
	const char *at = *p, *e;

	if (!number(p, &first))
		return syntax(at, why, len);
	if (**p == 'p') {
		(*p)++;
		if (**p && **p != '/')
			return syntax(at, why, len);
		if (s->pvid)
			return wrong(why, len, "there are two PVIDs, %u and %u", s->pvid, first);
		if (!(e = add(s, first, true, why, len)))
			s->pvid = (uint16_t)first;
		return e;
	}
	if (**p == '-') {
		(*p)++;
		if (!number(p, &last))
			return syntax(at, why, len);
		bool u = **p == 'u';
		*p += u;
		if (**p && **p != '/')
			return syntax(at, why, len);
		if (last < first)
			return wrong(why, len, "the range %u-%u runs backwards", first, last);
		for (unsigned v = first; v <= last; v++)
			if ((e = add(s, v, u, why, len)))
				return e;
		return NULL;
	}
	if (**p == '+') {
		(*p)++;
		if (!number(p, &step) || **p != 'x')
			return syntax(at, why, len);
		(*p)++;
		if (!number(p, &n))
			return syntax(at, why, len);
		bool u = **p == 'u';
		*p += u;
		if (**p && **p != '/')
			return syntax(at, why, len);
		if (n == 0)
			return wrong(why, len, "%u+%ux0 counts no ID", first, step);
		/* number() caps each at 4095: the last ID cannot overflow. */
		if (first + step * (n - 1) > VLAN_ID_MAX)
			return wrong(why, len, "the %u IDs from %u in steps of %u go past 4094", n,
				     first, step);
		for (unsigned i = 0, v = first; i < n; i++, v += step)
			if ((e = add(s, v, u, why, len)))
				return e;
		return NULL;
	}
	bool u = **p == 'u';
	*p += u;
	if (**p && **p != '/')
		return syntax(at, why, len);
	return add(s, first, u, why, len);
}

const char *vlan_parse(const char *s, struct vlan_set *out, char *why, size_t whylen)
{
	memset(out, 0, sizeof(*out));
	if (!*s)
		return wrong(why, whylen, "it is empty");
	for (const char *p = s;; p++) {
		const char *e = term(&p, out, why, whylen);
		if (e)
			return e;
		if (!*p)
			break;
	}
	if (!out->pvid) {
		if (out->count > 1)
			return wrong(why, whylen,
				     "no ID is the PVID: with several IDs, mark one with p");
		/* A single ID is the PVID, untagged, whatever its suffix said. */
		for (unsigned v = 1; v <= VLAN_ID_MAX; v++)
			if (vlan_has(out, v)) {
				out->pvid = (uint16_t)v;
				vlan_put(out, v, true, true);
				break;
			}
	}
	return NULL;
}

/* Append to buf at *o; what does not fit ends the text with "...", over its end if need be. */
static bool append(char *buf, size_t len, size_t *o, const char *text)
{
	size_t n = strlen(text);
	if (*o + n + 1 > len) {
		if (len >= 4)
			memcpy(buf + (*o + 4 > len ? len - 4 : *o), "...", 4);
		return false;
	}
	memcpy(buf + *o, text, n + 1);
	*o += n;
	return true;
}

void vlan_format(const struct vlan_set *s, char *buf, size_t len)
{
	size_t o = 0;
	if (len == 0)
		return;
	buf[0] = '\0';
	if (!s->count) {
		snprintf(buf, len, "none");
		return;
	}
	for (unsigned v = 1; v <= VLAN_ID_MAX; v++) {
		if (!vlan_has(s, v))
			continue;
		char text[24];
		const char *sep = o ? "/" : "";
		if (v == s->pvid) {
			snprintf(text, sizeof(text), "%s%up", sep, v);
		} else {
			/* A run of the same flag, not crossing the PVID. */
			bool u = vlan_is_untagged(s, v);
			unsigned end = v;
			while (end < VLAN_ID_MAX && vlan_has(s, end + 1) && end + 1 != s->pvid &&
			       vlan_is_untagged(s, end + 1) == u)
				end++;
			if (end > v)
				snprintf(text, sizeof(text), "%s%u-%u%s", sep, v, end,
					 u ? "u" : "");
			else
				snprintf(text, sizeof(text), "%s%u%s", sep, v, u ? "u" : "");
			v = end;
		}
		if (!append(buf, len, &o, text))
			return;
	}
}
