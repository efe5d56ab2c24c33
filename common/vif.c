/* The life cycle every vif program shares: parameters, device, vifname, MTU, hooks, report. */
#include "vif.h"
#include "signals.h"
#include "addr.h"
#include "conntrack.h"
#include "hooks.h"
#include "sysctl.h"
#include "version.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/errno.h>

static const char *const vif_commands[] = {"online", "offline", "add", "remove", NULL};

static const uint8_t port_mac[6] = {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff};

int vif_error(struct vif_ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return -1;
}

int vif_no_device(struct vif_ctx *c)
{
	const char *key = c->tap ? "INTERFACE" : "vif";
	return vif_error(c, "device %s does not exist (%s=%s)", c->dev, key, c->vif);
}

int vif_net_error(struct vif_ctx *c, int err, const char *fmt, ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return vif_error(c, "%s: %s", what, net_error(err));
}

bool vif_step(struct vif_ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	bool go = log_vstep(&c->log, c->params.dry_run, fmt, ap);
	va_end(ap);
	return go;
}

/* Backend paths contain only what xenstore allows in a path. */
static bool valid_store_path(const char *p)
{
	size_t n = strlen(p);
	if (n == 0 || n >= 200 || p[n - 1] == '/' || strstr(p, "//"))
		return false;
	return strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-/_@") == n;
}

/*
 * domid and devid of a vif's backend directory: backend/vif/<domid>/<devid>, relative to the
 * home of the domain running netback, or /local/domain/<n>/backend/vif/<domid>/<devid>.
 * Anything else (a frontend, another device type's backend) is no directory of ours.
 */
static bool vif_backend_path(const char *path, unsigned *domid, unsigned *devid)
{
	static const char home[] = "/local/domain/", be[] = "backend/vif/";
	char ids[32], *slash;
	unsigned n;

	if (!valid_store_path(path))
		return false;
	if (!strncmp(path, home, sizeof(home) - 1)) {
		const char *d = path + sizeof(home) - 1, *end = strchr(d, '/');
		char dom[16];
		if (!end || (size_t)(end - d) >= sizeof(dom))
			return false;
		memcpy(dom, d, (size_t)(end - d));
		dom[end - d] = '\0';
		if (parse_id(dom, 32751, &n))
			return false;
		path = end + 1;
	}
	if (strncmp(path, be, sizeof(be) - 1) || strlen(path + sizeof(be) - 1) >= sizeof(ids))
		return false;
	snprintf(ids, sizeof(ids), "%s", path + sizeof(be) - 1);
	if (!(slash = strchr(ids, '/')))
		return false;
	*slash = '\0';
	return !parse_id(ids, 32751, domid) && !parse_id(slash + 1, 65535, devid);
}

/* Value of key: the backend node when present, else argument or environment (SPEC §1). */
static int param(struct vif_ctx *c, const char *key, char **out)
{
	int err = store_read(c->xs, c->backend, key, out);
	if (err == 0)
		return 0;
	if (err != -ENOENT)
		return vif_error(c, "cannot read %s/%s from xenstore: %s", c->backend, key,
				 strerror(-err));
	const char *v = params_get(&c->params, key);
	if (v && !(*out = strdup(v)))
		return vif_error(c, "out of memory");
	return 0;
}

static int invalid(struct vif_ctx *c, const char *key, const char *value, const char *expected)
{
	params_invalid(c->err, sizeof(c->err), key, value, expected);
	return -1;
}

