/* vif-bridge: attach a guest's vif to a Linux bridge, as Xen's vif-bridge script did. */
#include "bridge-vlan.h"
#include "link.h"
#include "signals.h"
#include "vif.h"

#include <netlink/errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "Usage: vif-bridge [key=value...] online|offline|add|remove [key=value...]\n"
    "\n"
    "Attach a Xen guest's network device to a bridge (online, add) or detach it\n"
    "(offline, remove). Run by udev (xend) or libxl (xl); see vif-bridge(8).\n"
    "\n"
    "Parameters (environment < key=value < xenstore backend node):\n"
    "  bridge=NAME    the bridge; default: the only bridge, else the first by name\n"
    "  ip=LIST        the guest's addresses, space-separated\n"
    "  mac=MAC        the guest's MAC address\n"
    "  mtu=N          the device MTU (68-65535); default: the bridge's MTU\n"
    "  vifname=NAME   rename the device\n"
    "  vlan=SPEC      the port's VLANs, as libxl 4.19 writes them: 10, 10p/20 (10 the\n"
    "                 PVID, untagged; 20 tagged), 10p/100+10x4; turns on the bridge's\n"
    "                 VLAN filtering; see VLANS in vif-bridge(8)\n"
    "  type_if=vif|tap  netback vif (online/offline) or emulated tap (add/remove)\n"
    "  firewall=nft|iptables|none  the guest's spoofing protection (argument or\n"
    "                 environment); default nft when the kernel has nf_tables, else\n"
    "                 iptables; see FIREWALL in vif-bridge(8)\n"
    "Environment: vif, XENBUS_PATH (type vif); INTERFACE (type tap).\n"
    "\n"
    "Options:\n"
    "  -h, --help     this text\n"
    "      --version  print the version\n"
    "  -v, --verbose  print each step\n"
    "  -n, --dry-run  print the steps, change nothing\n";

static const struct vif_program prog = {
    .name = "vif-bridge",
    .usage = usage,
    /* Only the bridge needs it (network-bridge may be taking the card over): the rules,
     * whose batches are atomic, go in and out outside it. */
    .lock = "network-bridge",
    .lock_late = true,
    .vlan = true,
};

/* Is name an existing bridge?  Fills st. */
static bool is_bridge(struct vif_ctx *c, const char *name, struct link_state *st)
{
	return link_get(&c->net, name, st) == 0 && st->is_bridge;
}

/*
 * The bridge to use (SPEC §4): the named one (xenbrN falling back to ethN in the rename
 * layout), else the only bridge, else the first by name with a warning.
 */
static int find_bridge(struct vif_ctx *c, char *name, struct link_state *st)
{
	if (c->bridge && *c->bridge) {
		snprintf(name, IFNAME_MAX + 1, "%s", c->bridge);
		if (is_bridge(c, name, st))
			return 0;
		if (!strncmp(name, "xenbr", 5) && link_get(&c->net, name, st) < 0) {
			char eth[IFNAME_MAX + 1];
			snprintf(eth, sizeof(eth), "eth%s", name + 5);
			if (is_bridge(c, eth, st)) {
				log_msg(&c->log, LOG_DEBUG, "%s does not exist, using bridge %s",
					name, eth);
				snprintf(name, IFNAME_MAX + 1, "%s", eth);
				return 0;
			}
		}
		if (link_get(&c->net, name, st) == 0)
			snprintf(c->err, sizeof(c->err),
				 "%s is not a bridge: set bridge= (xenstore, vif config or "
				 "argument) to the name of a bridge",
				 name);
		else
			snprintf(c->err, sizeof(c->err),
				 "bridge %s does not exist: create it (network-bridge start, or "
				 "the distribution's network configuration) or set bridge= to an "
				 "existing bridge",
				 name);
		return -1;
	}

	struct link_state *bridges = NULL;
	size_t n = 0;
	int err = bridge_list(&c->net, &bridges, &n);
	if (err < 0)
		return vif_net_error(c, err, "cannot list the bridges");
	if (n == 0) {
		free(bridges);
		snprintf(c->err, sizeof(c->err),
			 "no bridge given and none exists: create one or set bridge= in the "
			 "vif configuration");
		return -1;
	}
	snprintf(name, IFNAME_MAX + 1, "%s", bridges[0].name);
	if (n > 1)
		log_msg(&c->log, LOG_WARNING,
			"no bridge given and %zu exist: using %s, the first by name; set bridge= "
			"to choose",
			n, name);
	*st = bridges[0];
	free(bridges);
	return 0;
}

