/* xen-net-hooks: the operator's tool: the vifs' state beside the kernel's, and their rules put
 * back. */
#include "xen-net-hooks.h"
#include "lock.h"
#include "signals.h"
#include "version.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "Usage: xen-net-hooks [key=value...] resync|status [key=value...]\n"
    "\n"
    "The administrator's view of the vifs the hook programs set up. status shows, for\n"
    "every vif in xenstore, what the store says beside what the kernel has (link, bridge,\n"
    "firewall rules) and names each disagreement with the command that mends it. resync\n"
    "puts back the firewall rules of every connected vif, and the host-wide policies of\n"
    "network-nat and network-bridge, e.g. after `nft flush ruleset`, without touching any\n"
    "link. See xen-net-hooks(8).\n"
    "\n"
    "Parameters (environment < key=value):\n"
    "  firewall=nft|iptables|none  the firewall the vif programs use; default nft when\n"
    "                 the kernel has nf_tables, else iptables\n"
    "Environment: XENSTORED_PATH, XEN_LOCK_DIR, XEN_LOCK_TIMEOUT, XEN_RUN_DIR,\n"
    "XEN_SCRIPT_DIR, XEN_LOG_DIR.\n"
    "\n"
    "Options:\n"
    "  -h, --help     this text\n"
    "      --version  print the version\n"
    "  -v, --verbose  print each step (resync), every check (status)\n"
    "  -n, --dry-run  resync: print what would be restored, change nothing\n"
    "      --json     status as JSON\n";

static const char *const commands[] = {"resync", "status", NULL};

/* Exit status of a command line that cannot run: status's "error" is 2, resync's 1. */
static int refuse(struct xnh *x, bool status)
{
	log_msg(&x->log, LOG_ERR, "%s", x->err);
	return status ? 2 : 1;
}

int main(int argc, char *argv[])
{
	struct xnh x;
	sig_install();
	memset(&x, 0, sizeof(x));

	if (params_parse(&x.params, argc, argv, x.err, sizeof(x.err)) < 0) {
		log_open(&x.log, "xen-net-hooks", false);
		return refuse(&x, false);
	}
	log_open(&x.log, "xen-net-hooks", x.params.verbose);
	if (x.params.help) {
		fputs(usage, stdout);
		return 0;
	}
	if (x.params.version) {
		printf("xen-net-hooks %s\n", XNH_VERSION);
		return 0;
	}
	const char *cmd = x.params.command;
	if (!params_command_valid(cmd, commands)) {
		char shown[64];
		if (cmd)
			xnh_fail(&x, "unknown command '%s': valid commands are resync and status",
				 printable(cmd, shown, sizeof(shown)));
		else
			xnh_fail(&x, "no command given: valid commands are resync and status (see "
				     "--help)");
		return refuse(&x, false);
	}
	bool status = !strcmp(cmd, "status");
	if (x.params.json && !status) {
		xnh_fail(&x, "--json goes with status only");
		return refuse(&x, false);
	}

	const char *fw = params_get(&x.params, "firewall"), *expected;
	bool fallback;
	if ((expected = fw_open(&x.fw, fw, &fallback))) {
		params_invalid(x.err, sizeof(x.err), "firewall", fw, expected);
		return refuse(&x, status);
	}
	const char *timeout;
	if ((expected = lock_timeout_invalid(&timeout))) {
		params_invalid(x.err, sizeof(x.err), LOCK_TIMEOUT_ENV, timeout, expected);
		return refuse(&x, status);
	}
	if (fallback)
		log_msg(&x.log, LOG_WARNING,
			"no firewall: the kernel has no nf_tables and iptables is not installed");
	int err = net_open(&x.net);
	int r;
	if (err < 0) {
		xnh_fail(&x, "cannot open a netlink socket: %s", net_error(err));
		r = refuse(&x, status);
	} else {
		r = status ? xnh_status(&x) : xnh_resync(&x);
	}
	net_close(&x.net);
	fw_close(&x.fw);
	store_close(x.xs);
	log_close(&x.log);
	return r;
}
