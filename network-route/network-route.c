/* network-route: forwarding, proxy ARP and proxy NDP for routed guests (vif-route), and back. */
#include "netprog.h"
#include "signals.h"
#include "sysctl.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <netlink/errno.h>

static const char usage[] =
    "Usage: network-route [key=value...] start|stop|status [key=value...]\n"
    "\n"
    "Prepare the host for routed guests (vif-route): turn on IPv4 and IPv6 forwarding,\n"
    "proxy ARP and proxy NDP on the device facing the network, and keep it accepting\n"
    "router advertisements (accept_ra 1 becomes 2) (start); put back the values start\n"
    "changed (stop), or show them (status). Run by xend at its start and stop\n"
    "(network-script in xend-config.sxp); see network-route(8).\n"
    "\n"
    "Parameters (environment < key=value):\n"
    "  netdev=DEV     the device facing the network; default: the device of the IPv4\n"
    "                 default route (stop, status: the device start was run for)\n"
    "\n"
    "Options:\n"
    "  -h, --help     this text\n"
    "      --version  print the version\n"
    "  -v, --verbose  print each step\n"
    "  -n, --dry-run  print the steps, change nothing\n"
    "      --json     status as JSON\n";

static int stop(struct netprog *np);

/* Whether netdev has IPv6: the kernel has it (the tree exists) and it is not disabled there. */
static bool has_ipv6(const char *netdev)
{
	char key[SYSCTL_KEY_MAX], value[SYSCTL_VALUE_MAX];
	sysctl_conf6_key(key, netdev, "disable_ipv6");
	return sysctl_get(key, value, sizeof(value)) == 0 && !strcmp(value, "0");
}

/*
 * IPv6 forwarding, and proxy NDP on netdev for the entries vif-route adds there.  A device
 * that forwards ignores router advertisements unless its accept_ra is 2: a host whose IPv6
 * default route comes from them would lose it when its lifetime ran out, so netdev's
 * accept_ra 1 becomes 2, first.  Also when netdev forwards already: another start's
 * forwarding, which turned it on for every device, must not cost it its default route.
 */
static int start_ipv6(struct netprog *np)
{
	char ra[SYSCTL_KEY_MAX], ndp[SYSCTL_KEY_MAX], accept[SYSCTL_VALUE_MAX];
	if (!has_ipv6(np->netdev)) {
		log_msg(&np->log, LOG_WARNING,
			"%s has no IPv6 (the kernel has none, or disable_ipv6 is set): IPv4 only, "
			"the IPv6 addresses of routed guests are not reachable",
			np->netdev);
		return 0;
	}
	sysctl_conf6_key(ra, np->netdev, "accept_ra");
	sysctl_conf6_key(ndp, np->netdev, "proxy_ndp");
	if (sysctl_get(ra, accept, sizeof(accept)) == 0 && !strcmp(accept, "1") &&
	    netprog_sysctl(np, ra, "2") < 0)
		return -1;
	if (netprog_sysctl(np, NETPROG_FORWARD6, "1") < 0 || netprog_sysctl(np, ndp, "1") < 0)
		return -1;
	return 0;
}

static int start(struct netprog *np)
{
	char key[SYSCTL_KEY_MAX];

	if (np->interrupted) {
		log_msg(&np->log, LOG_WARNING,
			"the start for %s by process %ld did not finish: putting back what it "
			"changed first",
			np->netdev, np->starter);
		if (stop(np) < 0)
			return -1;
		netprog_restart(np);
	}
	if (np->started) {
		log_msg(&np->log, LOG_DEBUG, "already started for %s: nothing to do", np->netdev);
		return 0;
	}
	if (netprog_netdev_exists(np) < 0)
		return -1;
	sysctl_conf_key(key, np->netdev, "proxy_arp");
	if (netprog_sysctl(np, "ip_forward", "1") < 0 || netprog_sysctl(np, key, "1") < 0 ||
	    start_ipv6(np) < 0)
		return -1;
	return netprog_save(np);
}

static int stop(struct netprog *np)
{
	if (!np->started) {
		log_msg(&np->log, LOG_DEBUG, "not started for %s: nothing to do", np->netdev);
		return 0;
	}
	if (netprog_restore(np) < 0)
		return -1;
	return netprog_forget(np);
}

static int status(struct netprog *np)
{
	char arp[SYSCTL_KEY_MAX], ndp[SYSCTL_KEY_MAX], ra[SYSCTL_KEY_MAX];
	sysctl_conf_key(arp, np->netdev, "proxy_arp");
	sysctl_conf6_key(ndp, np->netdev, "proxy_ndp");
	sysctl_conf6_key(ra, np->netdev, "accept_ra");
	const char *const keys[] = {"ip_forward", arp, NETPROG_FORWARD6, ndp, ra};
	/* Without IPv6 on the device, its settings do nothing: not shown. */
	netprog_print_status(np, keys, has_ipv6(np->netdev) ? 5 : 2);
	if (np->params.json)
		printf("}\n");
	return 0;
}

int main(int argc, char *argv[])
{
	struct netprog np;
	sig_install();
	int r = netprog_begin(&np, "network-route", usage, argc, argv);
	if (r > 0)
		return netprog_end(&np, 0);
	if (r == 0)
		r = np.command == NP_START  ? start(&np)
		    : np.command == NP_STOP ? stop(&np)
					    : status(&np);
	return netprog_end(&np, r);
}
