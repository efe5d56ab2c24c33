/* vif-nat: put a guest behind the host's NAT: router address on its vif, host route, DHCP entry. */
#include "addr.h"
#include "dhcp.h"
#include "nat-address.h"
#include "paths.h"
#include "signals.h"
#include "statefile.h"
#include "vif.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/errno.h>

static const char usage[] =
    "Usage: vif-nat [key=value...] online|offline [key=value...]\n"
    "\n"
    "Put a Xen guest behind the host's NAT (online): the vif gets the router address\n"
    "(the guest's address + 127 on the last octet), a host route to the guest, proxy\n"
    "ARP and, with DHCP, an entry that gives the guest its fixed address and router;\n"
    "offline takes the entry away. Run by udev (xend) or libxl (xl); see vif-nat(8).\n"
    "\n"
    "Parameters (environment < key=value < xenstore backend node):\n"
    "  ip=ADDR        the guest's address; default 10.<domid/256>.<domid%256>.<handle+1>/16\n"
    "  mac=MAC        the guest's MAC address (DHCP entry, firewall)\n"
    "  mtu=N          the device MTU (68-65535)\n"
    "  vifname=NAME   rename the device\n"
    "  firewall=nft|iptables|none  the guest's spoofing protection (argument or\n"
    "                 environment); default nft when the kernel has nf_tables\n"
    "DHCP (argument or environment only):\n"
    "  dhcp=no|yes|dnsmasq  default no (yes when /etc/dhcpd.conf exists)\n"
    "  dhcpd_conf=PATH, dhcpd_defaults=PATH, dhcpd_init=PATH  ISC dhcpd's files;\n"
    "                 default the usual places (see vif-nat(8))\n"
    "  dnsmasq_hosts=PATH  default /var/lib/xen/dnsmasq-hosts\n"
    "  dnsmasq_pid=PATH    default /run/dnsmasq/dnsmasq.pid\n"
    "Environment: vif, XENBUS_PATH.\n"
    "\n"
    "Options:\n"
    "  -h, --help     this text\n"
    "      --version  print the version\n"
    "  -v, --verbose  print each step\n"
    "  -n, --dry-run  print the steps, change nothing\n";

static const struct vif_program prog = {
    .name = "vif-nat",
    .usage = usage,
    .lock = NULL, /* the DHCP files have their own lock, vif-nat-dhcp */
};

struct nat_vif {
	struct vif_ctx c; /* first: the undo steps find the rest from it */
	struct dhcp dhcp;
	struct nat_address a;
	char guest[INET_ADDRSTRLEN], router[INET_ADDRSTRLEN];
};

/* domid from frontend-id and the handle, else from the backend path (SPEC §5). */
static int read_id(struct vif_ctx *c, const char *key, unsigned fallback, unsigned max,
		   unsigned *out)
{
	char *v = NULL;
	int err = store_read(c->xs, c->backend, key, &v);
	*out = fallback;
	if (err == -ENOENT)
		return 0;
	if (err < 0)
		return vif_error(c, "cannot read %s/%s from xenstore: %s", c->backend, key,
				 strerror(-err));
	const char *expected = parse_id(v, max, out);
	if (expected)
		params_invalid(c->err, sizeof(c->err), key, v, expected);
	free(v);
	return expected ? -1 : 0;
}

static int addresses(struct nat_vif *n)
{
	struct vif_ctx *c = &n->c;
	unsigned domid, handle;
	char ip[64] = "";

	if (read_id(c, "frontend-id", c->domid, 65535, &domid) < 0 ||
	    read_id(c, "handle", c->devid, 65535, &handle) < 0)
		return -1;
	/* The first entry of ip is the guest's address; the firewall takes them all. */
	if (c->n_ips)
		ip_prefix_format(&c->ips[0], ip, sizeof(ip));
	const char *expected = nat_address(ip, domid, handle, &n->a);
	if (expected) {
		char shown[16];
		snprintf(shown, sizeof(shown), "%u", handle);
		params_invalid(c->err, sizeof(c->err), ip[0] ? "ip" : "handle",
			       ip[0] ? c->ip : shown, expected);
		return -1;
	}
	inet_ntop(AF_INET, &n->a.guest, n->guest, sizeof(n->guest));
	inet_ntop(AF_INET, &n->a.router, n->router, sizeof(n->router));
	if (!c->n_ips) {
		/* As the scripts did: the hooks see the derived address. */
		char text[64];
		snprintf(text, sizeof(text), "%s/%u", n->guest, n->a.prefix);
		free(c->ip);
		if (!(c->ip = strdup(text)))
			return vif_error(c, "out of memory");
		c->n_ips = 1;
	}
	/*
	 * The firewall gets the guest's own address, not the subnet it lives in: the prefix
	 * (10.x.y.z/16 by default) would make every other NAT guest's address one that only this
	 * vif may use, and the host routes only that one address to the guest anyway.
	 */
	c->ips[0] = (struct ip_prefix){.family = AF_INET, .len = 32, .addr.v4 = n->a.guest};
	return 0;
}

