/* vif-route: route a guest's addresses through its vif, the host answering ARP and NDP for it. */
#include "addr.h"
#include "neigh.h"
#include "signals.h"
#include "sysctl.h"
#include "vif.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <netlink/errno.h>

static const char usage[] =
    "Usage: vif-route [key=value...] online|offline|add|remove [key=value...]\n"
    "\n"
    "Route a Xen guest's addresses through its network device (online, add), or stop\n"
    "(offline, remove). The device gets the host's address as /32 and proxy ARP; each\n"
    "address in ip= gets a route through it, and each single IPv6 address a proxy NDP\n"
    "entry on netdev. Run by udev (xend) or libxl (xl); see vif-route(8).\n"
    "\n"
    "Parameters (environment < key=value < xenstore backend node):\n"
    "  ip=LIST        the guest's addresses or prefixes, space-separated: each is\n"
    "                 routed through the device (metric 2 for vif, 1 for tap); none\n"
    "                 may hold the host's own address; the host answers the LAN's\n"
    "                 neighbour solicitations for IPv6 addresses (/128), not prefixes\n"
    "  netdev=DEV     the device whose primary IPv4 address the vif takes, and on\n"
    "                 which the host answers for the guest's IPv6 addresses (argument\n"
    "                 or environment); default: the device of the IPv4 default route\n"
    "  mac=MAC        the guest's MAC address (checked, handed to the hooks)\n"
    "  mtu=N          the device MTU (68-65535)\n"
    "  vifname=NAME   rename the device\n"
    "  type_if=vif|tap  netback vif (online/offline) or emulated tap (add/remove)\n"
    "  firewall=nft|iptables|none  the guest's spoofing protection (argument or\n"
    "                 environment); default nft when the kernel has nf_tables\n"
    "Environment: vif, XENBUS_PATH (type vif); INTERFACE (type tap).\n"
    "\n"
    "Options:\n"
    "  -h, --help     this text\n"
    "      --version  print the version\n"
    "  -v, --verbose  print each step\n"
    "  -n, --dry-run  print the steps, change nothing\n";

static const struct vif_program prog = {
    .name = "vif-route",
    .usage = usage,
    .lock = NULL, /* each vif is its own: the firewall's batches are atomic */
};

/* The host's address on netdev (argument, environment, else the default-route device), and
 * netdev's name and index. */
static int host_address(struct vif_ctx *c, struct in_addr *addr, char *netdev, int *ifindex)
{
	const char *nd = params_get(&c->params, "netdev");
	const char *expected;
	struct link_state l;
	int err;

	if (nd && *nd) {
		if ((expected = check_ifname(nd))) {
			params_invalid(c->err, sizeof(c->err), "netdev", nd, expected);
			return -1;
		}
		snprintf(netdev, IFNAME_MAX + 1, "%s", nd);
		err = link_get(&c->net, netdev, &l);
		if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV)
			return vif_error(c,
					 "netdev %s does not exist: set netdev= to the device "
					 "whose address the guest's routes use",
					 netdev);
		if (err < 0)
			return vif_net_error(c, err, "cannot look up netdev %s", netdev);
	} else if ((err = route_default_link(&c->net, &l)) < 0) {
		if (err != -NLE_OBJ_NOTFOUND)
			return vif_net_error(c, err, "cannot read the routing table");
		return vif_error(c, "no netdev given and no IPv4 default route: set netdev= to "
				    "the device whose address the guest's routes use");
	} else {
		snprintf(netdev, IFNAME_MAX + 1, "%s", l.name);
	}
	*ifindex = l.ifindex;
	if ((err = addr_primary4(l.ifindex, addr)) == -NLE_NOADDR) {
		return vif_error(
		    c,
		    "%s has no IPv4 address: bring it up, or set netdev= to the device "
		    "whose address the guest's routes use",
		    netdev);
	}
	return err < 0 ? vif_net_error(c, err, "cannot read the addresses of %s", netdev) : 0;
}

/*
 * An entry that holds the host's own address (192.0.2.10/24 for a host at 192.0.2.2/24) would
 * give the guest the host's network: the reverse rule would drop every packet from that network
 * arriving anywhere but at the vif, the router's too.  Refused, before anything is changed.
 */
