/* The vifs xenstore knows: their nodes, the firewall input their vif program gave them, devices. */
#include "xen-net-hooks.h"
#include "paths.h"
/* vif-nat's address arithmetic, linked from vif-nat/ (see the Makefile): one copy of it. */
#include "../vif-nat/nat-address.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/errno.h>

int xnh_fail(struct xnh *x, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(x->err, sizeof(x->err), fmt, ap);
	va_end(ap);
	return -1;
}

bool xnh_step(struct xnh *x, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	bool go = log_vstep(&x->log, x->params.dry_run, fmt, ap);
	va_end(ap);
	return go;
}

int xnh_store_open(struct xnh *x)
{
	if (x->xs)
		return 0;
	x->xs = store_open();
	if (!x->xs)
		return xnh_fail(x, "cannot connect to xenstore: %s (is xenstored running?)",
				strerror(errno));
	return 0;
}

static int by_ids(const void *a, const void *b)
{
	const struct store_vif *x = a, *y = b;
	if (x->domid != y->domid)
		return x->domid < y->domid ? -1 : 1;
	return x->devid < y->devid ? -1 : x->devid > y->devid;
}

/* The vif directories of one domain's directory dom, appended to *vifs. */
static int list_domain(struct xnh *x, const char *dom, struct store_vif **vifs, size_t *n)
{
	char dir[64], shown[64], **devs;
	unsigned domid, devid, n_devs;

	/* The ids the vif programs accept in XENBUS_PATH; anything else is no vif of theirs. */
	if (parse_id(dom, 32751, &domid)) {
		log_msg(&x->log, LOG_WARNING, "ignoring %s/%s: not a domain id", XNH_BACKEND_DIR,
			printable(dom, shown, sizeof(shown)));
		return 0;
	}
	snprintf(dir, sizeof(dir), "%s/%u", XNH_BACKEND_DIR, domid);
	int err = store_list(x->xs, dir, &devs, &n_devs);
	if (err == -ENOENT) /* the domain went meanwhile */
		return 0;
	if (err < 0)
		return xnh_fail(x, "cannot list %s in xenstore: %s", dir, strerror(-err));
	if (!n_devs) {
		free(devs);
		return 0;
	}
	struct store_vif *grown = realloc(*vifs, (*n + n_devs) * sizeof(**vifs));
	if (!grown) {
		free(devs);
		return xnh_fail(x, "out of memory");
	}
	*vifs = grown;
	for (unsigned i = 0; i < n_devs; i++) {
		if (parse_id(devs[i], 65535, &devid)) {
			log_msg(&x->log, LOG_WARNING, "ignoring %s/%s: not a device id", dir,
				printable(devs[i], shown, sizeof(shown)));
			continue;
		}
		struct store_vif *v = &(*vifs)[(*n)++];
		memset(v, 0, sizeof(*v));
		v->domid = domid;
		v->devid = devid;
		snprintf(v->backend, sizeof(v->backend), "%s/%u/%u", XNH_BACKEND_DIR, domid, devid);
	}
	free(devs);
	return 0;
}

int xnh_list_vifs(struct xnh *x, struct store_vif **vifs, size_t *n)
{
	char **doms;
	unsigned n_doms;

	*vifs = NULL;
	*n = 0;
	int err = store_list(x->xs, XNH_BACKEND_DIR, &doms, &n_doms);
	if (err == -ENOENT)
		return 0;
	if (err < 0)
		return xnh_fail(x, "cannot list %s in xenstore: %s", XNH_BACKEND_DIR,
				strerror(-err));
	for (unsigned i = 0; i < n_doms; i++) {
		if (list_domain(x, doms[i], vifs, n) < 0) {
			free(doms);
			for (size_t j = 0; j < *n; j++)
				store_vif_free(&(*vifs)[j]);
			free(*vifs);
			*vifs = NULL;
			*n = 0;
			return -1;
		}
	}
	free(doms);
	if (*n)
		qsort(*vifs, *n, sizeof(**vifs), by_ids);
	return 0;
}

void store_vif_free(struct store_vif *v)
{
	free(v->script);
	free(v->vifname);
	free(v->ip);
	free(v->mac);
	free(v->bridge);
	free(v->hotplug_status);
	v->script = v->vifname = v->ip = v->mac = v->bridge = v->hotplug_status = NULL;
}