static struct dhcp_host dhcp_host_of(struct nat_vif *n)
{
	return (struct dhcp_host){.name = n->a.hostname,
				  .mac = n->c.mac ? n->c.mac : "",
				  .ip = n->guest,
				  .router = n->router,
				  .dev = n->c.dev};
}

static int undo_dhcp(void *ctx, const void *arg)
{
	(void)arg;
	struct nat_vif *n = (struct nat_vif *)((char *)ctx - offsetof(struct vif_ctx, net));
	struct dhcp_host h = dhcp_host_of(n);
	char err[256];
	return dhcp_host(&n->dhcp, &h, false, &n->c.log, err, sizeof(err)) < 0 ? -NLE_FAILURE : 0;
}

/* The mark of an online under way goes with the rest when it fails. */
static int undo_mark(void *ctx, const void *arg)
{
	(void)ctx;
	int err = statefile_remove(arg);
	return err < 0 ? -nl_syserr2nlerr(-err) : 0;
}

/*
 * Before the first change: the mark that this vif's online is under way, so that an online
 * killed half-way is not taken for one done.  Atomic, not flushed: a power cut takes the
 * kernel's state along.
 */
static int mark_online(struct vif_ctx *c, const char *mark)
{
	int err = statefile_put(mark, "online\n", 7);
	if (err < 0)
		return vif_error(c, "cannot write %s/%s: %s", path_run_dir(), mark, strerror(-err));
	if (undo_push(&c->undo, undo_mark, mark, strlen(mark) + 1, "the online mark")) {
		statefile_remove(mark);
		return vif_error(c, "out of memory");
	}
	return 0;
}

static int online(struct nat_vif *n)
{
	struct vif_ctx *c = &n->c;
	int err;

	if (dhcp_check_files(&n->dhcp, c->err, sizeof(c->err)) < 0 || vif_rename(c) < 0)
		return -1;
	if (!c->dev_exists)
		return vif_no_device(c);
	if (n->dhcp.kind != DHCP_NO && !(c->mac && *c->mac))
		return vif_error(c, "dhcp=%s needs the guest's MAC address, and %s/mac is not set",
				 dhcp_kind_name(n->dhcp.kind), c->backend);
	/*
	 * A route through the vif means an earlier online did the work (SPEC §5), unless that
	 * online is unfinished: one killed half-way made the route but left its mark, and this
	 * one finishes the work (each step finds what is done already).
	 */
	int up = route_any_via(c->link.ifindex);
	if (up < 0)
		return vif_net_error(c, up, "cannot read the routing table");
	char mark[64];
	snprintf(mark, sizeof(mark), "vif-nat.%s.online", c->dev);
	if (up && !statefile_exists(mark)) {
		log_msg(&c->log, LOG_DEBUG, "%s already up", c->dev);
		c->no_hooks = true;
		return 0;
	}
	if (!c->params.dry_run && (err = mark_online(c, mark)) < 0)
		return -1;
	if (vif_set_mtu(c) < 0)
		return -1;
	if (vif_firewall(c, true) < 0)
		return -1;
	if (c->link.noarp && vif_step(c, "turn ARP on on %s", c->dev)) {
		if ((err = link_set_arp(&c->net, &c->undo, &c->link, true)) < 0)
			return vif_net_error(c, err, "cannot turn ARP on on %s", c->dev);
		c->link.noarp = false;
	}
	if (vif_bring_up(c) < 0)
		return -1;
	struct ip_prefix router = {.family = AF_INET, .len = 32, .addr.v4 = n->a.router};
	struct ip_prefix guest = {.family = AF_INET, .len = 32, .addr.v4 = n->a.guest};
	if (vif_step(c, "give %s the router address %s", c->dev, n->router) &&
	    (err = addr_add_prefix(&c->net, &c->undo, c->link.ifindex, &router)) < 0)
		return vif_net_error(c, err, "cannot add %s to %s", n->router, c->dev);
	if (vif_route(c, &guest, n->guest, &n->a.router, 0) < 0 || vif_proxy_arp(c) < 0)
		return -1;
	if (n->dhcp.kind != DHCP_NO && vif_step(c, "add the DHCP entry %s (%s, %s, router %s)",
						n->a.hostname, c->mac, n->guest, n->router)) {
		struct dhcp_host h = dhcp_host_of(n);
		if (dhcp_host(&n->dhcp, &h, true, &c->log, c->err, sizeof(c->err)) < 0)
			return -1;
		if (undo_push(&c->undo, undo_dhcp, NULL, 0, "DHCP entry"))
			return vif_error(c, "out of memory");
	}
	/* Done: what is left (hooks, report) an "already up" online does too. */
	if (!c->params.dry_run && (err = statefile_remove(mark)) < 0)
		return vif_error(c, "cannot remove %s/%s: %s", path_run_dir(), mark,
				 strerror(-err));
	return 0;
}

