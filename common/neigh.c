/* Proxy neighbour entries (proxy NDP) through libnl-route-3: the host answering for a guest. */
#include "neigh.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/neighbour.h>

/* The request for the entry: libnl sends the flags and the destination, no link address. */
static struct rtnl_neigh *proxy_entry(int ifindex, const struct in6_addr *addr)
{
	struct rtnl_neigh *e = rtnl_neigh_alloc();
	struct nl_addr *dst = nl_addr_build(AF_INET6, addr, sizeof(*addr));
	if (!e || !dst) {
		rtnl_neigh_put(e);
		nl_addr_put(dst);
		return NULL;
	}
	rtnl_neigh_set_ifindex(e, ifindex);
	rtnl_neigh_set_family(e, AF_INET6);
	rtnl_neigh_set_dst(e, dst);
	rtnl_neigh_set_flags(e, NTF_PROXY);
	nl_addr_put(dst);
	return e;
}

/* The entries a proxy dump found for one address: their links. */
struct found {
	const struct in6_addr *addr;
	int ifindex[16];
	size_t n;
	bool more; /* more than ifindex holds: another round deletes the rest */
};

static void match_entry(struct nl_object *o, void *arg)
{
	struct found *f = arg;
	struct rtnl_neigh *e = (struct rtnl_neigh *)o;
	struct nl_addr *dst = rtnl_neigh_get_dst(e);
	/* A kernel without strict checking dumps its ordinary neighbours too. */
	if (!(rtnl_neigh_get_flags(e) & NTF_PROXY) || !dst || nl_addr_get_family(dst) != AF_INET6 ||
	    nl_addr_get_len(dst) != sizeof(*f->addr) ||
	    memcmp(nl_addr_get_binary_addr(dst), f->addr, sizeof(*f->addr)))
		return;
	if (f->n == sizeof(f->ifindex) / sizeof(f->ifindex[0]))
		f->more = true;
	else
		f->ifindex[f->n++] = rtnl_neigh_get_ifindex(e);
}

/* The proxy entries for f->addr on the link (0: every link). */
static int find_entries(int ifindex, struct found *f)
{
	f->n = 0;
	f->more = false;
	return link_dump(RTM_GETNEIGH, AF_INET6, ifindex, match_entry, f);
}

static int delete_entry(struct net *n, int ifindex, const struct in6_addr *addr)
{
	struct rtnl_neigh *e = proxy_entry(ifindex, addr);
	if (!e)
		return -NLE_NOMEM;
	int err = rtnl_neigh_delete(n->sk, e, 0);
	rtnl_neigh_put(e);
	return err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV ? 0 : err;
}

struct undo_proxy {
	int ifindex;
	struct in6_addr addr;
};

static int undo_proxy(void *ctx, const void *arg)
{
	const struct undo_proxy *a = arg;
	return delete_entry(ctx, a->ifindex, &a->addr);
}

int neigh_proxy_add(struct net *n, struct undo *u, int ifindex, const struct in6_addr *addr)
{
	/* The kernel answers an add of an entry that exists with success: asked first, so that
	 * a second online does not take for its own, and undo, what an earlier one added. */
	struct found f = {.addr = addr};
	int err = find_entries(ifindex, &f);
	if (err < 0)
		return err;
	if (f.n)
		return 0;
	struct rtnl_neigh *e = proxy_entry(ifindex, addr);
	if (!e)
		return -NLE_NOMEM;
	err = rtnl_neigh_add(n->sk, e, NLM_F_EXCL);
	rtnl_neigh_put(e);
	if (err < 0)
		return err;
	struct undo_proxy a = {ifindex, *addr};
	if (u && undo_push(u, undo_proxy, &a, sizeof(a), "proxy NDP entry")) {
		delete_entry(n, ifindex, addr);
		return -NLE_NOMEM;
	}
	return 0;
}

int neigh_proxy_del_all(struct net *n, const struct in6_addr *addr)
{
	struct found f = {.addr = addr};
	int deleted = 0, err;
	do {
		if ((err = find_entries(0, &f)) < 0)
			return err;
		for (size_t i = 0; i < f.n; i++) {
			if ((err = delete_entry(n, f.ifindex[i], addr)) < 0)
				return err;
			deleted++;
		}
	} while (f.more);
	return deleted;
}
