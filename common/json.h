/* JSON strings for the status commands: any bytes in, valid JSON and valid UTF-8 out. */
#ifndef XNH_JSON_H
#define XNH_JSON_H

#include <stddef.h>
#include <stdio.h>

/*
 * Write the n bytes at s to f as a JSON string, quotes included.  Valid UTF-8 passes through
 * unchanged, except '"' and '\' (escaped as \" and \\) and the control characters U+0000 to
 * U+001F and U+007F (as \b \t \n \f \r, else \u00XX), so no raw control byte ever reaches the
 * reader.  A byte that does not begin a valid UTF-8 sequence (a stray continuation byte, a
 * truncated sequence, an overlong form, a UTF-16 surrogate, a code point above U+10FFFF)
 * becomes \ufffd, the replacement character: the output is valid JSON for any input, and
 * decodes back to exactly the input whenever the input was valid UTF-8.
 */
void json_strn(FILE *f, const char *s, size_t n);

/* The same for a NUL-terminated string; null (the JSON literal) for NULL. */
void json_str(FILE *f, const char *s);

/*
 * The length of the valid UTF-8 sequence at s (at most n bytes available): 1 to 4, or 0 when
 * s[0] does not begin one.
 */
size_t json_utf8_len(const unsigned char *s, size_t n);

#endif
