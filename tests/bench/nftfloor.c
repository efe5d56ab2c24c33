/* nftfloor: the firewall's floor: a bridged vif's nf_tables requests from one bare client. */

/*
 * Usage:
 *   nftfloor [-n CYCLES] [-w WARMUP] [-a] dev=DEV [ip=LIST] [mac=MAC] [bridge=BRIDGE]
 *   nftfloor [-n ROUNDS] [-w WARMUP] [-a] storm <VIFS
 *
 * What a vif program's firewall step costs at least: the same calls into the project's
 * library (common/firewall.h) with the same struct fw_vif that vif-bridge builds, from one
 * process that opened its nf_tables connection once (fw_open "nft"), so without a process
 * start, the store, links, locks of the program's own or the connection's opening and
 * closing.  The kernel's work and the library's batches are all that is timed.
 *
 * The first form: CYCLES cycles (default 200), each fw_bridged_vif_add then
 * fw_bridged_vif_del of DEV, timed with CLOCK_MONOTONIC, after WARMUP uncounted ones (default
 * 3).  Prints "cycles=N median_us=M min_us=A p90_us=B max_us=C", preceded with -a by every
 * counted cycle's "cycle_us=T".
 *
 * storm: VIFS has one vif a line, "DEV BRIDGE MAC IP..." (the rest of the line is the ip
 * list; MAC "-" for none).  Each round adds every vif's rules, one vif after another in the
 * order given, then deletes them in the same order: one client, one commit at a time.  (K
 * clients at once would gain nothing: the kernel serialises nf_tables commits with the
 * namespace's commit lock, so the floor of K commits is K commits in a row.)  ROUNDS (default
 * 10) after WARMUP (default 1).  After the deletions, the kernel's freeing of what they
 * released is timed too: the close of a fresh netfilter socket, which waits for it (the wait
 * any client's last close pays, as the programs' closer does).  Prints "vifs=K rounds=R
 * add_median_us=.. del_median_us=.. free_median_us=.. add_min_us=.. del_min_us=..", preceded
 * with -a by every round's "add_us=.. del_us=.. free_us=..".
 *
 * Before timing, one untimed cycle (storm: round) checks that the requests do something:
 * after the add the library reports the vif's rules installed (fw_vif_installed), after the
 * delete not.  Any failure: a message, exit 1.  Usage errors exit 2.  Run it in the network
 * namespace whose rule set is to be measured (ip netns exec).
 */

#include "firewall.h"
#include "params.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STORM_MAX 10000

/* One vif's rules: its struct fw_vif and what it points to. */
struct floor_vif {
	char dev[IFNAME_MAX + 1];
	char bridge[IFNAME_MAX + 1];
	struct ip_prefix ips[IP_LIST_MAX];
	uint8_t mac[6];
	struct fw_vif v;
};

static void usage(void)
{
	fprintf(stderr, "usage: nftfloor [-n CYCLES] [-w WARMUP] [-a] dev=DEV [ip=LIST] [mac=MAC] "
			"[bridge=BRIDGE]\n"
			"       nftfloor [-n ROUNDS] [-w WARMUP] [-a] storm <VIFS   (lines: DEV "
			"BRIDGE MAC|- IP...)\n"
			"(see the comment at the top of tests/bench/nftfloor.c)\n");
	exit(2);
}

static long parse_count(const char *s, const char *what)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > 1000000) {
		fprintf(stderr, "nftfloor: %s must be an integer from 0 to 1000000, not '%s'\n",
			what, s);
		exit(2);
	}
	return v;
}