static int read_params(struct vif_ctx *c)
{
	const char *expected;

	if (param(c, "bridge", &c->bridge) || param(c, "ip", &c->ip) || param(c, "mac", &c->mac) ||
	    param(c, "vifname", &c->vifname))
		return -1;
	/* The MTU, the VLANs and the frontend serve online only: offline neither reads nor
	 * judges them, so a bad MTU cannot stop a clean-up, and the port's VLANs go with it when
	 * it leaves its bridge. */
	if (c->up && (param(c, "mtu", &c->mtu) || (c->prog->vlan && param(c, "vlan", &c->vlan)) ||
		      store_read(c->xs, c->backend, "frontend", &c->frontend) == -EINVAL))
		return c->err[0] ? -1 : vif_error(c, "invalid frontend node under %s", c->backend);
	if (vif_check_values(c) < 0)
		return -1;
	const char *fw = params_get(&c->params, "firewall");
	bool fallback;
	if ((expected = fw_open(&c->fw, fw, &fallback)))
		return invalid(c, "firewall", fw, expected);
	const char *timeout;
	if ((expected = lock_timeout_invalid(&timeout))) {
		/* As with a bad MAC: the guest is going, and its rules and entries must go too. */
		if (c->up)
			return invalid(c, LOCK_TIMEOUT_ENV, timeout, expected);
		char shown[64];
		log_msg(&c->log, LOG_WARNING,
			"invalid %s '%s' (expected %s): cleaning up with the default of %lu s",
			LOCK_TIMEOUT_ENV, printable(timeout, shown, sizeof(shown)), expected,
			LOCK_TIMEOUT_DEFAULT_MS / 1000);
	}
	if (fallback)
		log_msg(
		    &c->log, LOG_WARNING,
		    "no firewall: the kernel has no nf_tables and iptables is not installed, so "
		    "%s's guest is not protected against address spoofing",
		    c->vif);
	if (c->frontend && !valid_store_path(c->frontend))
		return invalid(c, "frontend", c->frontend, "a xenstore path");
	return 0;
}

int vif_check_values(struct vif_ctx *c)
{
	const char *expected;

	if (c->bridge && *c->bridge && (expected = check_ifname(c->bridge)))
		return invalid(c, "bridge", c->bridge, expected);
	if (c->ip && (expected = parse_ip_list(c->ip, c->ips, IP_LIST_MAX, &c->n_ips)))
		return invalid(c, "ip", c->ip, expected);
	if (c->mac && *c->mac && (expected = parse_mac(c->mac, c->mac_bytes))) {
		/* Earlier versions took any MAC: the guest's rules and entries must still go. */
		bool cleanup = c->command == VIF_OFFLINE || c->command == VIF_REMOVE;
		if (!cleanup || parse_mac_syntax(c->mac, c->mac_bytes))
			return invalid(c, "mac", c->mac, expected);
		log_msg(&c->log, LOG_WARNING, "mac=%s is not a unicast address; cleaning up anyway",
			c->mac);
	}
	if (c->mtu && *c->mtu && (expected = parse_mtu(c->mtu, &c->mtu_value)))
		return invalid(c, "mtu", c->mtu, expected);
	if (c->vlan && *c->vlan) {
		char why[512];
		if ((expected = vlan_parse(c->vlan, &c->vlans, why, sizeof(why))))
			return invalid(c, "vlan", c->vlan, expected);
		c->has_vlan = true;
	}
	if (c->vifname && *c->vifname) {
		char full[64];
		snprintf(full, sizeof(full), "%s%s", c->vifname, c->tap ? "-emu" : "");
		if ((expected = check_ifname(full)))
			return invalid(
			    c, "vifname", c->vifname,
			    c->tap ? "an interface name of at most 11 letters, digits, '.', "
				     "'_', '-', '@' or '+' (\"-emu\" is added)"
				   : expected);
		/* netback names other cards so: the name would be taken from them, and their
		 * offline would find this one. */
		unsigned d, i;
		bool emu;
		if (!parse_vif_name(c->vifname, &d, &i, &emu) && (d != c->domid || i != c->devid))
			return invalid(
			    c, "vifname", c->vifname,
			    "a name other than vif<domid>.<devid>, which is netback's name "
			    "for another card");
	}
	return 0;
}

