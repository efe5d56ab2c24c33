/* Fuzz target: the vlan node's grammar (common/vlan.c) and the form it is shown in. */
#include "fuzz.h"
#include "vlan.h"

#include <ctype.h>
#include <stdbool.h>

/* Only the grammar's characters, and nothing longer than a number may be. */
static bool grammar_chars(const char *s)
{
	return strspn(s, "0123456789pux+-/") == strlen(s);
}

static void check_set(const struct vlan_set *s)
{
	unsigned n = 0;
	PROPERTY(!vlan_has(s, 0) && !vlan_has(s, VLAN_ID_MAX + 1));
	for (unsigned v = 1; v <= VLAN_ID_MAX; v++) {
		n += vlan_has(s, v);
		if (vlan_is_untagged(s, v))
			PROPERTY(vlan_has(s, v));
	}
	PROPERTY(n == s->count && n >= 1);
	/* Exactly one PVID, a member, untagged. */
	PROPERTY(s->pvid >= 1 && s->pvid <= VLAN_ID_MAX);
	PROPERTY(vlan_has(s, s->pvid) && vlan_is_untagged(s, s->pvid));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pieces p;
	if (size < 1)
		return 0;
	/* The first byte sets the size of the buffers the text and the message get. */
	unsigned knob = data[0];
	split(&p, data + 1, size - 1, 2);
	const char *spec = piece(&p, 0, "");
	struct vlan_set s, again;
	char why[512];
	const char *e = vlan_parse(spec, &s, why, sizeof(why));
	if (e) {
		check_message(e, sizeof(why), 0);
		PROPERTY(strstr(e, "VLAN IDs from 1 to 4094"));
	} else {
		PROPERTY(grammar_chars(spec) && *spec);
		check_set(&s);
		/* The shown form reads back as the same set, and is itself canonical. */
		char text[32 * 1024], text2[32 * 1024];
		vlan_format(&s, text, sizeof(text));
		PROPERTY(vlan_parse(text, &again, why, sizeof(why)) == NULL);
		PROPERTY(vlan_equal(&s, &again));
		vlan_format(&again, text2, sizeof(text2));
		PROPERTY(!strcmp(text, text2));
		/* A short buffer: terminated within it, marked when cut. */
		size_t len = knob % 64;
		char small[64];
		memset(small, 'X', sizeof(small));
		vlan_format(&s, small, len);
		if (len) {
			PROPERTY(strnlen(small, len) < len);
			if (strlen(text) >= len && len >= 4)
				PROPERTY(strstr(small, "..."));
			else if (strlen(text) < len)
				PROPERTY(!strcmp(small, text));
		}
		for (unsigned i = len; i < sizeof(small); i++)
			PROPERTY(small[i] == 'X');
	}
	free(p.buf);
	return 0;
}
