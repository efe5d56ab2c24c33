/* network-route: IPv4 forwarding and proxy ARP for routed guests (vif-route), and back. */
#include "netprog.h"
#include "signals.h"
#include "sysctl.h"

#include <stdio.h>
#include <string.h>

#include <netlink/errno.h>

static const char usage[] =
    "Usage: network-route [key=value...] start|stop|status [key=value...]\n"
    "\n"
    "Prepare the host for routed guests (vif-route): turn on IPv4 forwarding and proxy\n"
    "ARP on the device facing the network (start), put back the values start changed\n"
    "(stop), or show them (status). Run by xend at its start and stop (network-script\n"
    "in xend-config.sxp); see network-route(8).\n"
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
	if (netprog_sysctl(np, "ip_forward", "1") < 0 || netprog_sysctl(np, key, "1") < 0)
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
	char key[SYSCTL_KEY_MAX];
	sysctl_conf_key(key, np->netdev, "proxy_arp");
	const char *const keys[] = {"ip_forward", key};
	netprog_print_status(np, keys, 2);
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