/* A node of v's backend directory into *out, NULL when absent.  0 or -1 (x->err). */
static int node(struct xnh *x, const struct store_vif *v, const char *key, char **out)
{
	int err = store_read(x->xs, v->backend, key, out);
	if (err == -ENOENT)
		return 0;
	if (err < 0)
		return xnh_fail(x, "cannot read %s/%s from xenstore: %s", v->backend, key,
				strerror(-err));
	return 0;
}

static enum vif_mode mode_of(const char *script)
{
	if (!script)
		return MODE_UNKNOWN;
	const char *base = strrchr(script, '/');
	base = base ? base + 1 : script;
	for (enum vif_mode m = MODE_BRIDGED; m <= MODE_NAT; m++)
		if (!strcmp(base, mode_program(m)))
			return m;
	return MODE_UNKNOWN;
}

static void invalid(struct store_vif *v, const char *key, const char *value, const char *expected)
{
	char what[512];
	params_invalid(what, sizeof(what), key, value, expected);
	if (snprintf(v->problem, sizeof(v->problem), "%s/%s: %s", v->backend, key, what) < 0)
		v->problem[0] = '?';
}

/* An id node of a NAT vif, as vif-nat reads it: absent gives the fallback. */
static int nat_id(struct xnh *x, struct store_vif *v, const char *key, unsigned fallback,
		  unsigned *out)
{
	char *text = NULL;
	*out = fallback;
	if (node(x, v, key, &text) < 0)
		return -1;
	const char *expected = text ? parse_id(text, 65535, out) : NULL;
	if (expected && !v->problem[0])
		invalid(v, key, text, expected);
	free(text);
	return 0;
}

/*
 * The guest's address as vif-nat gives it to the firewall: its first ip entry, else the one
 * derived from frontend-id and handle, in either case as a /32 (vif-nat's addresses(), which
 * lives in its main file: keep the two in step).
 */
static int nat_input(struct xnh *x, struct store_vif *v)
{
	unsigned domid, handle;
	char first[64] = "", shown[16];
	struct nat_address a;

	if (nat_id(x, v, "frontend-id", v->domid, &domid) < 0 ||
	    nat_id(x, v, "handle", v->devid, &handle) < 0 || v->problem[0])
		return 0;
	if (v->n_ips)
		ip_prefix_format(&v->ips[0], first, sizeof(first));
	const char *expected = nat_address(first, domid, handle, &a);
	if (expected) {
		snprintf(shown, sizeof(shown), "%u", handle);
		invalid(v, first[0] ? "ip" : "handle", first[0] ? v->ip : shown, expected);
		return 0;
	}
	v->ips[0] = (struct ip_prefix){.family = AF_INET, .len = 32, .addr.v4 = a.guest};
	if (!v->n_ips) {
		v->n_ips = 1;
		v->ip_derived = true;
	}
	return 0;
}

/* The vif's device names: vifname, else netback's; and the -emu twin when it exists. */
static int read_devs(struct xnh *x, struct store_vif *v)
{
	const char *expected;
	struct vif_dev *d = &v->devs[0];

	memset(v->devs, 0, sizeof(v->devs));
	v->n_devs = 0;
	if (v->vifname && *v->vifname) {
		if ((expected = check_ifname(v->vifname))) {
			if (!v->problem[0])
				invalid(v, "vifname", v->vifname, expected);
			return 0;
		}
		snprintf(d->name, sizeof(d->name), "%s", v->vifname);
	} else {
		snprintf(d->name, sizeof(d->name), "vif%u.%u", v->domid, v->devid);
	}
	v->n_devs = 1;
	if (xnh_read_dev(x, d) < 0)
		return -1;
	/* vif-nat does nothing for the emulated NIC: it has no rules of its own. */
	struct vif_dev *t = &v->devs[1];
	int len = snprintf(t->name, sizeof(t->name), "%s-emu", d->name);
	if (v->mode == MODE_NAT || v->mode == MODE_UNKNOWN || len < 0 ||
	    (size_t)len >= sizeof(t->name))
		return 0;
	t->tap = true;
	if (xnh_read_dev(x, t) < 0)
		return -1;
	if (t->exists)
		v->n_devs = 2;
	return 0;
}

