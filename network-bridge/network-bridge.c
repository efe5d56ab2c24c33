/* network-bridge: take the physical NIC into a bridge for the guests, and give it back. */
#include "network-bridge.h"
#include "addr.h"
#include "paths.h"
#include "signals.h"
#include "version.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/errno.h>

static const char usage[] =
    "Usage: network-bridge [key=value...] start|stop|status [key=value...]\n"
    "\n"
    "Take the physical device into a bridge so that guests share its network (start),\n"
    "give it back exactly as it was (stop), or show the state (status). Run by xend\n"
    "at its start and stop (network-script in xend-config.sxp); see network-bridge(8).\n"
    "\n"
    "Parameters (environment < key=value):\n"
    "  netdev=DEV     the physical device; default: the device of the IPv4 default\n"
    "                 route, else eth<vifnum>\n"
    "  vifnum=N       default: N when netdev is ethN, else 0\n"
    "  bridge=NAME    default: xenbr<vifnum>; bridge=<netdev> renames the device to\n"
    "                 p<netdev> and gives its name to the bridge; bridge=null: do nothing\n"
    "  force=yes      stop even though guests' vifs are still on the bridge\n"
    "  antispoof=yes  drop frames bridged from any port but netdev and the vifs that\n"
    "                 vif-bridge registered (nft, table bridge xen_hotplug); stop\n"
    "                 removes it\n"
    "  firewall=nft   where the antispoof policy lives (nft only)\n"
    "\n"
    "Options:\n"
    "  -h, --help     this text\n"
    "      --version  print the version\n"
    "  -v, --verbose  print each step\n"
    "  -n, --dry-run  print the steps, change nothing\n"
    "      --json     status as JSON\n";

int nb_fail(struct nb *nb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(nb->err, sizeof(nb->err), fmt, ap);
	va_end(ap);
	return -1;
}

int nb_net_fail(struct nb *nb, int err, const char *fmt, ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return nb_fail(nb, "%s: %s", what, net_error(err));
}

bool nb_step(struct nb *nb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	bool go = log_vstep(&nb->log, nb->params.dry_run, fmt, ap);
	va_end(ap);
	return go;
}

static int invalid(struct nb *nb, const char *key, const char *value, const char *expected)
{
	params_invalid(nb->err, sizeof(nb->err), key, value, expected);
	return -1;
}

/*
 * The default-route device is a bridge but start left no state file (it was lost): the NIC
 * is the port whose MAC address the bridge took.  netdev becomes that device (its name before
 * a rename layout's p prefix) and bridge the bridge.  0, or -1 when that does not apply.
 */
static int default_dev_bridged(struct nb *nb, char *bridge)
{
	struct link_state br, *ports;
	size_t n;
	int found = -1;
	if (link_get(&nb->net, nb->netdev, &br) < 0 || !br.is_bridge ||
	    bridge_ports(&nb->net, br.ifindex, &ports, &n) < 0)
		return -1;
	for (size_t i = 0; i < n && found < 0; i++) {
		if (memcmp(ports[i].mac, br.mac, 6))
			continue;
		const char *name = ports[i].name;
		if (name[0] == 'p' && !strcmp(name + 1, br.name))
			name++;
		snprintf(nb->netdev, sizeof(nb->netdev), "%s", name);
		memcpy(bridge, br.name, IFNAME_MAX + 1);
		found = 0;
	}
	free(ports);
	return found;
}

/* The defaults of SPEC §3, each value validated. Returns 1 for bridge=null. */
static int resolve(struct nb *nb)
{
	const char *netdev = params_get(&nb->params, "netdev");
	const char *vifnum = params_get(&nb->params, "vifnum");
	const char *bridge = params_get(&nb->params, "bridge");
	const char *force = params_get(&nb->params, "force");
	const char *expected;
	unsigned n = 0;
	bool have_vifnum = vifnum && *vifnum;
	char state_bridge[IFNAME_MAX + 1];
	struct nb_record rec;

	if (bridge && !strcmp(bridge, "null"))
		return 1;
	if (have_vifnum && (expected = parse_id(vifnum, 9999, &n)))
		return invalid(nb, "vifnum", vifnum, "a decimal number from 0 to 9999");
	if (netdev && *netdev) {
		if ((expected = check_ifname(netdev)))
			return invalid(nb, "netdev", netdev, expected);
		snprintf(nb->netdev, sizeof(nb->netdev), "%s", netdev);
	} else {
		int err = route_default_dev(&nb->net, nb->netdev);
		if (err < 0 && err != -NLE_OBJ_NOTFOUND)
			return nb_net_fail(nb, err, "cannot read the routing table");
		if (err < 0)
			snprintf(nb->netdev, sizeof(nb->netdev), "eth%u", n);
		/* After start the default route goes through our bridge: its record says
		 * which device and bridge that start was about. */
		else if (nb_record_load(nb->netdev, &rec) == 0) {
			snprintf(nb->netdev, sizeof(nb->netdev), "%s", rec.netdev);
			snprintf(state_bridge, sizeof(state_bridge), "%s", rec.bridge);
			nb_record_free(&rec);
			if (!(bridge && *bridge))
				bridge = state_bridge;
		} else if (default_dev_bridged(nb, state_bridge) == 0 && !(bridge && *bridge)) {
			bridge = state_bridge;
		}
	}
	/* vifnum follows an ethN netdev, as in the scripts. */
	if (!have_vifnum && !strncmp(nb->netdev, "eth", 3) && parse_id(nb->netdev + 3, 9999, &n))
		n = 0;
	if (bridge && *bridge) {
		if ((expected = check_ifname(bridge)))
			return invalid(nb, "bridge", bridge, expected);
		snprintf(nb->bridge, sizeof(nb->bridge), "%s", bridge);
	} else {
		snprintf(nb->bridge, sizeof(nb->bridge), "xenbr%u", n);
	}
	if (force && *force && (expected = parse_yesno(force, &nb->force)))
		return invalid(nb, "force", force, expected);
	const char *timeout;
	if ((expected = lock_timeout_invalid(&timeout)))
		return invalid(nb, LOCK_TIMEOUT_ENV, timeout, expected);
	const char *antispoof = params_get(&nb->params, "antispoof");
	if (antispoof && *antispoof && (expected = parse_yesno(antispoof, &nb->antispoof)))
		return invalid(nb, "antispoof", antispoof, expected);
	nb->rename = !strcmp(nb->bridge, nb->netdev);
	if (nb->rename) {
		if (strlen(nb->netdev) >= IFNAME_MAX)
			return invalid(nb, "netdev", nb->netdev,
				       "a name of at most 14 bytes, so that p<netdev> fits");
		snprintf(nb->port, sizeof(nb->port), "p%s", nb->netdev);
	} else {
		snprintf(nb->port, sizeof(nb->port), "%s", nb->netdev);
	}
	return 0;
}