/* Fills f from the words as vif-bridge would from the store; NULL or what was wrong. */
static const char *vif_of(struct floor_vif *f, const char *dev, const char *ip, const char *mac,
			  const char *bridge)
{
	const char *expected;
	memset(f, 0, sizeof(*f));
	if ((expected = check_ifname(dev)))
		return "dev: an interface name";
	snprintf(f->dev, sizeof(f->dev), "%s", dev);
	f->v.dev = f->dev;
	f->v.ips = f->ips;
	if (ip && (expected = parse_ip_list(ip, f->ips, IP_LIST_MAX, &f->v.n_ips)))
		return "ip: a list of addresses or prefixes";
	if (mac && *mac && strcmp(mac, "-")) {
		if ((expected = parse_mac(mac, f->mac)))
			return "mac: a unicast MAC address";
		f->v.mac = f->mac;
	}
	if (bridge && *bridge) {
		if ((expected = check_ifname(bridge)))
			return "bridge: an interface name";
		snprintf(f->bridge, sizeof(f->bridge), "%s", bridge);
		f->v.bridge = f->bridge;
	}
	return NULL;
}

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Sorts s; the median. */
static double median(double *s, size_t n)
{
	qsort(s, n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* Nearest-rank percentile of sorted samples, as bench.c computes it. */
static double percentile(const double *s, size_t n, double p)
{
	size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	return s[(rank < 1 ? 1 : rank > n ? n : rank) - 1];
}

static void add(struct fw *fw, const struct floor_vif *f)
{
	char err[512];
	if (fw_bridged_vif_add(fw, &f->v, err, sizeof(err)) < 0) {
		fprintf(stderr, "nftfloor: %s\n", err);
		exit(1);
	}
}

static void del(struct fw *fw, const struct floor_vif *f)
{
	char err[512];
	if (fw_bridged_vif_del(fw, &f->v, err, sizeof(err)) < 0) {
		fprintf(stderr, "nftfloor: %s\n", err);
		exit(1);
	}
}

/* The untimed check: the library sees dev's rules after the add, none after the delete. */
static void check_installed(struct fw *fw, const char *dev, int want)
{
	int r = fw_vif_installed(fw, false, dev);
	if (r == want)
		return;
	if (r < 0)
		fprintf(stderr, "nftfloor: cannot read back the rules of %s: %s\n", dev,
			strerror(-r));
	else
		fprintf(stderr, "nftfloor: after the %s, %s %s rules in table bridge %s\n",
			want ? "add" : "delete", dev, r ? "still has" : "has no", FW_TABLE);
	exit(1);
}

static void cycles(struct fw *fw, const struct floor_vif *f, long n, long warmup, bool all)
{
	double *s = calloc((size_t)(n ? n : 1), sizeof(*s));
	if (!s) {
		perror("nftfloor: calloc");
		exit(1);
	}
	add(fw, f);
	check_installed(fw, f->dev, 1);
	del(fw, f);
	check_installed(fw, f->dev, 0);
	for (long k = -warmup; k < n; k++) {
		double t0 = now_us();
		add(fw, f);
		del(fw, f);
		double t1 = now_us();
		if (k >= 0)
			s[k] = t1 - t0;
	}
	if (all)
		for (long k = 0; k < n; k++)
			printf("cycle_us=%.1f\n", s[k]);
	if (n) {
		double m = median(s, (size_t)n);
		printf("cycles=%ld median_us=%.1f min_us=%.1f p90_us=%.1f max_us=%.1f\n", n, m,
		       s[0], percentile(s, (size_t)n, 90), s[n - 1]);
	}
	free(s);
}

/*
 * The kernel's freeing of what the last commits released, as a client waits for it: the
 * release of a bound netfilter socket makes nf_tables finish that work first.  In us.
 */
static double freeing_wait(void)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		perror("nftfloor: a netfilter socket");
		exit(1);
	}
	double t0 = now_us();
	mnl_socket_close(nl);
	return now_us() - t0;
}

/* The storm's vifs from stdin. */
static struct floor_vif *read_vifs(size_t *n)
{
	struct floor_vif *v = calloc(STORM_MAX, sizeof(*v));
	char line[1024];
	size_t lineno = 0;
	if (!v) {
		perror("nftfloor: calloc");
		exit(1);
	}
	*n = 0;
	while (fgets(line, sizeof(line), stdin)) {
		char dev[64], bridge[64], mac[64];
		int used = 0;
		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (!line[0])
			continue;
		if (*n == STORM_MAX ||
		    sscanf(line, "%63s %63s %63s %n", dev, bridge, mac, &used) < 3) {
			fprintf(stderr,
				"nftfloor: line %zu: want DEV BRIDGE MAC|- IP... (at most %d)\n",
				lineno, STORM_MAX);
			exit(2);
		}
		const char *bad = vif_of(&v[*n], dev, line + used, mac, bridge);
		if (bad) {
			fprintf(stderr, "nftfloor: line %zu: invalid %s expected\n", lineno, bad);
			exit(2);
		}
		(*n)++;
	}
	if (!*n) {
		fprintf(stderr, "nftfloor: storm: no vifs on stdin\n");
		exit(2);
	}
	return v;
}