/*
 * Under the lock, the bridge found before it: still the same (its MTU read again), else found
 * anew, the rules renewed for it, since they name it.
 */
static int bridge_again(struct vif_ctx *c, char *bridge, struct link_state *br)
{
	struct link_state now;
	if (link_get_index(&c->net, br->ifindex, &now) == 0 && now.is_bridge &&
	    !strcmp(now.name, bridge)) {
		*br = now;
		return 0;
	}
	if (find_bridge(c, bridge, br) < 0)
		return -1;
	log_msg(&c->log, LOG_DEBUG, "the bridge changed meanwhile: %s now", bridge);
	return vif_firewall(c, false);
}

/*
 * Before any change: can the bridge take a vlan port?  Its kernel must filter VLANs
 * (CONFIG_BRIDGE_VLAN_FILTERING: without it the bridge has no VLAN attributes), of 802.1Q, and
 * if filtering is off, turning it on must leave the other ports their traffic: every port has
 * the bridge's default PVID, untagged, from the day it joined (the kernel gives it to a new
 * port whether filtering is on or not), so they carry what they carried untagged, now as
 * members of that VLAN.  With no default PVID they would carry nothing: refused.
 */
static int vlan_bridge_check(struct vif_ctx *c, const struct link_state *br,
			     struct bridge_vlan_state *st)
{
	int err = bridge_vlan_get(br->ifindex, st);
	if (err == -NLE_OPNOTSUPP)
		return vif_error(
		    c,
		    "vlan=%s needs VLAN filtering on bridge %s, and this kernel's "
		    "bridges have none (CONFIG_BRIDGE_VLAN_FILTERING): remove the vlan "
		    "setting or run a kernel built with it",
		    c->vlan, br->name);
	if (err < 0)
		return vif_net_error(c, err, "cannot read the VLAN settings of bridge %s (vlan=%s)",
				     br->name, c->vlan);
	if (st->protocol != 0x8100)
		return vif_error(c,
				 "bridge %s filters 802.1ad VLANs (protocol 0x%04x): vlan=%s needs "
				 "802.1Q (ip link set %s type bridge vlan_protocol 802.1Q)",
				 br->name, st->protocol, c->vlan, br->name);
	if (!st->filtering && !st->default_pvid)
		return vif_error(
		    c,
		    "bridge %s has no default PVID (vlan_default_pvid 0): turning on its "
		    "VLAN filtering for vlan=%s would cut its other ports off; give it "
		    "one, or turn filtering on yourself once its ports have their VLANs",
		    br->name, c->vlan);
	return 0;
}

/* Filtering on, before the port joins; its inverse is in the journal. */
static int vlan_bridge_on(struct vif_ctx *c, const struct link_state *br,
			  const struct bridge_vlan_state *st)
{
	if (st->filtering ||
	    !vif_step(c,
		      "turn on VLAN filtering on bridge %s (its other ports keep their VLANs, "
		      "the default PVID %u untagged)",
		      br->name, st->default_pvid))
		return 0;
	int err = bridge_set_vlan_filtering(&c->net, &c->undo, br->ifindex, true);
	if (err < 0)
		return vif_net_error(c, err, "cannot turn on VLAN filtering on bridge %s",
				     br->name);
	return 0;
}

/* The port's VLAN table made exactly the list: the default PVID it got on joining goes. */
static int vlan_port(struct vif_ctx *c, const char *bridge)
{
	char list[256];
	struct vlan_set now;

	vlan_format(&c->vlans, list, sizeof(list));
	if (!vif_step(c, "give %s the VLANs %s on bridge %s", c->dev, list, bridge))
		return 0;
	int err = port_vlans_get(c->link.ifindex, &now);
	if (err >= 0)
		err = port_vlans_set(&c->net, &c->undo, c->link.ifindex, &now, &c->vlans);
	return err < 0 ? vif_net_error(c, err, "cannot give %s the VLANs %s", c->dev, list) : 0;
}