int vif_resolve_device(struct vif_ctx *c)
{
	const char *type_if = params_get(&c->params, "type_if");
	const char *path = params_get(&c->params, "XENBUS_PATH");
	const char *expected;

	unsigned path_domid = 0, path_devid = 0;
	bool path_ok = path && vif_backend_path(path, &path_domid, &path_devid);

	/* The backend path first, so that a bad type_if or device name is reported there too. */
	if (path_ok)
		snprintf(c->backend, sizeof(c->backend), "%s", path);
	if (!type_if || !*type_if || !strcmp(type_if, "vif"))
		c->tap = false;
	else if (!strcmp(type_if, "tap"))
		c->tap = true;
	else
		return invalid(c, "type_if", type_if, "vif or tap");

	if (!c->tap) {
		if (!path || !*path)
			return vif_error(
			    c, "XENBUS_PATH is not set: it names the device's xenstore "
			       "backend directory (e.g. XENBUS_PATH=backend/vif/1/0), and the "
			       "toolstack or udev sets it");
		if (!path_ok)
			return invalid(
			    c, "XENBUS_PATH", path,
			    "a vif's backend directory in xenstore, like backend/vif/1/0 "
			    "or /local/domain/0/backend/vif/1/0");
	}

	const char *dev = params_get(&c->params, c->tap ? "INTERFACE" : "vif");
	if (!dev || !*dev)
		return vif_error(
		    c,
		    "%s is not set: it names the device, and the toolstack or udev sets "
		    "it (e.g. %s=%s)",
		    c->tap ? "INTERFACE" : "vif", c->tap ? "INTERFACE" : "vif",
		    c->tap ? "vif1.0-emu" : "vif1.0");
	if ((expected = check_ifname(dev)))
		return invalid(c, c->tap ? "INTERFACE" : "vif", dev, expected);
	snprintf(c->vif, sizeof(c->vif), "%s", dev);

	bool emu;
	if (c->tap) {
		if ((expected = parse_vif_name(dev, &c->domid, &c->devid, &emu)) || !emu)
			return invalid(c, "INTERFACE", dev,
				       "a name of the form vif<domid>.<devid>-emu");
		snprintf(c->backend, sizeof(c->backend), "/local/domain/0/backend/vif/%u/%u",
			 c->domid, c->devid);
	} else {
		c->domid = path_domid;
		c->devid = path_devid;
		/* A vif renamed by vifname has any name; one named vif<domid>.<devid> is that
		 * card.  Which of the two is wrong is unknown: nothing is written to either. */
		unsigned d, i;
		if (!parse_vif_name(dev, &d, &i, &emu) && (d != c->domid || i != c->devid)) {
			c->backend[0] = '\0';
			return vif_error(
			    c,
			    "XENBUS_PATH '%s' is not the backend directory of vif '%s' "
			    "(backend/vif/%u/%u): both must name the same device",
			    path, dev, d, i);
		}
	}
	return 0;
}

static void usage_error(struct vif_ctx *c, const char *cmd)
{
	char shown[64];
	if (cmd)
		vif_error(
		    c, "unknown command '%s': valid commands are online, offline, add and remove",
		    printable(cmd, shown, sizeof(shown)));
	else
		vif_error(c, "no command given: valid commands are online, offline, add and remove "
			     "(see --help)");
}

int vif_begin(struct vif_ctx *c, const struct vif_program *prog, int argc, char *argv[])
{
	memset(c, 0, sizeof(*c));
	c->prog = prog;
	c->lock.fd = -1;
	if (params_parse(&c->params, argc, argv, c->err, sizeof(c->err)) < 0) {
		log_open(&c->log, prog->name, false);
		return -1;
	}
	log_open(&c->log, prog->name, c->params.verbose);
	if (c->params.json)
		return vif_error(c, "unknown option '--json' (try --help)");
	if (c->params.help) {
		fputs(prog->usage, stdout);
		return 1;
	}
	if (c->params.version) {
		printf("%s %s\n", prog->name, XNH_VERSION);
		return 1;
	}
	if (!params_command_valid(c->params.command, vif_commands)) {
		usage_error(c, c->params.command);
		return -1;
	}
	const char *cmd = c->params.command;
	c->command = !strcmp(cmd, "online")    ? VIF_ONLINE
		     : !strcmp(cmd, "offline") ? VIF_OFFLINE
		     : !strcmp(cmd, "add")     ? VIF_ADD
					       : VIF_REMOVE;
	c->up = c->command == VIF_ONLINE || c->command == VIF_ADD;

	if (vif_resolve_device(c) < 0)
		return -1;
	/* online/offline concern netback's vif, add/remove the emulated tap (SPEC §2). */
	bool for_tap = c->command == VIF_ADD || c->command == VIF_REMOVE;
	if (for_tap != c->tap) {
		log_msg(&c->log, LOG_DEBUG, "%s does nothing for type_if=%s", cmd,
			c->tap ? "tap" : "vif");
		return 1;
	}

	c->xs = store_open();
	if (!c->xs)
		return vif_error(c, "cannot connect to xenstore: %s (is xenstored running?)",
				 strerror(errno));
	if (read_params(c) < 0)
		return -1;

	int err = net_open(&c->net);
	if (err < 0)
		return vif_net_error(c, err, "cannot open a netlink socket");
	if (!prog->lock_late && vif_lock(c) < 0)
		return -1;

	snprintf(c->dev, sizeof(c->dev), "%s", c->vif);
	err = link_get(&c->net, c->dev, &c->link);
	if (err < 0 && err != -NLE_OBJ_NOTFOUND && err != -NLE_NODEV)
		return vif_net_error(c, err, "cannot look up %s", c->dev);
	c->dev_exists = err == 0;
	return 0;
}