static void storm(struct fw *fw, long rounds, long warmup, bool all)
{
	size_t n;
	struct floor_vif *v = read_vifs(&n);
	double *a = calloc((size_t)(rounds ? rounds : 1), sizeof(*a));
	double *d = calloc((size_t)(rounds ? rounds : 1), sizeof(*d));
	double *f = calloc((size_t)(rounds ? rounds : 1), sizeof(*f));
	if (!a || !d || !f) {
		perror("nftfloor: calloc");
		exit(1);
	}
	for (long k = -warmup - 1; k < rounds; k++) {
		double t0 = now_us();
		for (size_t i = 0; i < n; i++)
			add(fw, &v[i]);
		double t1 = now_us();
		if (k == -warmup - 1) {
			check_installed(fw, v[0].dev, 1);
			check_installed(fw, v[n - 1].dev, 1);
		}
		double t2 = now_us();
		for (size_t i = 0; i < n; i++)
			del(fw, &v[i]);
		double t3 = now_us();
		double freeing = freeing_wait();
		if (k == -warmup - 1) {
			check_installed(fw, v[0].dev, 0);
			check_installed(fw, v[n - 1].dev, 0);
		}
		if (k >= 0) {
			a[k] = t1 - t0;
			d[k] = t3 - t2;
			f[k] = freeing;
			if (all)
				printf("add_us=%.1f del_us=%.1f free_us=%.1f\n", a[k], d[k], f[k]);
		}
	}
	if (rounds) {
		double ma = median(a, (size_t)rounds), md = median(d, (size_t)rounds),
		       mf = median(f, (size_t)rounds);
		printf("vifs=%zu rounds=%ld add_median_us=%.1f del_median_us=%.1f "
		       "free_median_us=%.1f add_min_us=%.1f del_min_us=%.1f\n",
		       n, rounds, ma, md, mf, a[0], d[0]);
	}
	free(a);
	free(d);
	free(f);
	free(v);
}

int main(int argc, char *argv[])
{
	long n = -1, warmup = -1;
	bool all = false, is_storm = false;
	const char *dev = NULL, *ip = NULL, *mac = NULL, *bridge = NULL;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if ((!strcmp(a, "-n") || !strcmp(a, "-w")) && i + 1 < argc) {
			long v = parse_count(argv[++i], a[1] == 'n' ? "-n" : "-w");
			*(a[1] == 'n' ? &n : &warmup) = v;
		} else if (!strcmp(a, "-a"))
			all = true;
		else if (!strcmp(a, "storm"))
			is_storm = true;
		else if (!strncmp(a, "dev=", 4))
			dev = a + 4;
		else if (!strncmp(a, "ip=", 3))
			ip = a + 3;
		else if (!strncmp(a, "mac=", 4))
			mac = a + 4;
		else if (!strncmp(a, "bridge=", 7))
			bridge = a + 7;
		else
			usage();
	}
	if (is_storm == !!dev)
		usage();

	struct floor_vif f;
	const char *bad = dev ? vif_of(&f, dev, ip, mac, bridge) : NULL;
	if (bad) {
		fprintf(stderr, "nftfloor: invalid %s expected\n", bad);
		return 2;
	}

	struct fw fw;
	bool fallback;
	if (fw_open(&fw, "nft", &fallback)) {
		fprintf(stderr, "nftfloor: the library refuses firewall=nft\n");
		return 1;
	}
	if (is_storm)
		storm(&fw, n < 0 ? 10 : n, warmup < 0 ? 1 : warmup, all);
	else
		cycles(&fw, &f, n < 0 ? 200 : n, warmup < 0 ? 3 : warmup, all);
	fw_close(&fw);
	return 0;
}
