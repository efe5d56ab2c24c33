/* What the fuzz targets share: property checks that abort, and splitting an input into strings. */
#ifndef XNH_FUZZ_H
#define XNH_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A property of the code under test does not hold: say which, and crash for libFuzzer. */
#define PROPERTY(cond)                                                                             \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__,      \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/*
 * A message for a person (an error, a shown value): NUL-terminated within cap bytes, and only
 * printable ASCII, so that hostile input can neither forge a log line nor drive a terminal.
 */
static inline void check_message(const char *msg, size_t cap, int may_be_empty)
{
	size_t n = strnlen(msg, cap);
	PROPERTY(n < cap);
	PROPERTY(may_be_empty || n > 0);
	for (size_t i = 0; i < n; i++)
		PROPERTY(msg[i] >= 0x20 && msg[i] < 0x7f);
}

/* The input cut at its NUL bytes into at most max strings (all in one copy, freed by the caller).
 */
struct pieces {
	char *buf;
	size_t n;
	char *s[16];
};

static inline void split(struct pieces *p, const uint8_t *data, size_t size, size_t max)
{
	p->buf = malloc(size + 1);
	if (!p->buf)
		abort();
	memcpy(p->buf, data, size);
	p->buf[size] = '\0';
	p->n = 0;
	if (max > sizeof(p->s) / sizeof(p->s[0]))
		max = sizeof(p->s) / sizeof(p->s[0]);
	for (char *c = p->buf; p->n < max;) {
		p->s[p->n++] = c;
		c += strlen(c);
		if (c == p->buf + size)
			break;
		c++;
	}
}

/* The i-th string, or def when the input had fewer. */
static inline const char *piece(const struct pieces *p, size_t i, const char *def)
{
	return i < p->n ? p->s[i] : def;
}

#endif
