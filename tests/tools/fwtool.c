/* fwtool: drives common/firewall.c directly, for tests of entry points no program uses yet. */
#include "conntrack.h"
#include "firewall.h"
#include "params.h"
#include "signals.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: fwtool [firewall=nft|iptables|none] bridged-add|bridged-del|routed-add|routed-del "
    "DEV [ip=LIST] [mac=MAC] [bridge=BRIDGE]\n"
    "       fwtool [firewall=...] masquerade-add|masquerade-del NETDEV\n";

int main(int argc, char *argv[])
{
	struct params p;
	char err[512];
	struct ip_prefix ips[IP_LIST_MAX];
	uint8_t mac[6];
	struct fw_vif v = {0};
	struct fw fw;
	bool fallback;
	const char *expected;

	/* The firewall's locks arm a timer, whose SIGALRM must not end this. */
	sig_install();
	if (params_parse(&p, argc, argv, err, sizeof(err)) < 0 || !p.command) {
		fprintf(stderr, "fwtool: %s\n%s", p.command ? err : "no command", usage);
		return 2;
	}
	const char *dev = params_get(&p, "dev");
	if (!dev) {
		fputs(usage, stderr);
		return 2;
	}
	if ((expected = check_ifname(dev))) {
		fprintf(stderr, "fwtool: invalid device '%s': expected %s\n", dev, expected);
		return 2;
	}
	const char *ip = params_get(&p, "ip"), *m = params_get(&p, "mac");
	if (ip && (expected = parse_ip_list(ip, ips, IP_LIST_MAX, &v.n_ips))) {
		fprintf(stderr, "fwtool: invalid ip: expected %s\n", expected);
		return 2;
	}
	if (m && *m) {
		if ((expected = parse_mac(m, mac))) {
			fprintf(stderr, "fwtool: invalid mac: expected %s\n", expected);
			return 2;
		}
		v.mac = mac;
	}
	v.dev = dev;
	v.ips = ips;
	v.bridge = params_get(&p, "bridge");

	if ((expected = fw_open(&fw, params_get(&p, "firewall"), &fallback))) {
		fprintf(stderr, "fwtool: invalid firewall: expected %s\n", expected);
		return 2;
	}

	int r, status = 0;
	const char *cmd = p.command;
	if (!strcmp(cmd, "bridged-add"))
		r = fw_bridged_vif_add(&fw, &v, err, sizeof(err));
	else if (!strcmp(cmd, "bridged-del"))
		r = fw_bridged_vif_del(&fw, &v, err, sizeof(err));
	else if (!strcmp(cmd, "routed-add"))
		r = fw_routed_vif_add(&fw, &v, err, sizeof(err));
	else if (!strcmp(cmd, "routed-del"))
		r = fw_routed_vif_del(&fw, &v, err, sizeof(err));
	else if (!strcmp(cmd, "masquerade-add"))
		r = fw_masquerade_add(&fw, dev, err, sizeof(err));
	else if (!strcmp(cmd, "masquerade-del"))
		r = fw_masquerade_del(&fw, dev, err, sizeof(err));
	else if (!strcmp(cmd, "conntrack-forget")) {
		r = conntrack_forget(fw_netlink(&fw), ips, v.n_ips);
		if (r >= 0)
			printf("%d\n", r);
		else
			snprintf(err, sizeof(err), "conntrack: %s", strerror(-r));
	} else {
		fputs(usage, stderr);
		r = 0;
		status = 2;
	}
	if (r < 0) {
		fprintf(stderr, "fwtool: %s\n", err);
		status = 1;
	}
	fw_close(&fw);
	return status;
}
