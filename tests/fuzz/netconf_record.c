/*
 * Fuzz target: the address and route lines of network-bridge's record (common/addr.c,
 * netconf_parse_line and netconf_write): whatever the file holds, a line is refused or read
 * into an object that, written back, reads back the same.
 */
#include "addr.h"
#include "fuzz.h"

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/route.h>

/* c's objects as lines, written as they are (no move). */
static char *written(const struct netconf *c)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	PROPERTY(f != NULL);
	int err = netconf_write(f, c, 0, 0, "eth0", "eth0");
	PROPERTY(fclose(f) == 0);
	if (err < 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* Every line of text read into a fresh netconf: true when all were taken. */
static bool read_back(const char *text, struct netconf *c)
{
	char *copy = strdup(text);
	PROPERTY(copy != NULL);
	bool ok = true;
	for (char *line = copy, *next; ok && *line; line = next) {
		next = line + strcspn(line, "\n");
		if (*next)
			*next++ = '\0';
		ok = netconf_parse_line(c, line) == 0;
	}
	free(copy);
	return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4096)
		return 0;
	/* The first byte chooses the kind, or a line as the file may hold it, hex or not. */
	char *line = malloc(2 * size + 16);
	PROPERTY(line != NULL);
	if (data[0] & 0x80) {
		memcpy(line, data + 1, size - 1);
		line[size - 1] = '\0';
	} else {
		size_t o = (size_t)sprintf(line, "%s ", data[0] & 1 ? "route" : "addr");
		for (size_t i = 1; i < size; i++)
			o += (size_t)sprintf(line + o, "%02x", data[i]);
	}
	struct netconf c = {0};
	int err = netconf_parse_line(&c, line);
	free(line);
	if (err < 0) {
		PROPERTY(c.n_addrs == 0 && c.n_routes == 0);
		netconf_free(&c);
		return 0;
	}
	PROPERTY(c.n_addrs + c.n_routes == 1);
	/* Written, read back and written again: the same lines (the first write normalises). */
	char *once = written(&c);
	if (once) {
		struct netconf again = {0};
		PROPERTY(read_back(once, &again));
		char *twice = written(&again);
		PROPERTY(twice != NULL && !strcmp(once, twice));
		free(twice);
		netconf_free(&again);
	}
	free(once);
	netconf_free(&c);
	return 0;
}
