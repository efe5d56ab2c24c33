/* network-nat: IPv4 forwarding, masquerade and the DHCP subnet for NAT guests (vif-nat), and back.
 */
#include "dhcp.h"
#include "firewall.h"
#include "netprog.h"
#include "signals.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <netlink/errno.h>

static const char usage[] =
    "Usage: network-nat [key=value...] start|stop|status [key=value...]\n"
    "\n"
    "Prepare the host for guests behind NAT (vif-nat): turn on IPv4 forwarding,\n"
    "masquerade what leaves the device facing the network and, with DHCP, make the\n"
    "DHCP server serve 10.0.0.0/8, the addresses vif-nat gives every domain (start);\n"
    "undo exactly that (stop); show it (status). Run by xend at its start and stop;\n"
    "see network-nat(8).\n"
    "\n"
    "Parameters (environment < key=value):\n"
    "  netdev=DEV       the device facing the network; default: the device of the\n"
    "                   IPv4 default route (stop, status: the device start was run for)\n"
    "  dhcp=no|yes|dnsmasq  no DHCP, ISC dhcpd, or dnsmasq; default no (yes when\n"
    "                   /etc/dhcpd.conf exists, as the Xen scripts had it)\n"
    "  dhcpd_conf=PATH  ISC: dhcpd.conf; default the first of /etc/dhcp/dhcpd.conf,\n"
    "                   /etc/dhcp3/dhcpd.conf, /etc/dhcpd.conf\n"
    "  dhcpd_init=PATH  ISC: run with \"restart\"; default /etc/init.d/isc-dhcp-server\n"
    "                   (or dhcp-server, dhcp3-server, dhcp, dhcpd)\n"
    "  dnsmasq_conf=PATH  dnsmasq: the file written; default /etc/dnsmasq.d/xen-nat\n"
    "  dnsmasq_hosts=PATH dnsmasq: the hosts file vif-nat keeps; default\n"
    "                   /var/lib/xen/dnsmasq-hosts\n"
    "  dnsmasq_init=PATH  dnsmasq: run with \"restart\"; default /etc/init.d/dnsmasq\n"
    "  firewall=nft|iptables|none  where the masquerade lives; default nft when the\n"
    "                   kernel has nf_tables, else iptables\n"
    "\n"
    "Options:\n"
    "  -h, --help     this text\n"
    "      --version  print the version\n"
    "  -v, --verbose  print each step\n"
    "  -n, --dry-run  print the steps, change nothing\n"
    "      --json     status as JSON\n";

/* What the DHCP server is made to serve: every address vif-nat derives (SPEC §5). */
#define NAT_SUBNET "10.0.0.0/8"

struct nat {
	struct netprog np; /* first: the undo steps find the rest from it */
	struct fw fw;
	struct dhcp dhcp;
};

static int open_firewall(struct nat *n, const char *backend)
{
	bool fallback;
	const char *expected = fw_open(&n->fw, backend, &fallback);
	if (expected) {
		params_invalid(n->np.err, sizeof(n->np.err), "firewall", backend, expected);
		return -1;
	}
	return 0;
}

/* The undo steps get the struct net inside np, the first member of struct nat. */
static struct nat *nat_of(void *ctx)
{
	return (struct nat *)((char *)ctx - offsetof(struct netprog, net));
}

/*
 * Put the masquerade back as *arg says: off when a start that added it fails, on when a stop
 * that took it away fails.
 */
static int undo_masquerade(void *ctx, const void *arg)
{
	struct nat *n = nat_of(ctx);
	char err[256];
	int r = *(const bool *)arg ? fw_masquerade_add(&n->fw, n->np.netdev, err, sizeof(err))
				   : fw_masquerade_del(&n->fw, n->np.netdev, err, sizeof(err));
	return r < 0 ? -NLE_FAILURE : 0;
}

/* The same for the DHCP subnet (its files, and the server restarted). */
static int undo_subnet(void *ctx, const void *arg)
{
	struct nat *n = nat_of(ctx);
	char err[512];
	bool changed;
	int r =
	    dhcp_serve_subnet(&n->dhcp, *(const bool *)arg, &changed, &n->np.log, err, sizeof(err));
	if (r < 0)
		log_msg(&n->np.log, LOG_ERR, "%s", err);
	return r < 0 ? -NLE_FAILURE : 0;
}

/* Journal one of those undo steps, to turn the thing on (on) or off again. */
static int push_undo(struct nat *n, undo_fn fn, bool on, const char *what)
{
	return undo_push(&n->np.undo, fn, &on, sizeof(on), what)
		   ? netprog_fail(&n->np, "out of memory")
		   : 0;
}

/* The hosts file a failed start made: removed while it holds nothing. */
static int undo_hosts_file(void *ctx, const void *arg)
{
	(void)arg;
	struct nat *n = nat_of(ctx);
	struct stat st;
	if (stat(n->dhcp.hosts, &st) < 0 || st.st_size > 0)
		return 0;
	return unlink(n->dhcp.hosts) < 0 && errno != ENOENT ? -nl_syserr2nlerr(errno) : 0;
}