int vif_lock(struct vif_ctx *c)
{
	int err;
	if (!c->prog->lock || c->lock.fd >= 0 || (err = lock_take(&c->lock, c->prog->lock)) == 0)
		return 0;
	char why[sizeof(c->err)];
	return vif_error(c, "%s", lock_strerror(&c->lock, err, why, sizeof(why)));
}

void vif_unlock(struct vif_ctx *c)
{
	lock_release(&c->lock);
}

int vif_rename(struct vif_ctx *c)
{
	char target[IFNAME_MAX + 1];
	struct link_state other;

	if (!c->vifname || !*c->vifname)
		return 0;
	snprintf(target, sizeof(target), "%s%s", c->vifname, c->tap ? "-emu" : "");
	if (!strcmp(target, c->dev))
		return 0;
	int err = link_get(&c->net, target, &other);
	bool taken = err == 0;
	if (err < 0 && err != -NLE_OBJ_NOTFOUND && err != -NLE_NODEV)
		return vif_net_error(c, err, "cannot look up %s", target);

	/* Offline of a device never renamed (its online failed, e.g. because the name was
	 * taken): the device of that name is another guest's, never to be touched. */
	if (!c->up && c->dev_exists)
		return 0;
	if (!c->up || !c->dev_exists) {
		/* Offline, or a repeated online: the device already carries its new name. */
		snprintf(c->dev, sizeof(c->dev), "%s", target);
		c->dev_exists = taken;
		if (taken)
			c->link = other;
		return 0;
	}
	if (taken)
		return vif_error(c,
				 "cannot rename %s to %s (vifname): an interface named %s already "
				 "exists, probably another guest's; choose another vifname",
				 c->dev, target, target);
	if (vif_step(c, "rename %s to %s", c->dev, target)) {
		err = link_rename(&c->net, &c->undo, &c->link, target);
		if (err < 0)
			return vif_net_error(c, err, "cannot rename %s to %s", c->dev, target);
		memcpy(c->link.name, target, sizeof(c->link.name));
	}
	snprintf(c->dev, sizeof(c->dev), "%s", target);
	return 0;
}

int vif_prepare_port(struct vif_ctx *c, unsigned fallback_mtu)
{
	int err;

	if (!c->dev_exists)
		return vif_no_device(c);
	if (!c->params.dry_run && (err = addr_save(&c->link, &c->flushed)) < 0)
		return vif_net_error(c, err, "cannot read the addresses of %s", c->dev);
	if (c->link.up && vif_step(c, "set %s down", c->dev)) {
		if ((err = link_set_up(&c->net, &c->undo, &c->link, false)) < 0)
			return vif_net_error(c, err, "cannot set %s down", c->dev);
		c->link.up = false;
	}
	/* fe:ff:ff:ff:ff:ff is the highest MAC, so the bridge never adopts the vif's. */
	if (memcmp(c->link.mac, port_mac, 6) &&
	    vif_step(c, "set the MAC address of %s to fe:ff:ff:ff:ff:ff", c->dev)) {
		if ((err = link_set_mac(&c->net, &c->undo, &c->link, port_mac)) < 0)
			return vif_net_error(c, err, "cannot set the MAC address of %s", c->dev);
		memcpy(c->link.mac, port_mac, 6);
	}
	if (vif_step(c, "remove the addresses of %s", c->dev)) {
		if ((err = addr_flush(&c->net, &c->undo, c->flushed)) < 0)
			return vif_net_error(c, err, "cannot remove the addresses of %s", c->dev);
	}
	if (!c->mtu_value)
		c->mtu_value = fallback_mtu;
	return vif_set_mtu(c);
}

int vif_set_mtu(struct vif_ctx *c)
{
	int err;
	if (c->mtu_value && c->mtu_value != c->link.mtu &&
	    vif_step(c, "set the MTU of %s to %u", c->dev, c->mtu_value)) {
		if ((err = link_set_mtu(&c->net, &c->undo, &c->link, c->mtu_value)) < 0)
			return vif_net_error(c, err, "cannot set the MTU of %s to %u", c->dev,
					     c->mtu_value);
		c->link.mtu = c->mtu_value;
	}
	return 0;
}

