/* Connection tracking: forget what an earlier holder of a guest's addresses left behind. */
#include "conntrack.h"
#include "signals.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

/*
 * Every dump walks the kernel's whole conntrack hash table, which all namespaces share
 * (262144 buckets on a 24 GiB host: about 10 ms), whatever the filter.  Up to this many
 * entries in the namespace, one unfiltered dump per family, matched here, is cheaper than the
 * two filtered dumps per address; beyond it, the kernel filters.
 */
#define SMALL_TABLE 4096

/* The kernel's tuple-filter flags (not in the UAPI headers). */
#define FILTER_IP_SRC (1u << 0)
#define FILTER_IP_DST (1u << 1)

/* The original tuples of the entries a dump returned, each copied as the nested attribute. */
struct tuples {
	size_t n, cap;
	struct {
		uint16_t len;
		uint8_t data[256];
	} * v;
	/* Unfiltered dumps: keep only entries whose original source or destination is one of these.
	 */
	const struct ip_prefix *match;
	size_t n_match;
};

static struct nlmsghdr *request(char *buf, uint16_t type, uint16_t flags, int family, uint32_t seq)
{
	struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
	h->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | type;
	h->nlmsg_flags = NLM_F_REQUEST | flags;
	h->nlmsg_seq = seq;
	struct nfgenmsg *g = mnl_nlmsg_put_extra_header(h, sizeof(*g));
	g->nfgen_family = (uint8_t)family;
	g->version = NFNETLINK_V0;
	g->res_id = 0;
	return h;
}

static void put_ip(struct nlmsghdr *h, const struct ip_prefix *a, bool src)
{
	struct nlattr *tuple = mnl_attr_nest_start(h, CTA_TUPLE_ORIG);
	struct nlattr *ip = mnl_attr_nest_start(h, CTA_TUPLE_IP);
	if (a->family == AF_INET)
		mnl_attr_put(h, src ? CTA_IP_V4_SRC : CTA_IP_V4_DST, 4, &a->addr.v4);
	else
		mnl_attr_put(h, src ? CTA_IP_V6_SRC : CTA_IP_V6_DST, 16, &a->addr.v6);
	mnl_attr_nest_end(h, ip);
	mnl_attr_nest_end(h, tuple);
}

struct tuple_ip {
	const struct nlattr *src, *dst;
};

static int tuple_ip_attr(const struct nlattr *a, void *arg)
{
	struct tuple_ip *ip = arg;
	switch (mnl_attr_get_type(a)) {
	case CTA_IP_V4_SRC:
	case CTA_IP_V6_SRC:
		ip->src = a;
		break;
	case CTA_IP_V4_DST:
	case CTA_IP_V6_DST:
		ip->dst = a;
		break;
	}
	return MNL_CB_OK;
}

static int tuple_attr(const struct nlattr *a, void *arg)
{
	if (mnl_attr_get_type(a) == CTA_TUPLE_IP)
		mnl_attr_parse_nested(a, tuple_ip_attr, arg);
	return MNL_CB_OK;
}

static bool is_one_of(const struct nlattr *a, const struct ip_prefix *m, size_t n)
{
	if (!a)
		return false;
	uint16_t len = mnl_attr_get_payload_len(a);
	for (size_t i = 0; i < n; i++)
		if (len == (m[i].family == AF_INET ? 4 : 16) &&
		    !memcmp(mnl_attr_get_payload(a), &m[i].addr, len))
			return true;
	return false;
}

/* Does the original tuple (a CTA_TUPLE_ORIG attribute) involve one of the addresses? */
static bool tuple_matches(const struct nlattr *orig, const struct tuples *t)
{
	struct tuple_ip ip = {NULL, NULL};
	mnl_attr_parse_nested(orig, tuple_attr, &ip);
	return is_one_of(ip.src, t->match, t->n_match) || is_one_of(ip.dst, t->match, t->n_match);
}

static int keep_tuple(const struct nlmsghdr *h, void *arg)
{
	struct tuples *t = arg;
	struct nlattr *a;
	mnl_attr_for_each(a, h, sizeof(struct nfgenmsg))
	{
		if (mnl_attr_get_type(a) != CTA_TUPLE_ORIG || a->nla_len > 256)
			continue;
		if (t->match && !tuple_matches(a, t))
			continue;
		if (t->n == t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 16;
			void *v = realloc(t->v, cap * sizeof(*t->v));
			if (!v)
				return MNL_CB_ERROR;
			t->v = v;
			t->cap = cap;
		}
		t->v[t->n].len = a->nla_len;
		memcpy(t->v[t->n].data, a, a->nla_len);
		t->n++;
	}
	return MNL_CB_OK;
}