int xnh_read_vif(struct xnh *x, struct store_vif *v)
{
	const char *expected;

	store_vif_free(v);
	v->problem[0] = '\0';
	v->n_ips = 0;
	v->ip_derived = v->has_mac = false;
	if (node(x, v, "script", &v->script) < 0 || node(x, v, "vifname", &v->vifname) < 0 ||
	    node(x, v, "ip", &v->ip) < 0 || node(x, v, "mac", &v->mac) < 0 ||
	    node(x, v, "bridge", &v->bridge) < 0 ||
	    node(x, v, "hotplug-status", &v->hotplug_status) < 0)
		return -1;
	v->mode = mode_of(v->script);
	/* The vif programs' own validation (vif_check_values): what they refused at online
	 * cannot have rules, and is named rather than guessed at. */
	if (v->ip && (expected = parse_ip_list(v->ip, v->ips, IP_LIST_MAX, &v->n_ips)))
		invalid(v, "ip", v->ip, expected);
	if (v->mac && *v->mac) {
		if ((expected = parse_mac(v->mac, v->mac_bytes)))
			invalid(v, "mac", v->mac, expected);
		else
			v->has_mac = true;
	}
	if (v->mode == MODE_NAT && nat_input(x, v) < 0)
		return -1;
	return read_devs(x, v);
}

int xnh_read_dev(struct xnh *x, struct vif_dev *d)
{
	struct link_state master;

	d->exists = false;
	d->master[0] = '\0';
	int err = link_get(&x->net, d->name, &d->link);
	if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV)
		return 0;
	if (err < 0)
		return xnh_fail(x, "cannot look up %s: %s", d->name, net_error(err));
	d->exists = true;
	if (d->link.master && link_get_index(&x->net, d->link.master, &master) == 0)
		snprintf(d->master, sizeof(d->master), "%s", master.name);
	return 0;
}

bool vif_connected(const struct store_vif *v)
{
	return v->hotplug_status && !strcmp(v->hotplug_status, "connected");
}

bool mode_routed(enum vif_mode m)
{
	return m == MODE_ROUTED || m == MODE_NAT;
}

const char *mode_program(enum vif_mode m)
{
	return m == MODE_BRIDGED ? "vif-bridge" : m == MODE_ROUTED ? "vif-route" : "vif-nat";
}

const char *mode_name(enum vif_mode m)
{
	switch (m) {
	case MODE_BRIDGED:
		return "bridged";
	case MODE_ROUTED:
		return "routed";
	case MODE_NAT:
		return "nat";
	default:
		return "unknown";
	}
}

struct fw_vif vif_fw_input(const struct store_vif *v, const struct vif_dev *d)
{
	struct fw_vif f = {.dev = d->name, .ips = v->ips, .n_ips = v->n_ips};
	if (v->has_mac)
		f.mac = v->mac_bytes;
	if (v->mode == MODE_BRIDGED && d->master[0])
		f.bridge = d->master;
	return f;
}

const char *vif_program_lock(enum vif_mode m)
{
	/* vif-bridge's vif_program.lock; vif-route and vif-nat take none. */
	return m == MODE_BRIDGED ? "network-bridge" : NULL;
}

void vif_program_command(const struct xnh *x, const struct store_vif *v, const char *command,
			 char *buf, size_t len)
{
	char path[128];
	const char *fw = params_get(&x->params, "firewall");
	/* The script node is the path the toolstack ran; a bare name is found in the script
	 * directory, as xend and xl find it. */
	if (v->script && v->script[0] == '/')
		printable(v->script, path, sizeof(path));
	else
		snprintf(path, sizeof(path), "%s/%s", path_script_dir(), mode_program(v->mode));
	snprintf(buf, len, "vif=vif%u.%u XENBUS_PATH=backend/vif/%u/%u %s %s%s%s", v->domid,
		 v->devid, v->domid, v->devid, path, command, fw && *fw ? " firewall=" : "",
		 fw && *fw ? fw : "");
}

void vif_ips_text(const struct store_vif *v, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < v->n_ips && o + 1 < len; i++) {
		char one[64];
		ip_prefix_format(&v->ips[i], one, sizeof(one));
		int k = snprintf(buf + o, len - o, "%s%s", i ? " " : "", one);
		if (k < 0)
			break;
		o += (size_t)k;
	}
	if (!v->n_ips)
		snprintf(buf, len, "none");
}