static int check_not_host(struct vif_ctx *c, struct in_addr host, const char *netdev)
{
	char entry[64], text[INET_ADDRSTRLEN], guest[INET_ADDRSTRLEN], shown[96];
	for (size_t i = 0; i < c->n_ips; i++) {
		const struct ip_prefix *p = &c->ips[i];
		if (p->family != AF_INET)
			continue;
		uint32_t mask = p->len ? htonl(~0u << (32 - p->len)) : 0;
		if ((p->addr.v4.s_addr ^ host.s_addr) & mask)
			continue;
		ip_prefix_format(p, entry, sizeof(entry));
		inet_ntop(AF_INET, &host, text, sizeof(text));
		inet_ntop(AF_INET, &p->addr.v4, guest, sizeof(guest));
		return vif_error(c,
				 "invalid ip '%s': the entry %s holds the host's own address %s "
				 "(of %s); list only the guest's own addresses and prefixes "
				 "(%s rather than %s)",
				 printable(c->ip, shown, sizeof(shown)), entry, text, netdev,
				 p->len == 32 ? "another address" : guest, entry);
	}
	return 0;
}

/*
 * Proxy NDP answers for single addresses only: a prefix has no entry (the kernel matches
 * proxy entries exactly), the router upstream must route it to the host.
 */
static bool proxied(const struct ip_prefix *p)
{
	return p->family == AF_INET6 && p->len == 128;
}

/*
 * The kernel answers for a proxy entry only on a device that forwards IPv6 and has proxy_ndp
 * on (or all.proxy_ndp).  Those are the host's settings, network-route's to make and put
 * back: a guest's online only says that they are missing.
 */
static void check_proxy_ndp(struct vif_ctx *c, const char *netdev)
{
	char key[SYSCTL_KEY_MAX];
	sysctl_conf6_key(key, netdev, "forwarding");
	bool forwards = sysctl_on(key);
	sysctl_conf6_key(key, netdev, "proxy_ndp");
	if (forwards && (sysctl_on(key) || sysctl_on(SYSCTL_IPV6 "conf/all/proxy_ndp")))
		return;
	log_msg(&c->log, LOG_WARNING,
		"%s does not %s: the LAN cannot reach the guest's IPv6 addresses; run "
		"network-route start netdev=%s",
		netdev, forwards ? "answer for other hosts (proxy_ndp is off)" : "forward IPv6",
		netdev);
}

/* The host answers the LAN's neighbour solicitations for each IPv6 address on netdev. */
static int proxy_ndp(struct vif_ctx *c, const char *netdev, int ifindex)
{
	char text[INET6_ADDRSTRLEN];
	bool checked = false;
	int err;
	for (size_t i = 0; i < c->n_ips; i++) {
		if (!proxied(&c->ips[i]))
			continue;
		if (!checked) {
			check_proxy_ndp(c, netdev);
			checked = true;
		}
		inet_ntop(AF_INET6, &c->ips[i].addr.v6, text, sizeof(text));
		if (vif_step(c, "answer for %s on %s (proxy NDP)", text, netdev) &&
		    (err = neigh_proxy_add(&c->net, &c->undo, ifindex, &c->ips[i].addr.v6)) < 0)
			return vif_net_error(c, err, "cannot add a proxy NDP entry for %s on %s",
					     text, netdev);
	}
	return 0;
}

/*
 * Offline: the proxy entries of the guest's IPv6 addresses go, on whatever device they are:
 * the device of the default route may have changed since online, or be gone.  An HVM guest's
 * card is two devices with one list: while the other one is there, the entries are its too.
 * One that cannot go would draw the LAN's traffic for an address no longer routed here: a
 * failure (c->err), once the rest is done, so that offline is run again.
 */
