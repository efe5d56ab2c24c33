/* network-bridge status, for people and (--json) for machines; and the NFS-root safety check. */
#include "addr.h"
#include "json.h"
#include "network-bridge.h"
#include "paths.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/if_bridge.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/route.h>

static const char *port_state_name(int state)
{
	switch (state) {
	case BR_STATE_DISABLED:
		return "disabled";
	case BR_STATE_LISTENING:
		return "listening";
	case BR_STATE_LEARNING:
		return "learning";
	case BR_STATE_FORWARDING:
		return "forwarding";
	case BR_STATE_BLOCKING:
		return "blocking";
	default:
		return "unknown";
	}
}

static void print_addrs(const struct netconf *c, const char *dev, bool json, bool *first)
{
	char buf[128];
	for (size_t i = 0; i < c->n_addrs; i++) {
		nl_addr2str(rtnl_addr_get_local(c->addrs[i]), buf, sizeof(buf));
		if (json) {
			printf("%s{\"dev\":", *first ? "" : ",");
			json_str(stdout, dev);
			printf(",\"address\":");
			json_str(stdout, buf);
			printf("}");
		} else {
			printf("  %-15s %s\n", dev, buf);
		}
		*first = false;
	}
}

static void print_routes(const struct netconf *c, const char *dev, bool json, bool *first)
{
	char dst[128], gw[128], table[32];
	for (size_t i = 0; i < c->n_routes; i++) {
		struct rtnl_route *r = c->routes[i];
		struct nl_addr *d = rtnl_route_get_dst(r);
		if (!d || !nl_addr_get_prefixlen(d))
			snprintf(dst, sizeof(dst), "default");
		else
			nl_addr2str(d, dst, sizeof(dst));
		struct rtnl_nexthop *nh = rtnl_route_nexthop_n(r, 0);
		struct nl_addr *g = nh ? rtnl_route_nh_get_gateway(nh) : NULL;
		if (g)
			nl_addr2str(g, gw, sizeof(gw));
		uint32_t t = rtnl_route_get_table(r);
		if (t == RT_TABLE_MAIN || t == RT_TABLE_LOCAL || t == RT_TABLE_DEFAULT)
			rtnl_route_table2str((int)t, table, sizeof(table));
		else
			snprintf(table, sizeof(table), "%u", t);
		if (json) {
			printf("%s{\"dst\":", *first ? "" : ",");
			json_str(stdout, dst);
			printf(",\"gateway\":");
			if (g)
				json_str(stdout, gw);
			else
				printf("null");
			printf(",\"dev\":");
			json_str(stdout, dev);
			printf(",\"table\":");
			json_str(stdout, table);
			printf(",\"metric\":%u,\"family\":\"%s\"}", rtnl_route_get_priority(r),
			       rtnl_route_get_family(r) == AF_INET ? "inet" : "inet6");
		} else {
			printf("  %s%s%s dev %s table %s metric %u\n", dst, g ? " via " : "",
			       g ? gw : "", dev, table, rtnl_route_get_priority(r));
		}
		*first = false;
	}
}

