/*
 * Fuzz target: the JSON string writer of the status commands (common/json.c).  Any bytes in:
 * the output must be one valid JSON string (checked by a strict validator written here, not
 * by the code under test), hold no raw control character, be valid UTF-8, and decode to the
 * input with each byte that is not valid UTF-8 replaced by U+FFFD.
 */
#include "fuzz.h"
#include "json.h"

#include <stdbool.h>

/* A growing byte buffer. */
struct buf {
	unsigned char *p;
	size_t n, cap;
};

static void add(struct buf *b, const void *s, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 16;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

static void add_utf8(struct buf *b, uint32_t cp)
{
	unsigned char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | cp >> 6);
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | cp >> 12);
		u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xf0 | cp >> 18);
		u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	add(b, u, n);
}

/*
 * Decode one UTF-8 character at s (n bytes left) the long way, by the definition: the code
 * point, its length in *len; -1 when s does not start a valid character (RFC 3629).
 */
static long decode_utf8(const unsigned char *s, size_t n, size_t *len)
{
	uint32_t cp;
	size_t need;
	if (s[0] < 0x80) {
		*len = 1;
		return s[0];
	}
	if ((s[0] & 0xe0) == 0xc0) {
		need = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		need = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		need = 4;
		cp = s[0] & 0x07;
	} else {
		return -1;
	}
	if (n < need)
		return -1;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
	if (cp < least[need] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*len = need;
	return cp;
}

static int hex4(const unsigned char *s, uint32_t *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		unsigned char c = s[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;
		if (d < 0)
			return -1;
		*v = *v << 4 | (uint32_t)d;
	}
	return 0;
}

/* Validate the JSON string text[0..n) strictly (RFC 8259) and decode it into out. */
static void parse_json_string(const unsigned char *t, size_t n, struct buf *out)
{
	PROPERTY(n >= 2 && t[0] == '"' && t[n - 1] == '"');
	size_t i = 1;
	while (i < n - 1) {
		unsigned char c = t[i];
		PROPERTY(c >= 0x20 && c != 0x7f); /* never a raw control character */
		PROPERTY(c != '"');		  /* an unescaped quote would end the string */
		if (c != '\\') {
			size_t len;
			long cp = decode_utf8(t + i, n - 1 - i, &len);
			PROPERTY(cp >= 0); /* the output is UTF-8 */
			add(out, t + i, len);
			i += len;
			continue;
		}
		PROPERTY(i + 1 < n - 1);
		unsigned char e = t[i + 1];
		static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
		const char *k = e ? strchr(from, e) : NULL;
		if (k) {
			add(out, &to[k - from], 1);
			i += 2;
			continue;
		}
		PROPERTY(e == 'u' && i + 6 <= n - 1);
		uint32_t v, lo;
		PROPERTY(hex4(t + i + 2, &v) == 0);
		i += 6;
		if (v >= 0xd800 && v <= 0xdbff) {
			PROPERTY(i + 6 <= n - 1 && t[i] == '\\' && t[i + 1] == 'u');
			PROPERTY(hex4(t + i + 2, &lo) == 0 && lo >= 0xdc00 && lo <= 0xdfff);
			v = 0x10000 + ((v - 0xd800) << 10) + (lo - 0xdc00);
			i += 6;
		} else {
			PROPERTY(!(v >= 0xdc00 && v <= 0xdfff)); /* no lone low surrogate */
		}
		add_utf8(out, v);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		abort();
	json_strn(f, (const char *)data, size);
	if (fclose(f))
		abort();

	struct buf decoded = {0}, want = {0};
	parse_json_string((const unsigned char *)text, len, &decoded);
	/* The input, each byte that does not start a valid character replaced by U+FFFD. */
	for (size_t i = 0; i < size;) {
		size_t l;
		long cp = decode_utf8(data + i, size - i, &l);
		if (cp < 0) {
			add_utf8(&want, 0xfffd);
			i++;
		} else {
			add(&want, data + i, l);
			i += l;
		}
	}
	PROPERTY(decoded.n == want.n && (!want.n || !memcmp(decoded.p, want.p, want.n)));
	/* json_utf8_len agrees with the definition. */
	for (size_t i = 0; i < size; i++) {
		size_t l = 0;
		long cp = decode_utf8(data + i, size - i, &l);
		PROPERTY(json_utf8_len(data + i, size - i) == (cp < 0 ? 0 : l));
	}
	free(decoded.p);
	free(want.p);
	free(text);

	/* The NUL-terminated form: the bytes before the first NUL, and null for NULL. */
	char *s = strndup((const char *)data, size), *a = NULL, *b = NULL;
	size_t an = 0, bn = 0;
	if (!s)
		abort();
	FILE *fa = open_memstream(&a, &an), *fb = open_memstream(&b, &bn);
	if (!fa || !fb)
		abort();
	json_str(fa, s);
	json_strn(fb, s, strlen(s));
	json_str(fa, NULL);
	fputs("null", fb);
	fclose(fa);
	fclose(fb);
	PROPERTY(an == bn && !memcmp(a, b, an));
	free(a);
	free(b);
	free(s);
	return 0;
}