static struct fw_vif fw_vif(struct vif_ctx *c)
{
	struct fw_vif v = {.dev = c->dev, .ips = c->ips, .n_ips = c->n_ips, .bridge = c->port_of};
	if (c->mac && *c->mac)
		v.mac = c->mac_bytes;
	return v;
}

static int undo_firewall(void *ctx, const void *arg)
{
	struct vif_ctx *c = (struct vif_ctx *)((char *)ctx - offsetof(struct vif_ctx, net));
	const bool *routed = arg;
	struct fw_vif v = fw_vif(c);
	char err[256];
	return *routed ? fw_routed_vif_del(&c->fw, &v, err, sizeof(err))
		       : fw_bridged_vif_del(&c->fw, &v, err, sizeof(err));
}

/* A new guest must not inherit the connections of an earlier holder of its addresses. */
static void forget_connections(struct vif_ctx *c)
{
	if (!c->n_ips ||
	    !vif_step(c, "delete the connection-tracking entries of %s's addresses", c->dev))
		return;
	int r = conntrack_forget(fw_netlink(&c->fw), c->ips, c->n_ips);
	if (r < 0)
		log_msg(&c->log, LOG_WARNING,
			"cannot delete old connection-tracking entries for %s's addresses: %s",
			c->dev, strerror(-r));
	else if (r > 0)
		log_msg(&c->log, LOG_DEBUG, "deleted %d connection-tracking entries", r);
}

int vif_firewall(struct vif_ctx *c, bool routed)
{
	struct fw_vif v = fw_vif(c);
	char err[512];
	int r;

	/* A repeated online of a running guest must not reset its own connections. */
	if (c->up && !c->link.up)
		forget_connections(c);
	if (c->fw.backend == FW_NONE)
		return 0;
	if (!vif_step(c, "%s the %s firewall rules of %s (%s)", c->up ? "install" : "remove",
		      routed ? "routed" : "bridged", c->dev, fw_backend_name(c->fw.backend)))
		return 0;
	if (!c->up) {
		r = routed ? fw_routed_vif_del(&c->fw, &v, err, sizeof(err))
			   : fw_bridged_vif_del(&c->fw, &v, err, sizeof(err));
		return r < 0 ? vif_error(c, "%s", err) : 0;
	}
	r = routed ? fw_routed_vif_add(&c->fw, &v, err, sizeof(err))
		   : fw_bridged_vif_add(&c->fw, &v, err, sizeof(err));
	if (r < 0)
		return vif_error(c, "%s (firewall=%s)", err, fw_backend_name(c->fw.backend));
	/* Rules renewed on a vif already up replace the old ones: removing them on a later
	 * failure would leave it unfiltered. */
	if (!c->link.up &&
	    undo_push(&c->undo, undo_firewall, &routed, sizeof(routed), "firewall rules"))
		return vif_error(c, "too many changes to undo");
	return 0;
}

bool vif_is_port_ready(struct vif_ctx *c, int master, unsigned fallback_mtu)
{
	unsigned mtu = c->mtu_value ? c->mtu_value : fallback_mtu;
	if (!c->dev_exists || !c->link.up || c->link.master != master ||
	    memcmp(c->link.mac, port_mac, 6) || (mtu && c->link.mtu != mtu))
		return false;
	c->mtu_value = mtu;
	log_msg(&c->log, LOG_DEBUG, "%s is already up on its bridge", c->dev);
	return true;
}

int vif_bring_up(struct vif_ctx *c)
{
	int err;
	if (!c->link.up && vif_step(c, "set %s up", c->dev)) {
		if ((err = link_set_up(&c->net, &c->undo, &c->link, true)) < 0)
			return vif_net_error(c, err, "cannot set %s up", c->dev);
		c->link.up = true;
	}
	return 0;
}

int vif_proxy_arp(struct vif_ctx *c)
{
	char key[SYSCTL_KEY_MAX];
	int err, changed;
	sysctl_conf_key(key, c->dev, "proxy_arp");
	if (vif_step(c, "turn on proxy ARP on %s", c->dev) &&
	    (err = sysctl_set(&c->undo, key, "1", NULL, &changed)) < 0)
		return vif_error(c, "cannot turn on proxy ARP on %s: %s", c->dev, strerror(-err));
	return 0;
}