/* The file that makes the server serve the subnet: dhcpd.conf, or the file written for dnsmasq. */
static char *subnet_file(struct dhcp *d)
{
	return d->kind == DHCP_ISC ? d->conf : d->dnsmasq_conf;
}

/* Every value is judged before anything is done, whatever the command (SPEC §1). */
static int check_params(struct nat *n)
{
	struct netprog *np = &n->np;
	const char *v = params_get(&np->params, "firewall");
	/* A backend named is only judged here: nothing is opened for it. */
	if (v && *v && open_firewall(n, v) < 0)
		return -1;
	return dhcp_check(&np->params, np->err, sizeof(np->err));
}

static int stop(struct nat *n);

/*
 * A start that did not finish: stop's steps put back what it may have changed, and the hosts
 * file it made for dnsmasq goes while it is empty, as a failed start leaves it.
 */
static int roll_back(struct nat *n)
{
	struct netprog *np = &n->np;
	char made[PATH_MAX];
	log_msg(&np->log, LOG_WARNING,
		"the start for %s by process %ld did not finish: putting back what it changed "
		"first",
		np->netdev, np->starter);
	bool hosts = netprog_recorded(np, "hostsfile", made, sizeof(made));
	if (stop(n) < 0)
		return -1;
	/* The backend stop used is the recorded one: start chooses its own again. */
	fw_close(&n->fw);
	struct stat st;
	if (hosts && netprog_step(np, "remove %s, made by that start, if empty", made) &&
	    stat(made, &st) == 0 && st.st_size == 0 && unlink(made) < 0 && errno != ENOENT)
		return netprog_fail(np, "cannot remove %s: %s", made, strerror(errno));
	netprog_restart(np);
	return 0;
}

static int start(struct nat *n)
{
	struct netprog *np = &n->np;
	char err[512];

	if (np->interrupted && roll_back(n) < 0)
		return -1;
	if (np->started) {
		log_msg(&np->log, LOG_DEBUG, "already started for %s: nothing to do", np->netdev);
		return 0;
	}
	if (dhcp_setup(&n->dhcp, &np->params, true, np->err, sizeof(np->err)) < 0 ||
	    dhcp_check_files(&n->dhcp, np->err, sizeof(np->err)) < 0 ||
	    open_firewall(n, params_get(&np->params, "firewall")) < 0)
		return -1;
	if (n->fw.backend == FW_NONE)
		return netprog_fail(np, "firewall=none: network-nat needs nftables or iptables to "
					"masquerade the guests' traffic");
	if (netprog_netdev_exists(np) < 0)
		return -1;

	if (netprog_sysctl(np, "ip_forward", "1") < 0)
		return -1;
	if (netprog_step(np, "masquerade what leaves %s (%s)", np->netdev,
			 fw_backend_name(n->fw.backend))) {
		if (netprog_intent(np, "masquerade %s", fw_backend_name(n->fw.backend)) < 0)
			return -1;
		if (fw_masquerade_add(&n->fw, np->netdev, err, sizeof(err)) < 0)
			return netprog_fail(np, "%s", err);
		if (push_undo(n, undo_masquerade, false, "the masquerade") < 0)
			return -1;
	}
	if (n->dhcp.kind != DHCP_NO &&
	    netprog_step(np, "make the DHCP server (%s) serve " NAT_SUBNET,
			 n->dhcp.kind == DHCP_ISC ? "ISC dhcpd" : "dnsmasq")) {
		bool changed;
		/* dnsmasq needs vif-nat's hosts file to exist: made here if missing, and
		 * taken away again if start fails, from this step on. */
		struct stat st;
		struct dhcp *d = &n->dhcp;
		if (d->kind == DHCP_DNSMASQ && stat(d->hosts, &st) < 0 && errno == ENOENT) {
			if (netprog_intent(np, "hostsfile %s", d->hosts) < 0)
				return -1;
			if (undo_push(&np->undo, undo_hosts_file, NULL, 0, "the DHCP hosts file"))
				return netprog_fail(np, "out of memory");
		}
		/* Paths are validated: no blanks.  "-" stands for none.  Whether start adds the
		 * subnet (else an administrator's own declaration serves), known before. */
		bool adds = !dhcp_subnet_served(d);
		if (netprog_intent(np, "dhcp %s %d %s %s %s " NAT_SUBNET, dhcp_kind_name(d->kind),
				   adds, subnet_file(d), d->init, d->hosts[0] ? d->hosts : "-") < 0)
			return -1;
		if (dhcp_serve_subnet(d, true, &changed, &np->log, np->err, sizeof(np->err)) < 0)
			return -1;
		if (changed && push_undo(n, undo_subnet, false, "the DHCP subnet") < 0)
			return -1;
		if (changed != adds &&
		    netprog_amend(np, "dhcp %s %d %s %s %s " NAT_SUBNET, dhcp_kind_name(d->kind),
				  changed, subnet_file(d), d->init,
				  d->hosts[0] ? d->hosts : "-") < 0)
			return -1;
	}
	return netprog_save(np);
}