static int unproxy_ndp(struct vif_ctx *c)
{
	int r = 0;
	char text[INET6_ADDRSTRLEN], twin[IFNAME_MAX + 1];
	size_t len = strlen(c->dev);
	struct link_state l;
	bool checked = false;
	for (size_t i = 0; i < c->n_ips; i++) {
		if (!proxied(&c->ips[i]))
			continue;
		if (!checked) {
			bool emu = len > 4 && !strcmp(c->dev + len - 4, "-emu");
			snprintf(twin, sizeof(twin), "%.*s%s", (int)(emu ? len - 4 : len), c->dev,
				 emu ? "" : "-emu");
			/* The first of the two to go (set down before this) leaves them; a name
			 * too long for "-emu" has no twin. */
			if ((emu || len + 4 <= IFNAME_MAX) && link_get(&c->net, twin, &l) == 0 &&
			    l.up) {
				log_msg(&c->log, LOG_DEBUG,
					"%s is up: the proxy NDP entries stay for it", twin);
				return 0;
			}
			checked = true;
		}
		inet_ntop(AF_INET6, &c->ips[i].addr.v6, text, sizeof(text));
		if (!vif_step(c, "stop answering for %s (proxy NDP)", text))
			continue;
		int err = neigh_proxy_del_all(&c->net, &c->ips[i].addr.v6);
		if (err < 0)
			r = vif_net_error(c, err, "cannot delete the proxy NDP entries for %s",
					  text);
	}
	return r;
}

static int online(struct vif_ctx *c)
{
	struct in_addr host;
	char netdev[IFNAME_MAX + 1], text[INET_ADDRSTRLEN], dst[64];
	unsigned metric = c->tap ? 1 : 2;
	int err, ifindex = 0;

	if (host_address(c, &host, netdev, &ifindex) < 0 || check_not_host(c, host, netdev) < 0 ||
	    vif_rename(c) < 0)
		return -1;
	if (!c->dev_exists)
		return vif_no_device(c);
	inet_ntop(AF_INET, &host, text, sizeof(text));

	if (vif_set_mtu(c) < 0)
		return -1;
	/* The rules go in before the device can carry a frame. */
	if (vif_firewall(c, true) < 0)
		return -1;
	struct ip_prefix self = {.family = AF_INET, .len = 32, .addr.v4 = host};
	if (vif_step(c, "give %s the address %s/32 (from %s)", c->dev, text, netdev) &&
	    (err = addr_add_prefix(&c->net, &c->undo, c->link.ifindex, &self)) < 0)
		return vif_net_error(c, err, "cannot add %s/32 to %s", text, c->dev);
	if (vif_proxy_arp(c) < 0 || vif_bring_up(c) < 0)
		return -1;
	for (size_t i = 0; i < c->n_ips; i++) {
		ip_prefix_format(&c->ips[i], dst, sizeof(dst));
		if (vif_route(c, &c->ips[i], dst, &host, metric) < 0)
			return -1;
	}
	return proxy_ndp(c, netdev, ifindex);
}

static int offline(struct vif_ctx *c)
{
	char dst[64];
	unsigned metric = c->tap ? 1 : 2;

	if (vif_rename(c) < 0 || vif_take_down(c) < 0)
		return -1;
	int unproxied = unproxy_ndp(c);
	/* Down, the device lost its routes already; whatever is left goes, gone is fine. */
	for (size_t i = 0; c->dev_exists && i < c->n_ips; i++) {
		ip_prefix_format(&c->ips[i], dst, sizeof(dst));
		if (!vif_step(c, "delete the route to %s through %s", dst, c->dev))
			continue;
		int err = route_del_via(&c->net, c->link.ifindex, &c->ips[i], metric);
		if (err < 0)
			log_msg(&c->log, LOG_WARNING,
				"cannot delete the route to %s through %s: %s", dst, c->dev,
				net_error(err));
	}
	return vif_firewall(c, true) < 0 ? -1 : unproxied;
}

int main(int argc, char *argv[])
{
	struct vif_ctx c;

	sig_install();
	int r = vif_begin(&c, &prog, argc, argv);
	if (r > 0)
		return 0;
	if (r < 0)
		return vif_fail(&c);
	r = c.up ? online(&c) : offline(&c);
	if (r < 0 || vif_finish(&c, NULL) < 0)
		return vif_fail(&c);
	return 0;
}