int vif_route(struct vif_ctx *c, const struct ip_prefix *dst, const char *shown,
	      const struct in_addr *src, unsigned metric)
{
	char source[INET_ADDRSTRLEN + 8] = "", text[INET_ADDRSTRLEN], detail[64];
	/* An IPv6 route takes no IPv4 source: route_add_via leaves it out. */
	if (src && dst->family == AF_INET)
		snprintf(source, sizeof(source), "source %s",
			 inet_ntop(AF_INET, src, text, sizeof(text)));
	if (metric)
		snprintf(detail, sizeof(detail), "%s%smetric %u", source, *source ? ", " : "",
			 metric);
	else
		snprintf(detail, sizeof(detail), "%s", source);
	if (!vif_step(c, "route %s through %s%s%s%s", shown, c->dev, *detail ? " (" : "", detail,
		      *detail ? ")" : ""))
		return 0;
	int err = route_add_via(&c->net, &c->undo, c->link.ifindex, dst, src, metric);
	if (err == -NLE_EXIST)
		return vif_error(c,
				 "cannot route %s through %s: a route to it with metric %u goes "
				 "through another interface, probably another guest's; two guests' "
				 "addresses must not overlap",
				 shown, c->dev, metric);
	return err < 0 ? vif_net_error(c, err, "cannot route %s through %s", shown, c->dev) : 0;
}

int vif_take_down(struct vif_ctx *c)
{
	int err;
	if (!c->dev_exists || !c->link.up || !vif_step(c, "set %s down", c->dev))
		return 0;
	err = link_set_up(&c->net, NULL, &c->link, false);
	/* netback may remove the device at any moment around offline: that is fine. */
	if (err < 0 && err != -NLE_OBJ_NOTFOUND && err != -NLE_NODEV)
		return vif_net_error(c, err, "cannot set %s down", c->dev);
	c->link.up = false;
	return 0;
}

/* The frontend's mtu node as it was, to put back if a later step fails. */
struct frontend_mtu {
	char path[256];
	char *value; /* NULL: there was none */
};

static void release_frontend_mtu(const void *arg)
{
	struct frontend_mtu *old;
	memcpy(&old, arg, sizeof(old));
	free(old->value);
	free(old);
}

static int undo_frontend_mtu(void *ctx, const void *arg)
{
	struct vif_ctx *c = (struct vif_ctx *)((char *)ctx - offsetof(struct vif_ctx, net));
	struct frontend_mtu *old;
	memcpy(&old, arg, sizeof(old));
	int err = old->value ? store_write(c->xs, old->path, "mtu", old->value)
			     : store_rm(c->xs, old->path, "mtu");
	release_frontend_mtu(arg);
	return err < 0 ? -nl_syserr2nlerr(-err) : 0;
}

/* <frontend>/mtu: from the backend's frontend node, else the conventional path. */
static int write_frontend_mtu(struct vif_ctx *c)
{
	char path[256], value[16];
	if (c->frontend && *c->frontend)
		snprintf(path, sizeof(path), "%s", c->frontend);
	else
		snprintf(path, sizeof(path), "/local/domain/%u/device/vif/%u", c->domid, c->devid);
	snprintf(value, sizeof(value), "%u", c->mtu_value);
	if (!vif_step(c, "write %s/mtu = %s", path, value))
		return 0;
	struct frontend_mtu *old = calloc(1, sizeof(*old));
	if (!old)
		return vif_error(c, "out of memory");
	snprintf(old->path, sizeof(old->path), "%s", path);
	int err = store_read(c->xs, path, "mtu", &old->value);
	if (err < 0 && err != -ENOENT) {
		free(old);
		return vif_error(c, "cannot read %s/mtu from xenstore: %s", path, strerror(-err));
	}
	err = store_write(c->xs, path, "mtu", value);
	if (err < 0) {
		release_frontend_mtu(&old);
		return vif_error(c, "cannot write %s/mtu to xenstore: %s", path, strerror(-err));
	}
	if (undo_push_ref(&c->undo, undo_frontend_mtu, release_frontend_mtu, &old, sizeof(old),
			  "frontend MTU")) {
		undo_frontend_mtu(&c->net, &old); /* frees old */
		return vif_error(c, "too many changes to undo");
	}
	return 0;
}