/* The first failure of offline is the one reported; later ones go to the log. */
static void offline_failed(struct vif_ctx *c, char *first, size_t len)
{
	if (first[0])
		log_msg(&c->log, LOG_ERR, "%s", c->err);
	else
		snprintf(first, len, "%s", c->err);
}

/*
 * Every step is tried even when one fails: the guest is gone, and whatever can still be
 * cleaned up should be (SPEC §2).
 */
static int offline(struct nat_vif *n)
{
	struct vif_ctx *c = &n->c;
	char first[sizeof(c->err)] = "";

	if (vif_rename(c) < 0)
		return -1;
	/* The mark an online killed half-way left. */
	char mark[64];
	snprintf(mark, sizeof(mark), "vif-nat.%s.online", c->dev);
	if (!c->params.dry_run) {
		statefile_forget_temp(mark);
		if (statefile_exists(mark) && statefile_remove(mark) < 0)
			log_msg(&c->log, LOG_WARNING, "cannot remove %s/%s", path_run_dir(), mark);
	}
	if (n->dhcp.kind != DHCP_NO && vif_step(c, "remove the DHCP entry %s", n->a.hostname)) {
		struct dhcp_host h = dhcp_host_of(n);
		if (dhcp_host(&n->dhcp, &h, false, &c->log, c->err, sizeof(c->err)) < 0)
			offline_failed(c, first, sizeof(first));
	}
	/* A vif still up keeps its rules: never a moment unfiltered (SPEC §6). */
	if (vif_take_down(c) < 0)
		offline_failed(c, first, sizeof(first));
	else if (vif_firewall(c, true) < 0)
		offline_failed(c, first, sizeof(first));
	if (!first[0])
		return 0;
	snprintf(c->err, sizeof(c->err), "%s", first);
	return -1;
}

int main(int argc, char *argv[])
{
	struct nat_vif n;

	sig_install();
	memset(&n, 0, sizeof(n));
	int r = vif_begin(&n.c, &prog, argc, argv);
	if (r > 0)
		return 0;
	if (r < 0)
		return vif_fail(&n.c);
	if (dhcp_setup(&n.dhcp, &n.c.params, false, n.c.err, sizeof(n.c.err)) < 0 ||
	    addresses(&n) < 0)
		return vif_fail(&n.c);
	/* The Xen scripts do nothing for the emulated NIC in NAT mode. */
	if (n.c.tap)
		r = 0;
	else
		r = n.c.up ? online(&n) : offline(&n);
	if (r < 0 || vif_finish(&n.c, NULL) < 0)
		return vif_fail(&n.c);
	return 0;
}
