/*
 * Fuzz target: the state file network-route and network-nat keep in XEN_RUN_DIR (common/
 * netprog.c): the record lines read back by stop and status, whatever the file holds.
 */
#include "fuzz.h"
#include "netprog.h"

#include <stdbool.h>

/* Exactly "sysctl" and three words, one space apart, each fitting its buffer? */
static bool well_formed(const char *line)
{
	const size_t max[] = {sizeof("sysctl"), SYSCTL_KEY_MAX, SYSCTL_VALUE_MAX, SYSCTL_VALUE_MAX};
	const char *p = line;
	for (size_t i = 0; i < 4; i++) {
		size_t n = strcspn(p, " ");
		if (n == 0 || n >= max[i] || (i == 0 && (n != 6 || strncmp(p, "sysctl", 6))))
			return false;
		p += n;
		if (i < 3 && *p++ != ' ')
			return false;
	}
	return !*p;
}

static void check_line(const char *line)
{
	struct netprog_sysctl e;
	bool ok = netprog_sysctl_entry(line, &e);
	PROPERTY(ok == well_formed(line));
	if (!ok)
		return;
	/* Written back the way netprog_sysctl writes it, it is the same line. */
	char again[256];
	snprintf(again, sizeof(again), "sysctl %s %s %s", e.key, e.old, e.set);
	PROPERTY(!strcmp(again, line));
}

/* netprog_recorded: the words after "<kind> " of the first line of that kind, cut to fit. */
static void check_recorded(const struct netprog *np, const char *kind, size_t len)
{
	char out[300];
	size_t k = strlen(kind);
	memset(out, 'X', sizeof(out));
	bool found = netprog_recorded(np, kind, out, len);
	const char *want = NULL;
	for (const char *p = np->record; *p;) {
		const char *nl = strchr(p, '\n');
		if (!strncmp(p, kind, k) && p[k] == ' ') {
			want = p + k + 1;
			break;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	PROPERTY(found == (want != NULL));
	if (!found)
		return;
	size_t wl = strcspn(want, "\n");
	if (wl > len - 1)
		wl = len - 1;
	PROPERTY(strlen(out) == wl && !memcmp(out, want, wl));
	PROPERTY(out[len] == 'X' || len == sizeof(out)); /* nothing written past len */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct netprog np; /* large: kept off the stack */
	if (size < 1)
		return 0;
	size_t len = 1 + data[0] % 299; /* the room netprog_recorded is given */
	data++;
	size--;
	/* What statefile_read leaves: at most the buffer, NUL-terminated. */
	memset(&np, 0, sizeof(np));
	if (size >= sizeof(np.record))
		size = sizeof(np.record) - 1;
	memcpy(np.record, data, size);
	np.record[size] = '\0';
	np.record_len = strlen(np.record);

	char *copy = strdup(np.record);
	if (!copy)
		abort();
	for (char *line = copy, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		check_line(line);
	}
	free(copy);
	check_recorded(&np, "sysctl", len);
	check_recorded(&np, "dhcp", len);
	check_recorded(&np, "masquerade", len);
	return 0;
}