static void release(struct vif_ctx *c)
{
	lock_release(&c->lock);
	net_close(&c->net);
	fw_close(&c->fw);
	store_close(c->xs);
	c->xs = NULL;
	addr_saved_free(c->flushed);
	c->flushed = NULL;
	free(c->bridge);
	free(c->ip);
	free(c->mac);
	free(c->mtu);
	free(c->vifname);
	free(c->frontend);
	free(c->vlan);
	c->bridge = c->ip = c->mac = c->mtu = c->vifname = c->frontend = c->vlan = NULL;
	log_close(&c->log);
}

/* The undo after the lock was let go runs under it again, when it can be had. */
static void relock_for_undo(struct vif_ctx *c)
{
	int err;
	char why[512];
	if (c->prog->lock && c->lock.fd < 0 && (err = lock_take(&c->lock, c->prog->lock)) < 0)
		log_msg(&c->log, LOG_ERR, "undoing without the lock: %s",
			lock_strerror(&c->lock, err, why, sizeof(why)));
}

int vif_finish(struct vif_ctx *c, const char *bridge)
{
	/* The lock is not held while the hooks run, as the Xen scripts held none: a slow hook
	 * must not hold up every other vif and network-bridge.  Nor for the guest's MTU node:
	 * what the lock guards is done. */
	lock_release(&c->lock);
	if (c->up && !c->tap && c->mtu_value && write_frontend_mtu(c) < 0) {
		relock_for_undo(c);
		return -1;
	}
	/* The hooks run before the report, as the Xen scripts ran them: what a hook adds (a
	 * rule, a shaper) is in place before the toolstack lets the guest's traffic flow. */
	if (!c->no_hooks && vif_step(c, "run the vif-post.d hooks")) {
		const struct hook_var vars[] = {
		    {"command", c->params.command},
		    {"dev", c->dev},
		    {"vif", c->vif},
		    {"bridge", bridge},
		    {"ip", c->ip},
		    {"mac", c->mac},
		    {"type_if", c->tap ? "tap" : "vif"},
		    {"XENBUS_PATH", c->backend},
		};
		hooks_run(&c->log, "vif-post", vars, sizeof(vars) / sizeof(vars[0]));
	}
	/* Reported before the changes are kept: if the report cannot be written, they are
	 * undone (under the lock again), and the toolstack does not wait for a device that
	 * seems half there. */
	if (c->command == VIF_ONLINE &&
	    vif_step(c, "write %s/hotplug-status = connected", c->backend)) {
		int err = store_write(c->xs, c->backend, "hotplug-status", "connected");
		if (err < 0) {
			relock_for_undo(c);
			return vif_error(c, "cannot write %s/hotplug-status: %s", c->backend,
					 strerror(-err));
		}
	}
	/* A signal caught on the way: every step after it was left out (log_vstep), and the
	 * ones before it are undone, the report included. */
	if (sig_caught()) {
		relock_for_undo(c);
		return vif_error(c, "%s %s of %s interrupted by %s: %s", c->prog->name,
				 c->params.command, c->dev, sig_caught_name(),
				 c->up ? "what it had done is undone"
				       : "run it again to finish removing the vif");
	}
	undo_commit(&c->undo);
	log_msg(&c->log, LOG_DEBUG, "successful %s %s for %s%s%s", c->prog->name, c->params.command,
		c->dev, bridge ? ", bridge " : "", bridge ? bridge : "");
	release(c);
	return 0;
}

static void report_undo(void *ctx, const char *what, int err)
{
	/* The undo steps get the netlink connection; the log lives in the context around it. */
	struct vif_ctx *c = (struct vif_ctx *)((char *)ctx - offsetof(struct vif_ctx, net));
	log_msg(&c->log, LOG_ERR, "could not restore the %s of %s: %s", what, c->dev,
		net_error(err));
}

int vif_fail(struct vif_ctx *c)
{
	if (c->undo.n) {
		int left = net_unwind(&c->net, &c->undo, report_undo);
		if (left)
			log_msg(&c->log, LOG_ERR, "%d change(s) could not be undone", left);
	}
	log_msg(&c->log, LOG_ERR, "%s", c->err);
	if (c->backend[0] && !c->params.dry_run) {
		if (!c->xs)
			c->xs = store_open();
		if (c->xs) {
			store_write(c->xs, c->backend, "hotplug-error", c->err);
			store_write(c->xs, c->backend, "hotplug-status", "error");
		}
	}
	release(c);
	return sig_exit_status();
}