/*
 * The DHCP configuration start used, from its record; *served the subnet it made the server
 * serve (a record of version 0.1.0 names none: it served 10.0.0.0/16).
 */
static bool recorded_dhcp(struct nat *n, int *changed, const char **served)
{
	char rec[4 * PATH_MAX], kind[16], conf[PATH_MAX], init[PATH_MAX], hosts[PATH_MAX];
	char subnet[32] = "";
	struct dhcp *d = &n->dhcp;
	if (!netprog_recorded(&n->np, "dhcp", rec, sizeof(rec)) ||
	    sscanf(rec, "%15s %d %4095s %4095s %4095s %31s", kind, changed, conf, init, hosts,
		   subnet) < 5)
		return false;
	memset(d, 0, sizeof(*d));
	bool old = !subnet[0];
	d->subnet = old ? DHCP_NAT_SUBNET_0_1 : NULL;
	*served = old ? "10.0.0.0/16" : NAT_SUBNET;
	d->kind = !strcmp(kind, "dnsmasq") ? DHCP_DNSMASQ : DHCP_ISC;
	snprintf(subnet_file(d), PATH_MAX, "%s", conf);
	snprintf(d->init, sizeof(d->init), "%s", init);
	if (strcmp(hosts, "-"))
		snprintf(d->hosts, sizeof(d->hosts), "%s", hosts);
	return true;
}

static int stop(struct nat *n)
{
	struct netprog *np = &n->np;
	char backend[32], err[512];
	int changed = 0;
	const char *served;

	if (!np->started) {
		log_msg(&np->log, LOG_DEBUG, "not started for %s: nothing to do", np->netdev);
		return 0;
	}
	/* The reverse order of start; the state file stays until everything is undone. */
	if (recorded_dhcp(n, &changed, &served) && changed &&
	    netprog_step(np, "take %s back from the DHCP server", served)) {
		bool taken;
		if (dhcp_serve_subnet(&n->dhcp, false, &taken, &np->log, np->err, sizeof(np->err)) <
		    0)
			return -1;
		if (taken && push_undo(n, undo_subnet, true, "the DHCP subnet") < 0)
			return -1;
	}
	if (netprog_recorded(np, "masquerade", backend, sizeof(backend))) {
		if (open_firewall(n, backend) < 0)
			return -1;
		if (netprog_step(np, "stop masquerading what leaves %s (%s)", np->netdev,
				 backend)) {
			if (fw_masquerade_del(&n->fw, np->netdev, err, sizeof(err)) < 0)
				return netprog_fail(np, "%s", err);
			if (push_undo(n, undo_masquerade, true, "the masquerade") < 0)
				return -1;
		}
	}
	if (netprog_restore(np) < 0)
		return -1;
	return netprog_forget(np);
}

static int status(struct nat *n)
{
	struct netprog *np = &n->np;
	char backend[32] = "";
	const char *const keys[] = {"ip_forward"};
	bool masq = netprog_recorded(np, "masquerade", backend, sizeof(backend));
	int changed = 0;
	const char *served = NULL;
	bool has_dhcp = recorded_dhcp(n, &changed, &served);
	const char *kind = has_dhcp ? dhcp_kind_name(n->dhcp.kind) : "no";
	const char *conf = has_dhcp ? subnet_file(&n->dhcp) : NULL;

	netprog_print_status(np, keys, 1);
	if (np->params.json) {
		printf(",\"masquerade\":");
		json_str(stdout, masq ? backend : NULL);
		printf(",\"dhcp\":");
		json_str(stdout, kind);
		printf(",\"dhcp_file\":");
		json_str(stdout, conf);
		printf(",\"dhcp_subnet\":");
		json_str(stdout, served);
		printf("}\n");
		return 0;
	}
	if (masq)
		printf("  masquerade of what leaves %s: on (%s)\n", np->netdev, backend);
	else
		printf("  masquerade of what leaves %s: off\n", np->netdev);
	if (has_dhcp)
		printf("  DHCP: %s, %s served through %s%s\n", kind, served, conf,
		       changed ? "" : " (declared there before start)");
	else
		printf("  DHCP: no\n");
	return 0;
}

int main(int argc, char *argv[])
{
	struct nat n;
	sig_install();
	memset(&n, 0, sizeof(n));
	int r = netprog_begin(&n.np, "network-nat", usage, argc, argv);
	if (r > 0)
		return netprog_end(&n.np, 0);
	if (r == 0)
		r = check_params(&n);
	if (r == 0)
		r = n.np.command == NP_START  ? start(&n)
		    : n.np.command == NP_STOP ? stop(&n)
					      : status(&n);
	r = netprog_end(&n.np, r);
	fw_close(&n.fw);
	return r;
}