/* Run a request to its end (a dump's DONE or the ack); cb sees each answer. */
static int talk(struct mnl_socket *nl, struct nlmsghdr *h, mnl_cb_t cb, void *arg)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	uint32_t portid = mnl_socket_get_portid(nl);
	if (mnl_socket_sendto(nl, h, h->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t len = sig_recv_again(nl, buf, sizeof(buf));
		if (len < 0)
			return -errno;
		int r = mnl_cb_run(buf, (size_t)len, h->nlmsg_seq, portid, cb, arg);
		if (r < 0)
			return -errno;
		if (r == MNL_CB_STOP)
			return 0;
	}
}

/*
 * One dump and the deletion of what it found: with a (filtered by the kernel on a's original
 * source, or destination when !src), or else every entry of family matched against t->match.
 */
static int forget_dumped(struct mnl_socket *nl, uint32_t *seq, int family,
			 const struct ip_prefix *a, bool src, struct tuples t)
{
	char buf[8192] = {0};
	struct nlmsghdr *h = request(buf, IPCTNL_MSG_CT_GET, NLM_F_DUMP, family, (*seq)++);
	if (a) {
		put_ip(h, a, src);
		struct nlattr *filter = mnl_attr_nest_start(h, CTA_FILTER);
		mnl_attr_put_u32(h, CTA_FILTER_ORIG_FLAGS, src ? FILTER_IP_SRC : FILTER_IP_DST);
		mnl_attr_put_u32(h, CTA_FILTER_REPLY_FLAGS, 0);
		mnl_attr_nest_end(h, filter);
	}
	int err = talk(nl, h, keep_tuple, &t);
	int deleted = 0;
	for (size_t i = 0; err == 0 && i < t.n; i++) {
		memset(buf, 0, sizeof(buf));
		h = request(buf, IPCTNL_MSG_CT_DELETE, NLM_F_ACK, family, (*seq)++);
		memcpy(mnl_nlmsg_get_payload_tail(h), t.v[i].data, t.v[i].len);
		h->nlmsg_len += MNL_ALIGN(t.v[i].len);
		int r = talk(nl, h, NULL, NULL);
		/* Gone meanwhile (it timed out, or the other direction's pass took it). */
		if (r == 0)
			deleted++;
		else if (r != -ENOENT)
			err = r;
	}
	free(t.v);
	return err < 0 ? err : deleted;
}

/* The entries of this namespace's table; 0 when conntrack is not active in it. */
static long table_count(void)
{
	char buf[32];
	int fd = open("/proc/sys/net/netfilter/nf_conntrack_count", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return SMALL_TABLE + 1; /* unknown: let the kernel filter */
	buf[len] = '\0';
	return strtol(buf, NULL, 10);
}

int conntrack_forget(struct mnl_socket *shared, const struct ip_prefix *addrs, size_t n)
{
	struct ip_prefix hosts[IP_LIST_MAX];
	size_t n_hosts = 0;
	for (size_t i = 0; i < n && n_hosts < IP_LIST_MAX; i++)
		if (addrs[i].len == (addrs[i].family == AF_INET ? 32 : 128))
			hosts[n_hosts++] = addrs[i];
	/* Nothing tracked, nothing to forget: the common case costs no dump at all. */
	long count = n_hosts ? table_count() : 0;
	if (count <= 0)
		return 0;

	struct mnl_socket *nl = shared;
	if (!nl) {
		nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
		if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
			int err = -errno;
			if (nl)
				mnl_socket_close(nl);
			return err;
		}
	}
	uint32_t seq = (uint32_t)time(NULL);
	int total = 0, err = 0;
	if (count <= SMALL_TABLE) {
		for (int f = 0; f < 2 && err >= 0; f++) {
			int family = f ? AF_INET6 : AF_INET;
			bool any = false;
			for (size_t i = 0; i < n_hosts; i++)
				any |= hosts[i].family == family;
			struct tuples t = {.match = hosts, .n_match = n_hosts};
			if (any && (err = forget_dumped(nl, &seq, family, NULL, false, t)) > 0)
				total += err;
		}
	}
	for (size_t i = 0; count > SMALL_TABLE && i < n_hosts && err >= 0; i++) {
		for (int src = 1; src >= 0 && err >= 0; src--) {
			/* Matched here too: a kernel older than 5.8 ignores the filter. */
			struct tuples t = {.match = &hosts[i], .n_match = 1};
			err = forget_dumped(nl, &seq, hosts[i].family, &hosts[i], src, t);
			if (err > 0)
				total += err;
		}
	}
	if (nl != shared)
		mnl_socket_close(nl);
	return err < 0 ? err : total;
}
