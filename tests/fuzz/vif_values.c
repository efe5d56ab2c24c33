/*
 * Fuzz target: what a vif program makes of its environment and of the values it reads from
 * the backend node in xenstore (common/vif.c: type_if, vif/INTERFACE, XENBUS_PATH and the
 * domid and devid in it; bridge, ip, mac, mtu, vifname, vlan).
 */
#include "fuzz.h"
#include "vif.h"

#include <stdbool.h>

static const char *const env_names[] = {"type_if", "XENBUS_PATH", "vif", "INTERFACE",
					"bridge",  "ip",	  "mac", "mtu",
					"vifname", "firewall",	  "vlan"};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Only the input decides: params_get falls back to the environment. */
	for (size_t i = 0; i < sizeof(env_names) / sizeof(env_names[0]); i++)
		unsetenv(env_names[i]);
	return 0;
}

static bool valid_path_chars(const char *p)
{
	return strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-/_@") ==
	       strlen(p);
}

/* The domid and devid of a resolved device come from the path's end or from the vif name. */
static void check_ids(const struct vif_ctx *c, const char *path)
{
	char end[64], name[64];
	snprintf(end, sizeof(end), "/%u/%u", c->domid, c->devid);
	snprintf(name, sizeof(name), "vif%u.%u", c->domid, c->devid);
	size_t pl = strlen(path), el = strlen(end);
	bool from_path = pl >= el && !strcmp(path + pl - el, end);
	/* "backend/vif/1/0" has no slash before its domid when the path is just "1/0". */
	bool bare = !strncmp(path, end + 1, pl) && pl == el - 1;
	PROPERTY(from_path || bare || !strncmp(c->vif, name, strlen(name)));
	PROPERTY(c->domid <= 32751 && c->devid <= 65535);
}

static void check_resolved(const struct vif_ctx *c, const char *type_if, const char *path)
{
	PROPERTY(check_ifname(c->vif) == NULL);
	PROPERTY(c->tap == (type_if && !strcmp(type_if, "tap")));
	if (c->tap) {
		unsigned domid, devid;
		bool emu;
		char backend[64];
		PROPERTY(parse_vif_name(c->vif, &domid, &devid, &emu) == NULL && emu);
		PROPERTY(domid == c->domid && devid == c->devid);
		snprintf(backend, sizeof(backend), "/local/domain/0/backend/vif/%u/%u", domid,
			 devid);
		PROPERTY(!strcmp(c->backend, backend));
	} else {
		PROPERTY(path && !strcmp(c->backend, path));
		PROPERTY(*path && valid_path_chars(path) && !strstr(path, "//"));
		PROPERTY(path[strlen(path) - 1] != '/');
		check_ids(c, path);
	}
}

/* A refusal names the parameter and its value, in printable words. */
static void check_refusal(const struct vif_ctx *c)
{
	check_message(c->err, sizeof(c->err), 0);
}

static char *dup_or_null(const char *s)
{
	char *d = s ? strdup(s) : NULL;
	if (s && !d)
		abort();
	return d;
}

static void check_values(struct vif_ctx *c, const struct pieces *p)
{
	c->bridge = dup_or_null(piece(p, 4, NULL));
	c->ip = dup_or_null(piece(p, 5, NULL));
	c->mac = dup_or_null(piece(p, 6, NULL));
	c->mtu = dup_or_null(piece(p, 7, NULL));
	c->vifname = dup_or_null(piece(p, 8, NULL));
	c->vlan = dup_or_null(piece(p, 9, NULL));
	c->has_vlan = false;
	c->err[0] = '\0';
	if (vif_check_values(c) < 0) {
		check_refusal(c);
		PROPERTY(!strncmp(c->err, "invalid ", 8));
	} else {
		if (c->bridge && *c->bridge)
			PROPERTY(check_ifname(c->bridge) == NULL);
		PROPERTY(c->n_ips <= IP_LIST_MAX);
		PROPERTY(c->ip || c->n_ips == 0);
		for (size_t i = 0; i < c->n_ips; i++) {
			char text[INET6_ADDRSTRLEN + 8];
			struct ip_prefix again;
			ip_prefix_format(&c->ips[i], text, sizeof(text));
			PROPERTY(parse_ip_prefix(text, &again) == NULL);
			PROPERTY(again.family == c->ips[i].family && again.len == c->ips[i].len);
		}
		if (c->mac && *c->mac) {
			char again[18];
			const uint8_t *m = c->mac_bytes;
			snprintf(again, sizeof(again), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1],
				 m[2], m[3], m[4], m[5]);
			PROPERTY(!strcasecmp(again, c->mac));
		}
		if (c->mtu && *c->mtu)
			PROPERTY(c->mtu_value >= 68 && c->mtu_value <= 65535);
		else
			PROPERTY(c->mtu_value == 0);
		/* A vlan value is either refused or a set with its PVID (offline reads none). */
		PROPERTY(c->has_vlan == (c->vlan && *c->vlan));
		if (c->has_vlan)
			PROPERTY(c->vlans.count >= 1 && vlan_has(&c->vlans, c->vlans.pvid));
		if (c->vifname && *c->vifname) {
			/* The name the device gets: vifname, with -emu for the tap. */
			char full[64];
			snprintf(full, sizeof(full), "%s%s", c->vifname, c->tap ? "-emu" : "");
			PROPERTY(check_ifname(full) == NULL);
		}
	}
	free(c->bridge);
	free(c->ip);
	free(c->mac);
	free(c->mtu);
	free(c->vifname);
	free(c->vlan);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vif_ctx c; /* large: kept off the stack */
	struct pieces p;
	char *argv[8];
	char args[4][600];
	int argc = 0;

	if (size < 1)
		return 0;
	/* First byte: which of type_if, XENBUS_PATH, vif, INTERFACE are given at all. */
	unsigned given = data[0];
	split(&p, data + 1, size - 1, 10);
	memset(&c, 0, sizeof(c));
	argv[argc++] = "vif-bridge";
	argv[argc++] = "online";
	static const char *const keys[] = {"type_if", "XENBUS_PATH", "vif", "INTERFACE"};
	const char *value[4] = {NULL};
	for (size_t i = 0; i < 4; i++) {
		if (!(given & (1u << i)) || i >= p.n || strlen(p.s[i]) > 500)
			continue;
		value[i] = p.s[i];
		snprintf(args[i], sizeof(args[i]), "%s=%s", keys[i], p.s[i]);
		argv[argc++] = args[i];
	}
	argv[argc] = NULL;
	char err[256];
	PROPERTY(params_parse(&c.params, argc, argv, err, sizeof(err)) == 0);
	if (vif_resolve_device(&c) < 0) {
		check_refusal(&c);
	} else {
		check_resolved(&c, value[0], value[1]);
		/* A device resolved is only ever a vif or an emulated NIC of this name. */
		PROPERTY(!strcmp(c.vif, c.tap ? value[3] : value[2]));
	}
	c.tap = given & 0x10;
	check_values(&c, &p);
	free(p.buf);
	return 0;
}