int nb_open_firewall(struct nb *nb)
{
	const char *fw = params_get(&nb->params, "firewall");
	bool fallback;
	const char *expected = fw_open(&nb->fw, fw, &fallback);
	return expected ? invalid(nb, "firewall", fw, expected) : 0;
}

/* The undo of an antispoof policy installed by this run. */
static int undo_antispoof(void *ctx, const void *arg)
{
	struct nb *nb = (struct nb *)((char *)ctx - offsetof(struct nb, net));
	char err[256];
	(void)arg;
	return fw_antispoof_del(&nb->fw, nb->bridge, nb->port, err, sizeof(err));
}

int nb_antispoof_add(struct nb *nb)
{
	char err[512];
	if (!nb_step(nb,
		     "install the antispoof policy of %s (only %s and registered vifs may "
		     "send frames bridged to other ports)",
		     nb->bridge, nb->port))
		return 0;
	if (fw_antispoof_add(&nb->fw, nb->bridge, nb->port, err, sizeof(err)) < 0)
		return nb_fail(nb, "%s", err);
	if (undo_push(&nb->undo, undo_antispoof, NULL, 0, "antispoof policy") < 0) {
		fw_antispoof_del(&nb->fw, nb->bridge, nb->port, err, sizeof(err));
		return nb_fail(nb, "too many changes to undo");
	}
	return 0;
}

int nb_antispoof_del(struct nb *nb)
{
	char err[512];
	if (nb->fw.backend != FW_NFT || fw_antispoof_installed(&nb->fw, nb->bridge) <= 0)
		return 0;
	if (!nb_step(nb, "remove the antispoof policy of %s", nb->bridge))
		return 0;
	if (fw_antispoof_del(&nb->fw, nb->bridge, nb->port, err, sizeof(err)) < 0)
		return nb_fail(nb, "%s", err);
	return 0;
}

int main(int argc, char *argv[])
{
	static const char *const commands[] = {"start", "stop", "status", NULL};
	struct nb nb;
	bool mend = false;
	int r;

	sig_install();
	memset(&nb, 0, sizeof(nb));
	nb.lock.fd = -1;
	if (params_parse(&nb.params, argc, argv, nb.err, sizeof(nb.err)) < 0) {
		log_open(&nb.log, "network-bridge", false);
		log_msg(&nb.log, LOG_ERR, "%s", nb.err);
		return 1;
	}
	log_open(&nb.log, "network-bridge", nb.params.verbose);
	if (nb.params.help) {
		fputs(usage, stdout);
		return 0;
	}
	if (nb.params.version) {
		printf("network-bridge %s\n", XNH_VERSION);
		return 0;
	}
	if (!params_command_valid(nb.params.command, commands)) {
		char shown[64];
		if (nb.params.command)
			log_msg(&nb.log, LOG_ERR,
				"unknown command '%s': valid commands are start, stop and status",
				printable(nb.params.command, shown, sizeof(shown)));
		else
			log_msg(&nb.log, LOG_ERR,
				"no command given: valid commands are start, stop and status (see "
				"--help)");
		return 1;
	}
	if ((r = net_open(&nb.net)) < 0) {
		log_msg(&nb.log, LOG_ERR, "cannot open a netlink socket: %s", net_error(r));
		return 1;
	}
	r = resolve(&nb);
	if (r == 0)
		r = nb_open_firewall(&nb);
	if (r == 1) {
		log_msg(&nb.log, LOG_DEBUG, "bridge=null: nothing to do");
		net_close(&nb.net);
		return 0;
	}
	if (r == 0 && !strcmp(nb.params.command, "status")) {
		r = nb_status(&nb, nb.params.json);
		/* An interrupted start or stop: reported, and the status says so. */
		if (r == 2) {
			r = 0;
			mend = true;
		}
	} else if (r == 0) {
		/* Held throughout, so that vif-bridge never sees half a takeover. */
		int err = lock_take(&nb.lock, "network-bridge");
		char why[sizeof(nb.err)];
		if (err < 0)
			r = nb_fail(&nb, "%s", lock_strerror(&nb.lock, err, why, sizeof(why)));
		else
			r = !strcmp(nb.params.command, "start") ? nb_start(&nb) : nb_stop(&nb);
		lock_release(&nb.lock);
	}
	net_close(&nb.net);
	fw_close(&nb.fw);
	if (r < 0) {
		log_msg(&nb.log, LOG_ERR, "%s", nb.err);
		log_close(&nb.log);
		return sig_exit_status();
	}
	log_close(&nb.log);
	return mend ? 1 : 0;
}