static int online(struct vif_ctx *c, char *bridge)
{
	struct link_state br;
	struct bridge_vlan_state vst;
	int err;

	/* Not found: network-bridge may be making it; asked again once its lock is had. */
	bool locked = false;
	if (find_bridge(c, bridge, &br) < 0) {
		if (vif_lock(c) < 0 || find_bridge(c, bridge, &br) < 0)
			return -1;
		locked = true;
	}
	if ((c->has_vlan && vlan_bridge_check(c, &br, &vst) < 0) || vif_rename(c) < 0)
		return -1;
	c->port_of = bridge;
	/* Already online: leave the link alone rather than bounce it; the rules (and the VLANs)
	 * are renewed. */
	if (vif_is_port_ready(c, br.ifindex, br.mtu)) {
		/* The bridge's VLANs are changed under the lock, its state read again there. */
		if (c->has_vlan &&
		    (vif_lock(c) < 0 || (!locked && vlan_bridge_check(c, &br, &vst) < 0) ||
		     vlan_bridge_on(c, &br, &vst) < 0 || vlan_port(c, bridge) < 0))
			return -1;
		return vif_firewall(c, false);
	}
	if (!c->dev_exists)
		return vif_no_device(c);
	/*
	 * The rules go in before the device can carry a frame (it is down at online, and set down
	 * below if not) and before it joins the bridge; outside the lock, so that a storm of
	 * onlines commits its rules while others attach their vifs.
	 */
	if (vif_firewall(c, false) < 0)
		return -1;
	/* Under the lock the bridge's VLAN state is read again: another vif may have turned its
	 * filtering on meanwhile, which this one's undo must then leave on. */
	if (!locked && (vif_lock(c) < 0 || bridge_again(c, bridge, &br) < 0 ||
			(c->has_vlan && vlan_bridge_check(c, &br, &vst) < 0)))
		return -1;
	if (vif_prepare_port(c, br.mtu) < 0)
		return -1;
	if (c->has_vlan && vlan_bridge_on(c, &br, &vst) < 0)
		return -1;
	if (c->link.master != br.ifindex && vif_step(c, "add %s to bridge %s", c->dev, bridge)) {
		if ((err = link_set_master(&c->net, &c->undo, &c->link, br.ifindex)) < 0)
			return vif_net_error(c, err, "cannot add %s to bridge %s", c->dev, bridge);
		c->link.master = br.ifindex;
	}
	/* While the port is still down: it never carries a frame on the default PVID. */
	if (c->has_vlan && vlan_port(c, bridge) < 0)
		return -1;
	return vif_bring_up(c);
}

static int offline(struct vif_ctx *c, char *bridge)
{
	struct link_state br;
	int err;

	if (vif_rename(c) < 0)
		return -1;
	/* The bridge only names the hooks' environment here: a vanished one is no error. */
	if (find_bridge(c, bridge, &br) < 0) {
		log_msg(&c->log, LOG_DEBUG, "%s", c->err);
		c->err[0] = '\0';
		bridge[0] = '\0';
	}
	if (vif_lock(c) < 0 || vif_take_down(c) < 0)
		return -1;
	/* Only once the device is down, so that it never passes unfiltered traffic; the lock,
	 * which guards the bridge, is not needed for that. */
	if (!c->dev_exists || !c->link.master) {
		vif_unlock(c);
		return vif_firewall(c, false);
	}
	struct link_state master = {0};
	snprintf(master.name, sizeof(master.name), "its bridge");
	if (link_get_index(&c->net, c->link.master, &master) == 0 && !bridge[0])
		snprintf(bridge, IFNAME_MAX + 1, "%s", master.name);
	if (vif_step(c, "remove %s from bridge %s", c->dev, master.name)) {
		err = link_set_master(&c->net, NULL, &c->link, 0);
		if (err < 0 && err != -NLE_OBJ_NOTFOUND && err != -NLE_NODEV)
			return vif_net_error(c, err, "cannot remove %s from its bridge", c->dev);
	}
	vif_unlock(c);
	return vif_firewall(c, false);
}

int main(int argc, char *argv[])
{
	struct vif_ctx c;
	char bridge[IFNAME_MAX + 1] = "";

	sig_install();
	int r = vif_begin(&c, &prog, argc, argv);
	if (r > 0)
		return 0;
	if (r < 0)
		return vif_fail(&c);
	r = c.up ? online(&c, bridge) : offline(&c, bridge);
	if (r < 0 || vif_finish(&c, bridge[0] ? bridge : NULL) < 0)
		return vif_fail(&c);
	return 0;
}