int nb_status(struct nb *nb, bool json)
{
	struct link_state br = {0}, dev = {0};
	struct link_state *ports = NULL;
	size_t n_ports = 0;
	struct netconf bc = {0}, dc = {0};
	bool have_br = link_get(&nb->net, nb->bridge, &br) == 0 && br.is_bridge;
	bool have_dev = link_get(&nb->net, nb->port, &dev) == 0;
	/* Before a rename-layout start the device still has its own name. */
	const char *devname = nb->port;
	if (!have_dev && nb->rename && link_get(&nb->net, nb->netdev, &dev) == 0 &&
	    !dev.is_bridge) {
		have_dev = true;
		devname = nb->netdev;
	}
	int err;

	if (have_br && (err = bridge_ports(&nb->net, br.ifindex, &ports, &n_ports)) < 0)
		return nb_net_fail(nb, err, "cannot list the ports of %s", nb->bridge);
	if (have_br && (err = netconf_read(&nb->net, br.ifindex, &bc)) < 0)
		goto fail;
	if (have_dev && (err = netconf_read(&nb->net, dev.ifindex, &dc)) < 0)
		goto fail;
	bool started = have_br && have_dev && dev.master == br.ifindex;
	bool antispoof = fw_antispoof_installed(&nb->fw, nb->bridge) > 0;
	/* A start or stop that did not finish, and what finishes it. */
	struct nb_record rec;
	int rerr = nb_record_load(nb->bridge, &rec);
	bool half = rerr == 0 && rec.phase != NB_STARTED;
	bool running = half && nb_record_running(&rec);
	const char *what = half && rec.phase == NB_STARTING ? "start" : "stop";
	char mend[256] = "";
	if (half)
		snprintf(mend, sizeof(mend), "network-bridge stop netdev=%s bridge=%s", rec.netdev,
			 rec.bridge);
	else if (rerr < 0 && rerr != -ENOENT)
		snprintf(mend, sizeof(mend),
			 "check the network by hand, then remove %s/network-bridge.%s",
			 path_run_dir(), nb->bridge);

	if (json) {
		printf("{\"bridge\":");
		json_str(stdout, nb->bridge);
		printf(",\"netdev\":");
		json_str(stdout, nb->netdev);
		printf(",\"started\":%s,\"layout\":\"%s\",\"bridge_exists\":%s,\"bridge_up\":%s,"
		       "\"antispoof\":%s,\"ports\":[",
		       started ? "true" : "false", nb->rename ? "rename" : "classic",
		       have_br ? "true" : "false", br.up ? "true" : "false",
		       antispoof ? "true" : "false");
	} else if (half) {
		printf("interrupted: the %s of %s by process %ld %s; %s `%s` to give %s its "
		       "network back as it was before start (a new start does that first too)\n",
		       what, rec.bridge, rec.pid, running ? "is still running" : "did not finish",
		       running ? "if it hangs, kill it, then run" : "run", mend, rec.netdev);
	} else if (rerr < 0 && rerr != -ENOENT) {
		printf("record: unreadable (%s): %s\n", strerror(-rerr), mend);
	}
	if (!json) {
		if (!have_br)
			printf("bridge %s: does not exist (not started)\n", nb->bridge);
		else
			printf("bridge %s: %s, %s %s (%s layout)\n", nb->bridge,
			       br.up ? "up" : "down", started ? "holds" : "does not hold", nb->port,
			       nb->rename ? "rename" : "classic");
		printf("ports:\n");
	}
	for (size_t i = 0; i < n_ports; i++) {
		int state = -1;
		bridge_port_state(&nb->net, ports[i].ifindex, &state);
		if (json) {
			printf("%s{\"name\":", i ? "," : "");
			json_str(stdout, ports[i].name);
			printf(",\"up\":%s,\"state\":\"%s\"}", ports[i].up ? "true" : "false",
			       port_state_name(state));
		} else {
			printf("  %-15s %s, %s\n", ports[i].name, ports[i].up ? "up" : "down",
			       port_state_name(state));
		}
	}
	bool first = true;
	if (json)
		printf("],\"addresses\":[");
	else
		printf("addresses:\n");
	print_addrs(&bc, nb->bridge, json, &first);
	print_addrs(&dc, devname, json, &first);
	first = true;
	if (json)
		printf("],\"routes\":[");
	else
		printf("routes:\n");
	print_routes(&bc, nb->bridge, json, &first);
	print_routes(&dc, devname, json, &first);
	if (json) {
		printf("],\"interrupted\":");
		if (half) {
			printf("{\"command\":\"%s\",\"pid\":%ld,\"running\":%s,\"mend\":", what,
			       rec.pid, running ? "true" : "false");
			json_str(stdout, mend);
			printf("}");
		} else if (rerr < 0 && rerr != -ENOENT) {
			printf("{\"command\":null,\"pid\":null,\"running\":false,\"mend\":");
			json_str(stdout, mend);
			printf("}");
		} else {
			printf("null");
		}
		printf("}\n");
	} else {
		printf("antispoof: %s\n", antispoof ? "on" : "off");
	}
	nb_record_free(&rec);
	free(ports);
	netconf_free(&bc);
	netconf_free(&dc);
	/* Something to mend: a script checking the state learns it from the status. */
	return (half && !running) || (rerr < 0 && rerr != -ENOENT) ? 2 : 0;
fail:
	free(ports);
	netconf_free(&bc);
	netconf_free(&dc);
	return nb_net_fail(nb, err, "cannot read the addresses and routes");
}
