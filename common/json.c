/* JSON strings for the status commands: any bytes in, valid JSON and valid UTF-8 out. */
#include "json.h"

#include <string.h>

size_t json_utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf; /* the allowed range of the second byte */

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong below U+0800 */
		else if (c == 0xed)
			hi = 0x9f; /* U+D800-U+DFFF: surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong below U+10000 */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		return 0; /* a continuation byte, 0xc0/0xc1 (overlong) or 0xf5-0xff */
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/* A control character: the short escapes JSON has, else \u00XX. */
static void put_control(FILE *f, unsigned char c)
{
	switch (c) {
	case '\b':
		fputs("\\b", f);
		break;
	case '\t':
		fputs("\\t", f);
		break;
	case '\n':
		fputs("\\n", f);
		break;
	case '\f':
		fputs("\\f", f);
		break;
	case '\r':
		fputs("\\r", f);
		break;
	default:
		fprintf(f, "\\u%04x", c);
	}
}

void json_strn(FILE *f, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;

	putc('"', f);
	while (p < end) {
		unsigned char c = *p;
		size_t len = json_utf8_len(p, (size_t)(end - p));
		if (len > 1) {
			fwrite(p, 1, len, f);
		} else if (len == 0) {
			fputs("\\ufffd", f);
			len = 1;
		} else if (c == '"' || c == '\\') {
			putc('\\', f);
			putc(c, f);
		} else if (c < 0x20 || c == 0x7f) {
			put_control(f, c);
		} else {
			putc(c, f);
		}
		p += len;
	}
	putc('"', f);
}

void json_str(FILE *f, const char *s)
{
	if (s)
		json_strn(f, s, strlen(s));
	else
		fputs("null", f);
}
