/* Command line and environment parsing, and the validators every value passes through. */
#ifndef XNH_PARAMS_H
#define XNH_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#define PARAMS_MAX_ARGS 64
#define IP_LIST_MAX	32
#define IFNAME_MAX	15

struct param_kv {
	const char *key; /* points into argv: the bytes before '=' (not NUL-terminated) */
	size_t key_len;
	const char *value;
};

struct params {
	const char *prog;    /* basename of argv[0] */
	const char *command; /* first argument without '=' and not starting with '-' */
	bool help, version, verbose, dry_run, json;
	size_t n_args;
	struct param_kv args[PARAMS_MAX_ARGS];
};

/*
 * Split argv the way the Xen scripts did (command anywhere, key=value before or after it),
 * plus the options.  On error returns -1 and writes a message to err.
 */
int params_parse(struct params *p, int argc, char *const argv[], char *err, size_t errlen);

/* Value of key: the last key=value argument, else the environment, else NULL. */
const char *params_get(const struct params *p, const char *key);

/* True when cmd is one of the NULL-terminated list. */
bool params_command_valid(const char *cmd, const char *const valid[]);

/* An IPv4 or IPv6 address with prefix length (32/128 when none was written). */
struct ip_prefix {
	int family; /* AF_INET or AF_INET6 */
	uint8_t len;
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
};

/*
 * Validators.  Each returns NULL when the value is acceptable, else a short phrase saying what
 * was expected, for messages of the form: invalid <param> '<value>': expected <phrase>.
 */
const char *check_ifname(const char *s);
const char *parse_mtu(const char *s, unsigned *mtu);
const char *parse_mac(const char *s, uint8_t mac[6]);
/* The six hex bytes only, multicast and all-zero addresses too. */
const char *parse_mac_syntax(const char *s, uint8_t mac[6]);
const char *parse_id(const char *s, unsigned max, unsigned *id);
const char *parse_ip_prefix(const char *s, struct ip_prefix *out);
const char *parse_ip_list(const char *s, struct ip_prefix *out, size_t max, size_t *n);
const char *parse_yesno(const char *s, bool *out);
/* A wait's bound: seconds above 0 and at most 3600, with up to three decimals ("0.5"). */
const char *parse_seconds(const char *s, unsigned long *ms);

/*
 * Copy value into buf for use in a message: printable ASCII kept, everything else as \xNN,
 * truncated with "..." so that hostile input cannot forge log lines or flood a terminal.
 */
const char *printable(const char *value, char *buf, size_t len);

/* Format the standard validation error into err. */
void params_invalid(char *err, size_t errlen, const char *param, const char *value,
		    const char *expected);

/* Text form of a prefix, "a.b.c.d/len" or "x::y/len". */
void ip_prefix_format(const struct ip_prefix *p, char *buf, size_t len);

/* Parse "vif<domid>.<devid>" with an optional "-emu" suffix. */
const char *parse_vif_name(const char *s, unsigned *domid, unsigned *devid, bool *emu);

#endif
