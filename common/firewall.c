/* Guest firewall: owned nftables tables through libmnl/libnftnl, or the scripts' iptables rules. */
#include "firewall.h"
#include "lock.h"
#include "nft.h"
#include "paths.h"
#include "statefile.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/netfilter.h>
#include <linux/netfilter_bridge.h>
#include <linux/netfilter/nf_tables.h>

/* ------------------------------------------------------------------ nft */

/*
 * The layout.  Every check of SPEC §6 is made in each table's one base chain for every vif at
 * once, against sets keyed by interface name (and address): a vif is a handful of set
 * elements, added or removed in one batch.  No chain per vif and no verdict map, so that no
 * commit makes the kernel validate every chain the table holds, and a vif costs the same at 10
 * vifs and at 3000.  Single addresses live in hash sets (constant cost); prefixes in sets of
 * ranges.  The elements a vif got are recorded (see record_*), so that removal takes exactly
 * those, whatever the store says by then.
 */
#define CHAIN_PREROUTING  "prerouting"
#define CHAIN_POSTROUTING "postrouting"
#define CHAIN_ANTISPOOF	  "antispoof"
#define SET_VIFS	  "vifs"	/* every vif that has rules */
#define SET_RESTRICTED	  "restricted"	/* bridge: vifs with an ip list: no VLAN tag left */
#define SET_RESTRICTED4	  "restricted4" /* vifs with IPv4 entries: IPv4 (and ARP) checked */
#define SET_RESTRICTED6	  "restricted6" /* vifs with IPv6 entries: IPv6 checked */
#define SET_MACCHECKED	  "macchecked"	/* bridge: restricted vifs with a known MAC */
#define SET_MACS	  "macs"	/* bridge: ifname . ether_addr, the MAC each may use */
#define SET_ADDR4	  "addr4"	/* ifname . ipv4_addr: a listed single address */
#define SET_NET4	  "net4"	/* ifname . ipv4_addr ranges: a listed prefix */
#define SET_ADDR6	  "addr6"
#define SET_NET6	  "net6"
#define SET_CLAIMS4	  "claims4" /* inet: the guests' IPv4 ranges, for the reverse rule */
#define SET_CLAIMS6	  "claims6"
#define SET_OWNERS4	  "owners4" /* inet: each claim : the card that owns it (no rule reads it) */
#define SET_OWNERS6	  "owners6"
#define SET_PORTS	  "ports"     /* bridge: ifname . ifname, bridge . registered port */
#define SET_ANTISPOOF	  "antispoof" /* bridge: the bridges with network-bridge antispoof=yes */
#define SET_MASQ	  "uplinks" /* inet: the NAT uplinks (not "masquerade": a keyword to nft) */

#define NFT_TYPE_IPADDR	   7
#define NFT_TYPE_IP6ADDR   8
#define NFT_TYPE_ETHERADDR 9
#define NFT_TYPE_IFNAME	   41
#define NFT_TYPE_BITS	   6 /* nft's shift for the type of a concatenation */
#define CONCAT(a, b)	   ((a) << NFT_TYPE_BITS | (b))

/* The records of what is installed: one file per vif or policy, in a directory per kind. */
#define DIR_BRIDGE    "nft-bridge"     /* bridged vifs */
#define DIR_INET      "nft-inet"       /* routed and NAT vifs */
#define DIR_MASQ      "nft-masquerade" /* network-nat's uplinks */
#define DIR_ANTISPOOF "nft-antispoof"  /* network-bridge's antispoof bridges */
/*
 * Every change holds lock_hold's lock (the lock directory itself) shared, from its record to
 * its commit; a table or policy is deleted under it exclusively.
 */

static void ifname_key(uint8_t key[IFNAMSIZ], const char *dev)
{
	memset(key, 0, IFNAMSIZ);
	memcpy(key, dev, strnlen(dev, IFNAMSIZ - 1));
}

/* A key: fields one after another, each padded to 4 bytes, as the registers hold them. */
struct key {
	uint8_t b[40];
	uint32_t len;
};

static void key_put(struct key *k, const void *v, uint32_t len)
{
	memcpy(k->b + k->len, v, len);
	k->len += (len + 3) & ~3u;
}

static void key_ifname(struct key *k, const char *dev)
{
	memset(k, 0, sizeof(*k));
	uint8_t name[IFNAMSIZ];
	ifname_key(name, dev);
	key_put(k, name, IFNAMSIZ);
}

/*
 * An HVM guest's card is two devices, netback's vif and the emulated <vif>-emu, with one ip
 * list: the reverse rule for its addresses belongs to the card and lets both in.  base is the
 * name without "-emu"; twin is the other device's name, false when dev can have none.
 */
static bool card_names(const char *dev, char base[IFNAMSIZ], char twin[IFNAMSIZ])
{
	size_t len = strlen(dev);
	snprintf(base, IFNAMSIZ, "%s", dev);
	if (len > 4 && !strcmp(dev + len - 4, "-emu")) {
		base[len - 4] = '\0';
		snprintf(twin, IFNAMSIZ, "%s", base);
		return true;
	}
	if (len + 4 >= IFNAMSIZ)
		return false;
	snprintf(twin, IFNAMSIZ, "%s-emu", dev);
	return true;
}

static void prefix_mask(const struct ip_prefix *p, uint8_t *mask, uint32_t *len)
{
	*len = p->family == AF_INET ? 4 : 16;
	memset(mask, 0, 16);
	for (unsigned i = 0; i < p->len; i++)
		mask[i / 8] |= (uint8_t)(0x80 >> (i % 8));
}

static const uint8_t *prefix_bytes(const struct ip_prefix *p)
{
	return p->family == AF_INET ? (const uint8_t *)&p->addr.v4 : p->addr.v6.s6_addr;
}

/* The prefix's first and last address; true when it is a single address. */
static bool prefix_range(const struct ip_prefix *p, uint8_t first[16], uint8_t last[16],
			 uint32_t *len)
{
	uint8_t mask[16];
	prefix_mask(p, mask, len);
	for (uint32_t i = 0; i < *len; i++) {
		first[i] = prefix_bytes(p)[i] & mask[i];
		last[i] = first[i] | (uint8_t)~mask[i];
	}
	return p->len == *len * 8;
}

/* The interval element after a prefix: its last address + 1 (false: past the top, none). */
static bool interval_end(const uint8_t last[16], uint32_t len, uint8_t end[16])
{
	bool wrapped = true;
	memcpy(end, last, len);
	for (int b = (int)len - 1; b >= 0 && wrapped; b--)
		wrapped = ++end[b] == 0;
	return !wrapped;
}

static bool has_family(const struct fw_vif *v, int family)
{
	for (size_t i = 0; i < v->n_ips; i++)
		if (v->ips[i].family == family)
			return true;
	return false;
}

/* ---- the elements of a vif */

struct elem {
	const char *set;
	struct key key, end; /* end: the range's last key (has_end), or nothing */
	bool has_end;
	uint32_t flags;
	bool with_data; /* a claims element: the card's name as data */
};

struct elems {
	struct elem v[6 * IP_LIST_MAX + 16];
	size_t n;
	uint8_t card[IFNAMSIZ];
	bool oom;
};

static struct elem *elem_new(struct elems *es, const char *set)
{
	if (es->n == sizeof(es->v) / sizeof(es->v[0])) {
		es->oom = true;
		return NULL;
	}
	struct elem *e = &es->v[es->n++];
	memset(e, 0, sizeof(*e));
	e->set = set;
	return e;
}

static void elem_ifname(struct elems *es, const char *set, const char *dev)
{
	struct elem *e = elem_new(es, set);
	if (e)
		key_ifname(&e->key, dev);
}

/* dev . address or dev . range, in the address or the range set of the prefix's family. */
static void elem_source(struct elems *es, const char *dev, const struct ip_prefix *p)
{
	uint8_t first[16], last[16];
	uint32_t len;
	bool single = prefix_range(p, first, last, &len);
	bool v4 = p->family == AF_INET;
	struct elem *e = elem_new(es, single ? (v4 ? SET_ADDR4 : SET_ADDR6)
				      : v4   ? SET_NET4
					     : SET_NET6);
	if (!e)
		return;
	key_ifname(&e->key, dev);
	key_put(&e->key, first, len);
	if (!single) {
		e->has_end = true;
		key_ifname(&e->end, dev);
		key_put(&e->end, last, len);
	}
}

/*
 * The card's claim on a prefix: its interval (the start, then the end past it) in the claims
 * the reverse rule looks up, and the same with the card's name in the owners, where another
 * card's overlapping claim clashes (the kernel refuses it).  Two sets, since a lookup of a map
 * as a mere set is refused by older kernels (Debian's 6.1).
 */
static void elem_claim(struct elems *es, const struct ip_prefix *p)
{
	uint8_t first[16], last[16], end[16];
	uint32_t len;
	prefix_range(p, first, last, &len);
	bool has_end = interval_end(last, len, end);
	for (int owner = 0; owner < 2; owner++) {
		const char *set = p->family == AF_INET ? (owner ? SET_OWNERS4 : SET_CLAIMS4)
						       : (owner ? SET_OWNERS6 : SET_CLAIMS6);
		struct elem *e = elem_new(es, set);
		if (!e)
			return;
		key_put(&e->key, first, len);
		e->with_data = owner;
		if (has_end && (e = elem_new(es, set))) {
			key_put(&e->key, end, len);
			e->flags = NFT_SET_ELEM_INTERVAL_END;
		}
	}
}

/*
 * Everything a vif's rules are.  card: also what its card's two devices share (a routed vif's
 * sources for both names and the claims), false when the twin keeps them.
 */
static void vif_elems(int family, const struct fw_vif *v, bool card, struct elems *es)
{
	bool v4 = has_family(v, AF_INET), v6 = has_family(v, AF_INET6);
	es->n = 0;
	es->oom = false;
	elem_ifname(es, SET_VIFS, v->dev);
	if (family == NFPROTO_BRIDGE) {
		if (v->bridge && *v->bridge) {
			struct elem *e = elem_new(es, SET_PORTS);
			if (e) {
				key_ifname(&e->key, v->bridge);
				uint8_t name[IFNAMSIZ];
				ifname_key(name, v->dev);
				key_put(&e->key, name, IFNAMSIZ);
			}
		}
		if (!v->n_ips)
			return;
		elem_ifname(es, SET_RESTRICTED, v->dev);
		if (v4)
			elem_ifname(es, SET_RESTRICTED4, v->dev);
		if (v6)
			elem_ifname(es, SET_RESTRICTED6, v->dev);
		if (v->mac) {
			elem_ifname(es, SET_MACCHECKED, v->dev);
			struct elem *e = elem_new(es, SET_MACS);
			if (e) {
				key_ifname(&e->key, v->dev);
				key_put(&e->key, v->mac, 6);
			}
		}
		for (size_t i = 0; i < v->n_ips; i++)
			elem_source(es, v->dev, &v->ips[i]);
		return;
	}
	if (!v->n_ips)
		return;
	if (v4)
		elem_ifname(es, SET_RESTRICTED4, v->dev);
	if (v6)
		elem_ifname(es, SET_RESTRICTED6, v->dev);
	if (!card)
		return;
	char base[IFNAMSIZ], twin[IFNAMSIZ];
	bool has_twin = card_names(v->dev, base, twin);
	ifname_key(es->card, base);
	for (size_t i = 0; i < v->n_ips; i++) {
		elem_source(es, v->dev, &v->ips[i]);
		if (has_twin)
			elem_source(es, twin, &v->ips[i]);
		elem_claim(es, &v->ips[i]);
	}
}

static void elems_emit(struct nft *n, bool add, const struct elems *es)
{
	if (es->oom)
		n->oom = true;
	for (size_t i = 0; i < es->n; i++) {
		const struct elem *e = &es->v[i];
		struct nft_elem_spec s = {.key = e->key.b,
					  .key_end = e->has_end ? e->end.b : NULL,
					  .key_len = e->key.len,
					  .flags = e->flags,
					  .data = add && e->with_data ? es->card : NULL,
					  .data_len = IFNAMSIZ};
		nft_elem(n, add, e->set, &s);
	}
}

/* ---- the tables */

/* [match the ethertype (bridge) or nfproto (inet)] */
static void rule_proto(struct nftnl_rule *r, int family, bool bridge)
{
	if (bridge) {
		uint16_t proto = htons((uint16_t)(family == AF_INET    ? ETH_P_IP
						  : family == AF_INET6 ? ETH_P_IPV6
								       : family));
		rule_meta(r, NFT_META_PROTOCOL);
		rule_cmp(r, NFT_CMP_EQ, &proto, 2);
	} else {
		uint8_t nfproto = family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;
		rule_meta(r, NFT_META_NFPROTO);
		rule_cmp(r, NFT_CMP_EQ, &nfproto, 1);
	}
}

/* iifname in set */
static void rule_iif_in(struct nftnl_rule *r, const char *set)
{
	rule_meta(r, NFT_META_IIFNAME);
	rule_lookup(r, set, false);
}

/*
 * An accepting rule of the bridge table needs no guard naming the vifs it is for: the chain
 * accepts whatever no drop stops, and only the vifs' own checks come after it (network-bridge's
 * antispoof is a chain of its own).  The inet table's reverse rule comes after, and stops
 * claimed sources from elsewhere: there the accepting rules name the vifs.
 */
static void rule_guard(struct nftnl_rule *r, bool bridge, const char *set)
{
	if (!bridge)
		rule_iif_in(r, set);
}

/* DHCP requests (UDP 68 -> 67) come from 0.0.0.0 before the guest has an address. */
static void rule_dhcp(struct nft *n, bool bridge)
{
	uint8_t udp = IPPROTO_UDP;
	uint16_t ports[2] = {htons(68), htons(67)};
	struct nftnl_rule *r = rule_new(n, CHAIN_PREROUTING);
	rule_guard(r, bridge, SET_RESTRICTED4);
	rule_proto(r, AF_INET, bridge);
	rule_meta(r, NFT_META_L4PROTO);
	rule_cmp(r, NFT_CMP_EQ, &udp, 1);
	rule_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 4);
	rule_cmp(r, NFT_CMP_EQ, ports, 4);
	rule_verdict(r, NF_ACCEPT, NULL);
	nft_rule_add(n, r);
}

/* [protocol] iifname . <len bytes at offset of the network header> in set: verdict */
static void rule_concat(struct nft *n, int proto, bool bridge, uint32_t offset, uint32_t len,
			const char *set, bool invert, int verdict)
{
	struct nftnl_rule *r = rule_new(n, CHAIN_PREROUTING);
	if (proto)
		rule_proto(r, proto, bridge);
	rule_meta_to(r, NFT_META_IIFNAME, NFT_REG_1);
	rule_payload_to(r, NFT_PAYLOAD_NETWORK_HEADER, offset, len, NFT_REG_2);
	rule_lookup(r, set, invert);
	rule_verdict(r, verdict, NULL);
	nft_rule_add(n, r);
}

/* [protocol] iifname in set: drop */
static void rule_drop_rest(struct nft *n, int proto, bool bridge, const char *set)
{
	struct nftnl_rule *r = rule_new(n, CHAIN_PREROUTING);
	rule_proto(r, proto, bridge);
	rule_iif_in(r, set);
	rule_verdict(r, NF_DROP, NULL);
	nft_rule_add(n, r);
}

/* IPv6 link-local sources, and the unspecified source of duplicate address detection. */
static void rule_ipv6_local(struct nft *n, bool bridge)
{
	static const uint8_t lladdr[16] = {0xfe, 0x80};
	static const uint8_t llmask[16] = {0xff, 0xc0};
	static const uint8_t unspec[16] = {0};
	for (int i = 0; i < 2; i++) {
		struct nftnl_rule *r = rule_new(n, CHAIN_PREROUTING);
		rule_guard(r, bridge, SET_RESTRICTED6);
		rule_proto(r, AF_INET6, bridge);
		rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 8, 16);
		if (i == 0)
			rule_mask(r, llmask, 16);
		rule_cmp(r, NFT_CMP_EQ, i == 0 ? lladdr : unspec, 16);
		rule_verdict(r, NF_ACCEPT, NULL);
		nft_rule_add(n, r);
	}
}

/* IPv4 and IPv6 sources: a listed address or prefix, else drop (DHCP and IPv6 local first). */
static void source_rules(struct nft *n, bool bridge)
{
	rule_dhcp(n, bridge);
	rule_concat(n, AF_INET, bridge, 12, 4, SET_ADDR4, false, NF_ACCEPT);
	rule_concat(n, AF_INET, bridge, 12, 4, SET_NET4, false, NF_ACCEPT);
	rule_drop_rest(n, AF_INET, bridge, SET_RESTRICTED4);
	rule_ipv6_local(n, bridge);
	rule_concat(n, AF_INET6, bridge, 8, 16, SET_ADDR6, false, NF_ACCEPT);
	rule_concat(n, AF_INET6, bridge, 8, 16, SET_NET6, false, NF_ACCEPT);
	rule_drop_rest(n, AF_INET6, bridge, SET_RESTRICTED6);
}

/* ARP from a guest: well formed, its own sender MAC, a listed sender address or 0.0.0.0. */
static void arp_rules(struct nft *n)
{
	/*
	 * htype 1 (Ethernet), ptype IPv4, hlen 6, plen 4: the sender address is where the rules
	 * look only in ARP of that shape, so each accepting rule checks the shape as well (and
	 * names no vifs, see rule_guard).
	 */
	static const uint8_t shape[6] = {0x00, 0x01, 0x08, 0x00, 6, 4};
	static const uint8_t probe[4] = {0};
	struct nftnl_rule *r = rule_new(n, CHAIN_PREROUTING);
	rule_proto(r, ETH_P_ARP, true);
	rule_iif_in(r, SET_MACCHECKED);
	rule_meta_to(r, NFT_META_IIFNAME, NFT_REG_1);
	rule_payload_to(r, NFT_PAYLOAD_NETWORK_HEADER, 8, 6, NFT_REG_2);
	rule_lookup(r, SET_MACS, true);
	rule_verdict(r, NF_DROP, NULL);
	nft_rule_add(n, r);
	for (int i = 0; i < 3; i++) {
		r = rule_new(n, CHAIN_PREROUTING);
		rule_proto(r, ETH_P_ARP, true);
		rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 0, 6);
		rule_cmp(r, NFT_CMP_EQ, shape, 6);
		if (i < 2) {
			rule_meta_to(r, NFT_META_IIFNAME, NFT_REG_1);
			rule_payload_to(r, NFT_PAYLOAD_NETWORK_HEADER, 14, 4, NFT_REG_2);
			rule_lookup(r, i == 0 ? SET_ADDR4 : SET_NET4, false);
		} else {
			rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 14, 4);
			rule_cmp(r, NFT_CMP_EQ, probe, 4);
		}
		rule_verdict(r, NF_ACCEPT, NULL);
		nft_rule_add(n, r);
	}
	rule_drop_rest(n, ETH_P_ARP, true, SET_RESTRICTED4);
}

static void set_ifnames(struct nft *n, const char *name)
{
	struct nft_set_spec s = {
	    .name = name, .key_type = NFT_TYPE_IFNAME, .key_len = IFNAMSIZ, .host_order = true};
	nft_set_add(n, &s);
}

/* ifname . second (an address or a MAC), as single keys or (ranges) as ranges. */
static void set_concat(struct nft *n, const char *name, uint32_t type, uint8_t len, bool ranges)
{
	struct nft_set_spec s = {.name = name,
				 .flags = ranges ? NFT_SET_INTERVAL | NFT_SET_CONCAT : 0,
				 .key_type = CONCAT(NFT_TYPE_IFNAME, type),
				 .key_len = IFNAMSIZ + ((len + 3u) & ~3u)};
	/* The kernel takes a concatenation's fields only with ranges (and then needs them). */
	if (ranges) {
		s.fields[0] = IFNAMSIZ;
		s.fields[1] = len;
	}
	nft_set_add(n, &s);
}

static void source_sets(struct nft *n)
{
	set_ifnames(n, SET_VIFS);
	set_ifnames(n, SET_RESTRICTED4);
	set_ifnames(n, SET_RESTRICTED6);
	set_concat(n, SET_ADDR4, NFT_TYPE_IPADDR, 4, false);
	set_concat(n, SET_NET4, NFT_TYPE_IPADDR, 4, true);
	set_concat(n, SET_ADDR6, NFT_TYPE_IP6ADDR, 16, false);
	set_concat(n, SET_NET6, NFT_TYPE_IP6ADDR, 16, true);
}

/*
 * The table of the family, its sets and its base chain, added to the batch begun: made once,
 * the base chain exclusively, so that the batch fails with EEXIST if another run made them.
 */
static void bootstrap(struct nft *n)
{
	nft_table_add(n);
	source_sets(n);
	if (n->family == NFPROTO_BRIDGE) {
		uint16_t tags[2] = {htons(ETH_P_8021Q), htons(ETH_P_8021AD)};
		set_ifnames(n, SET_RESTRICTED);
		set_ifnames(n, SET_MACCHECKED);
		set_concat(n, SET_MACS, NFT_TYPE_ETHERADDR, 6, false);
		set_concat(n, SET_PORTS, NFT_TYPE_IFNAME, IFNAMSIZ, false);
		nft_chain_add(n, CHAIN_PREROUTING, NF_BR_PRE_ROUTING, -200, "filter", true);
		/* The kernel takes one VLAN tag off before this hook; a frame still tagged after
		 * that would hide its real header from the checks. */
		for (int i = 0; i < 2; i++) {
			struct nftnl_rule *r = rule_new(n, CHAIN_PREROUTING);
			rule_iif_in(r, SET_RESTRICTED);
			rule_meta(r, NFT_META_PROTOCOL);
			rule_cmp(r, NFT_CMP_EQ, &tags[i], 2);
			rule_verdict(r, NF_DROP, NULL);
			nft_rule_add(n, r);
		}
		struct nftnl_rule *r = rule_new(n, CHAIN_PREROUTING);
		rule_iif_in(r, SET_MACCHECKED);
		rule_meta_to(r, NFT_META_IIFNAME, NFT_REG_1);
		rule_payload_to(r, NFT_PAYLOAD_LL_HEADER, 6, 6, NFT_REG_2);
		rule_lookup(r, SET_MACS, true);
		rule_verdict(r, NF_DROP, NULL);
		nft_rule_add(n, r);
		source_rules(n, true);
		arp_rules(n);
		return;
	}
	for (int i = 0; i < 4; i++) {
		bool v6 = i & 1, owners = i & 2;
		struct nft_set_spec s = {.name = owners ? (v6 ? SET_OWNERS6 : SET_OWNERS4)
						 : v6	? SET_CLAIMS6
							: SET_CLAIMS4,
					 .flags = NFT_SET_INTERVAL | (owners ? NFT_SET_MAP : 0),
					 .key_type = v6 ? NFT_TYPE_IP6ADDR : NFT_TYPE_IPADDR,
					 .key_len = v6 ? 16 : 4,
					 .data_type = owners ? NFT_TYPE_IFNAME : 0,
					 .data_len = owners ? IFNAMSIZ : 0};
		nft_set_add(n, &s);
	}
	/* Before routing and before the administrator's filter chains (priority 0). */
	nft_chain_add(n, CHAIN_PREROUTING, NF_INET_PRE_ROUTING, -150, "filter", true);
	source_rules(n, false);
	/* The reverse rule: a claimed source that no device of its card may use here. */
	for (int i = 0; i < 2; i++) {
		struct nftnl_rule *r = rule_new(n, CHAIN_PREROUTING);
		rule_proto(r, i ? AF_INET6 : AF_INET, false);
		rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, i ? 8 : 12, i ? 16 : 4);
		rule_lookup(r, i ? SET_CLAIMS6 : SET_CLAIMS4, false);
		rule_verdict(r, NF_DROP, NULL);
		nft_rule_add(n, r);
	}
}

/*
 * Commit what fill adds, with boot's part of the table first when chain (boot's own) is
 * missing, in the same transaction, so that a failure leaves nothing of ours behind, not
 * even the table.  Whether it is missing is asked (have < 0), or known from the records
 * (have 1: the caller saw its kind's record directory, which the last user removes before
 * the table goes), not learnt from a failed batch: the kernel waits out a grace period to
 * abort one (some 10 ms, the commit lock held), which only a table flushed behind the
 * records' back costs.  EEXIST then means another run made it meanwhile, ENOENT that it
 * went meanwhile: once more.
 */
static int commit_with_bootstrap(struct nft *n, int have, void (*boot)(struct nft *),
				 const char *chain, void (*fill)(struct nft *, const void *),
				 const void *arg)
{
	if (have < 0)
		have = nft_chain_exists(n, chain);
	if (have < 0)
		return have;
	int err = 0;
	for (int tries = 0; tries < 3; tries++) {
		nft_begin(n);
		if (!have)
			boot(n);
		fill(n, arg);
		if ((err = nft_commit(n)) != (have ? -ENOENT : -EEXIST))
			return err;
		have = !have;
	}
	return err;
}

/* ---- records */

static const char *vif_dir(int family)
{
	return family == NFPROTO_BRIDGE ? DIR_BRIDGE : DIR_INET;
}

/* A vif as recorded, with its own storage. */
struct record {
	char dev[IFNAMSIZ], bridge[IFNAMSIZ];
	uint8_t mac[6];
	struct ip_prefix ips[IP_LIST_MAX];
	struct fw_vif v;
};

static int record_path(char *buf, size_t len, const char *dir, const char *name)
{
	/* A ':' is in no interface name the kernel allows, nor a '/'. */
	if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	return (size_t)snprintf(buf, len, "%s/%s", dir, name) < len ? 0 : -ENAMETOOLONG;
}

static int record_write(int family, const struct fw_vif *v)
{
	char name[64], text[IP_LIST_MAX * 48 + 128];
	int err = record_path(name, sizeof(name), vif_dir(family), v->dev);
	if (err < 0)
		return err;
	size_t len = (size_t)snprintf(text, sizeof(text), "dev %s\n", v->dev);
	if (v->bridge && *v->bridge)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "bridge %s\n", v->bridge);
	if (v->mac)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"mac %02x:%02x:%02x:%02x:%02x:%02x\n", v->mac[0], v->mac[1],
					v->mac[2], v->mac[3], v->mac[4], v->mac[5]);
	if (v->n_ips) {
		len += (size_t)snprintf(text + len, sizeof(text) - len, "ip");
		for (size_t i = 0; i < v->n_ips; i++) {
			char p[INET6_ADDRSTRLEN + 8];
			ip_prefix_format(&v->ips[i], p, sizeof(p));
			len += (size_t)snprintf(text + len, sizeof(text) - len, " %s", p);
		}
		len += (size_t)snprintf(text + len, sizeof(text) - len, "\n");
	}
	return statefile_put(name, text, len);
}

/* 1 with *r filled, 0 when there is no record, or a negative errno (unreadable, garbled). */
static int record_read(int family, const char *dev, struct record *r)
{
	char name[64], text[IP_LIST_MAX * 48 + 128], *save = NULL;
	int err = record_path(name, sizeof(name), vif_dir(family), dev);
	if (err < 0)
		return err;
	if ((err = statefile_read(name, text, sizeof(text))) < 0)
		return err == -ENOENT ? 0 : err;
	memset(r, 0, sizeof(*r));
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *value = strchr(line, ' ');
		if (!value)
			return -EINVAL;
		*value++ = '\0';
		if (!strcmp(line, "dev") && !check_ifname(value))
			snprintf(r->dev, IFNAMSIZ, "%s", value);
		else if (!strcmp(line, "bridge") && !check_ifname(value))
			snprintf(r->bridge, IFNAMSIZ, "%s", value);
		else if (!strcmp(line, "mac") && !parse_mac_syntax(value, r->mac))
			r->v.mac = r->mac;
		else if (!strcmp(line, "ip") &&
			 !parse_ip_list(value, r->ips, IP_LIST_MAX, &r->v.n_ips))
			r->v.ips = r->ips;
		else
			return -EINVAL;
	}
	if (strcmp(r->dev, dev))
		return -EINVAL;
	r->v.dev = r->dev;
	r->v.bridge = r->bridge[0] ? r->bridge : NULL;
	r->v.ips = r->ips;
	return 1;
}

static int record_remove(int family, const char *dev)
{
	char name[64];
	int err = record_path(name, sizeof(name), vif_dir(family), dev);
	return err < 0 ? err : statefile_remove(name);
}

/* What a run killed before the rename of the vif's record left. */
static void record_forget_temp(int family, const char *dev)
{
	char name[64];
	if (record_path(name, sizeof(name), vif_dir(family), dev) == 0)
		statefile_forget_temp(name);
}

static bool recorded(const char *dir, const char *name)
{
	char path[64];
	return record_path(path, sizeof(path), dir, name) == 0 && statefile_exists(path);
}

static bool same_vif(const struct fw_vif *a, const struct fw_vif *b)
{
	const char *ba = a->bridge ? a->bridge : "", *bb = b->bridge ? b->bridge : "";
	if (strcmp(a->dev, b->dev) || strcmp(ba, bb) || !a->mac != !b->mac ||
	    (a->mac && memcmp(a->mac, b->mac, 6)) || a->n_ips != b->n_ips)
		return false;
	for (size_t i = 0; i < a->n_ips; i++) {
		char x[INET6_ADDRSTRLEN + 8], y[INET6_ADDRSTRLEN + 8];
		ip_prefix_format(&a->ips[i], x, sizeof(x));
		ip_prefix_format(&b->ips[i], y, sizeof(y));
		if (strcmp(x, y))
			return false;
	}
	return true;
}

/* ---- clean-up by what the kernel holds */

static const char *const bridge_sets[] = {
    SET_VIFS,  SET_RESTRICTED, SET_RESTRICTED4, SET_RESTRICTED6, SET_MACCHECKED, SET_MACS,
    SET_ADDR4, SET_NET4,       SET_ADDR6,	SET_NET6,	 SET_PORTS};
static const char *const inet_sets[] = {SET_VIFS,  SET_RESTRICTED4, SET_RESTRICTED6,
					SET_ADDR4, SET_NET4,	    SET_ADDR6,
					SET_NET6,  SET_OWNERS4,	    SET_OWNERS6};

static int key_cmp(const void *a, const void *b)
{
	const struct nft_elem_info *x = a, *y = b;
	int c = memcmp(x->key, y->key, sizeof(x->key));
	/* At one key an interval's end sorts before the next interval's start. */
	return c ? c : (int)y->end - (int)x->end;
}

static void del_info(struct nft *n, const char *set, const struct nft_elem_info *e)
{
	struct nft_elem_spec s = {.key = e->key,
				  .key_end = e->has_end ? e->key_end : NULL,
				  .key_len = e->key_len,
				  .flags = e->end ? NFT_SET_ELEM_INTERVAL_END : 0};
	nft_elem(n, false, set, &s);
}

/* Elements found by a dump, to delete. */
struct purge_list {
	struct purged {
		const char *set;
		struct nft_elem_info e;
	} * v;
	size_t n, cap;
};

static int purge_note(struct purge_list *pl, const char *set, const struct nft_elem_info *e)
{
	if (pl->n == pl->cap) {
		size_t cap = pl->cap ? pl->cap * 2 : 16;
		struct purged *v = realloc(pl->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		pl->v = v;
		pl->cap = cap;
	}
	pl->v[pl->n].set = set;
	pl->v[pl->n++].e = *e;
	return 0;
}

/*
 * Every element that names dev, found by a dump of each set: for when the record is missing
 * or does not match the kernel.  card: also the card's shared elements (its twin's sources,
 * its claims).  It costs as many elements as the sets hold, which is why it is only the
 * fallback.  0 or a negative errno (a missing table holds nothing).
 */
static int purge_find(struct nft *n, const char *dev, bool card, struct purge_list *pl)
{
	bool bridge = n->family == NFPROTO_BRIDGE;
	const char *const *sets = bridge ? bridge_sets : inet_sets;
	size_t count =
	    bridge ? sizeof(bridge_sets) / sizeof(*sets) : sizeof(inet_sets) / sizeof(*sets);
	char base[IFNAMSIZ], twin[IFNAMSIZ];
	uint8_t me[IFNAMSIZ], other[IFNAMSIZ], cardname[IFNAMSIZ];
	bool has_twin = card_names(dev, base, twin);
	int err = 0;
	ifname_key(me, dev);
	ifname_key(other, twin);
	ifname_key(cardname, base);
	for (size_t s = 0; s < count && !err; s++) {
		struct nft_elem_info *v;
		size_t k;
		if ((err = nft_set_dump(n, sets[s], &v, &k)) == -ENOENT) {
			err = 0;
			continue;
		}
		if (err < 0)
			break;
		bool v6 = !strcmp(sets[s], SET_OWNERS6);
		bool claims = v6 || !strcmp(sets[s], SET_OWNERS4);
		if (claims && k)
			qsort(v, k, sizeof(*v), key_cmp);
		for (size_t i = 0; i < k && !err; i++) {
			const uint8_t *name =
			    !strcmp(sets[s], SET_PORTS) ? v[i].key + IFNAMSIZ : v[i].key;
			bool shared = card && has_twin && !bridge && v[i].key_len > IFNAMSIZ;
			if (claims) {
				if (!card || v[i].end || v[i].data_len != IFNAMSIZ ||
				    memcmp(v[i].data, cardname, IFNAMSIZ))
					continue;
				/* The same interval in the claims, without the card's name. */
				bool end = i + 1 < k && v[i + 1].end;
				for (int twice = 0; twice < 2 && !err; twice++) {
					const char *set =
					    twice ? (v6 ? SET_CLAIMS6 : SET_CLAIMS4) : sets[s];
					err = purge_note(pl, set, &v[i]);
					if (!err && end)
						err = purge_note(pl, set, &v[i + 1]);
				}
				i += end;
			} else if (!memcmp(name, me, IFNAMSIZ) ||
				   (shared && !memcmp(name, other, IFNAMSIZ))) {
				err = purge_note(pl, sets[s], &v[i]);
			}
		}
		free(v);
	}
	return err;
}

/* The connection for family: opened on first use, kept for the rest of the run. */
static int nft_conn(struct fw *fw, int family, struct nft **out)
{
	if (!fw->nft.nl) {
		int err = nft_open(&fw->nft, family, FW_TABLE);
		if (err < 0)
			return err;
	}
	fw->nft.family = family;
	*out = &fw->nft;
	return 0;
}

/* ---- vifs */

/* What a vif's batch holds: deletions first (the old rules), then additions. */
struct change {
	const struct purge_list *purge;
	const struct elems *del, *add;
};

static void fill_change(struct nft *n, const void *arg)
{
	const struct change *c = arg;
	for (size_t i = 0; c->purge && i < c->purge->n; i++)
		del_info(n, c->purge->v[i].set, &c->purge->v[i].e);
	if (c->del)
		elems_emit(n, false, c->del);
	if (c->add)
		elems_emit(n, true, c->add);
}

/* Does dev have a twin whose rules keep the card's shared elements? */
static bool twin_up(int family, const char *dev)
{
	char base[IFNAMSIZ], twin[IFNAMSIZ];
	return family != NFPROTO_BRIDGE && card_names(dev, base, twin) &&
	       recorded(vif_dir(family), twin);
}

/*
 * 1 when set holds no element but name's (name NULL: none at all), or does not exist; 0 when
 * it holds others; or a negative errno.
 */
static int set_only(struct nft *n, const char *set, const char *name)
{
	struct nft_elem_info *v;
	size_t k;
	uint8_t key[IFNAMSIZ];
	int err = nft_set_dump(n, set, &v, &k);
	if (err == -ENOENT)
		return 1;
	if (err < 0)
		return err;
	if (name)
		ifname_key(key, name);
	bool only = true;
	for (size_t i = 0; i < k && only; i++)
		only = name && v[i].key_len == IFNAMSIZ && !memcmp(v[i].key, key, IFNAMSIZ);
	free(v);
	return only;
}

/* A lock that was not had: why, kept for the call's message (report).  Returns err. */
static int lock_failed(struct fw *fw, const struct lock *lk, int err)
{
	lock_strerror(lk, err, fw->lock_why, sizeof(fw->lock_why));
	return err;
}

/* What a removal deletes: its elements, or with the last user a policy's part, or the table. */
enum fate { KEEP, POLICY_GOES, TABLE_GOES };

/*
 * Called once name's record in dir is removed.  When the directory can go with it, this was
 * the last record of its kind: lk (held shared) is traded for the exclusive lock, so that no
 * other run's change is half done, and the kernel is asked too (records can be lost; a guest's
 * rules must never go with them).  The fate, or a negative errno.
 */
static int last_user(struct fw *fw, struct nft *n, struct lock *lk, const char *dir,
		     const char *name)
{
	/* Gone already: a removal killed before its batch left no record, and the kernel's. */
	int gone = statefile_rmdir(dir);
	if (gone < 0 && gone != -ENOENT)
		return KEEP;
	int err = lock_upgrade(lk);
	if (err < 0)
		return lock_failed(fw, lk, err);
	bool bridge = n->family == NFPROTO_BRIDGE;
	const char *vifs = bridge ? DIR_BRIDGE : DIR_INET,
		   *policy = bridge ? DIR_ANTISPOOF : DIR_MASQ;
	const char *policy_set = bridge ? SET_ANTISPOOF : SET_MASQ;
	bool is_policy = !strcmp(dir, policy);
	/* Another run's record came meanwhile, or the kernel holds what no record names. */
	if (statefile_exists(dir) || set_only(n, is_policy ? policy_set : SET_VIFS, name) != 1)
		return KEEP;
	bool others = is_policy ? statefile_exists(vifs) || set_only(n, SET_VIFS, NULL) != 1
				: statefile_exists(policy) || set_only(n, policy_set, NULL) != 1;
	return !others ? TABLE_GOES : is_policy ? POLICY_GOES : KEEP;
}

/* The deletion a fate asks for (not KEEP's: the caller's elements), in the batch begun. */
static void fate_emit(struct nft *n, enum fate f)
{
	bool bridge = n->family == NFPROTO_BRIDGE;
	if (f == TABLE_GOES) {
		nft_table_del(n);
	} else if (f == POLICY_GOES) {
		nft_chain_del(n, bridge ? CHAIN_ANTISPOOF : CHAIN_POSTROUTING);
		nft_set_del(n, bridge ? SET_ANTISPOOF : SET_MASQ);
	}
}

/*
 * When the kernel does not hold what the record says (or there is no record to trust): every
 * element that names dev deleted, found by a dump (purge_find), and add's put in, in one
 * batch (the table made when missing).  0 or a negative errno.
 */
static int purge_commit(struct nft *n, const char *dev, bool card, const struct elems *add)
{
	struct purge_list pl = {0};
	int err = purge_find(n, dev, card, &pl);
	if (err == 0 && add) {
		struct change c = {&pl, NULL, add};
		err = commit_with_bootstrap(n, -1, bootstrap, CHAIN_PREROUTING, fill_change, &c);
	} else if (err == 0 && pl.n) {
		nft_begin(n);
		fill_change(n, &(struct change){&pl, NULL, NULL});
		err = nft_commit(n);
	}
	free(pl.v);
	return err;
}

static int nft_vif_add(struct fw *fw, int family, const struct fw_vif *v)
{
	struct nft *n;
	struct record old;
	struct lock lk;
	struct elems add, del;
	int err = nft_conn(fw, family, &n);
	if (err < 0)
		return err;
	if ((err = lock_hold(&lk, true)) < 0)
		return lock_failed(fw, &lk, err);
	/* An unreadable record is as good as none: the clean-up below finds what it named. */
	int had = record_read(family, v->dev, &old);
	/* Whether the card's shared elements are this vif's to take: only asked when needed. */
	bool card = had == 0 || !twin_up(family, v->dev);
	/* Another record (or this vif's) is there: so is the table, but for a flush. */
	int table = statefile_exists(vif_dir(family)) ? 1 : -1;
	if ((err = record_write(family, v)) < 0)
		goto out;
	vif_elems(family, v, true, &add);
	struct change c = {NULL, NULL, &add};
	/*
	 * Rules renewed: the old out and the new in within one transaction, so that the vif never
	 * runs unfiltered.  The same as before: adding again is harmless and deletes nothing (a
	 * deletion makes the kernel wait for a grace period), and puts back what went missing.
	 */
	if (had > 0 && !same_vif(&old.v, v)) {
		vif_elems(family, &old.v, card, &del);
		c.del = &del;
	}
	err = commit_with_bootstrap(n, table, bootstrap, CHAIN_PREROUTING, fill_change, &c);
	if ((err == -ENOENT && c.del) || (had < 0 && err == 0))
		err = purge_commit(n, v->dev, card, &add);
	if (err < 0) {
		/* Nothing was changed: the record says what is in force. */
		if (had > 0)
			record_write(family, &old.v);
		else
			record_remove(family, v->dev);
	}
out:
	lock_release(&lk);
	/* The directory made for the record, if it was the only one (the kernel is unchanged). */
	if (err < 0 && had <= 0)
		statefile_rmdir(vif_dir(family));
	return err;
}

/* 1 when name is in the set of the family's table, 0 when not (or no table), or -errno. */
static int in_set(struct nft *n, const char *set, const char *name)
{
	struct key k;
	struct nft_elem_info e;
	key_ifname(&k, name);
	int r = nft_elem_get(n, set, k.b, k.len, 0, &e);
	return r == -ENOENT ? 0 : r;
}

static int nft_vif_del(struct fw *fw, int family, const struct fw_vif *v)
{
	struct nft *n;
	struct record old;
	struct lock lk;
	struct elems del;
	int err = nft_conn(fw, family, &n);
	if (err < 0)
		return err;
	if ((err = lock_hold(&lk, true)) < 0)
		return lock_failed(fw, &lk, err);
	int had = record_read(family, v->dev, &old);
	bool card = !twin_up(family, v->dev);
	int fate = KEEP;
	/* The record goes first, so that its directory says whether this was the last. */
	if (had > 0 && (err = record_remove(family, v->dev)) < 0)
		goto out;
	if (had > 0 && (fate = last_user(fw, n, &lk, vif_dir(family), v->dev)) < 0) {
		err = fate;
		goto restore;
	}
	if (fate != KEEP) {
		nft_begin(n);
		fate_emit(n, fate);
		if ((err = nft_commit(n)) == -ENOENT)
			err = 0; /* gone already (a flush) */
	} else if (had > 0) {
		vif_elems(family, &old.v, card, &del);
		nft_begin(n);
		elems_emit(n, false, &del);
		err = nft_commit(n);
	} else {
		/* No record: rules made by hand, or whose record was lost, or a removal killed
		 * after the record went and before its batch; cheap to ask first. */
		record_forget_temp(family, v->dev);
		err = in_set(n, SET_VIFS, v->dev);
		if (err > 0 && (fate = last_user(fw, n, &lk, vif_dir(family), v->dev)) != KEEP) {
			if (fate < 0) {
				err = fate;
				goto out;
			}
			nft_begin(n);
			fate_emit(n, fate);
			if ((err = nft_commit(n)) == -ENOENT)
				err = 0;
		}
		err = err > 0 ? -ENOENT : err;
	}
	if (err == -ENOENT)
		err = purge_commit(n, v->dev, card, NULL);
restore:
	/* Nothing was deleted: the record says again what is in force. */
	if (err < 0 && had > 0)
		record_write(family, &old.v);
out:
	lock_release(&lk);
	return err;
}

/* ---- host-wide policies: network-nat's masquerade, network-bridge's antispoof */

/* network-nat's masquerade: one set of uplinks, one rule, made with the first. */
static void bootstrap_masq(struct nft *n)
{
	set_ifnames(n, SET_MASQ);
	nft_chain_add(n, CHAIN_POSTROUTING, NF_INET_POST_ROUTING, 100, "nat", true);
	uint8_t v4 = NFPROTO_IPV4;
	struct nftnl_rule *r = rule_new(n, CHAIN_POSTROUTING);
	rule_meta(r, NFT_META_NFPROTO);
	rule_cmp(r, NFT_CMP_EQ, &v4, 1);
	rule_meta(r, NFT_META_OIFNAME);
	rule_lookup(r, SET_MASQ, false);
	rule_masq(r);
	nft_rule_add(n, r);
}

/*
 * network-bridge's antispoof: on the bridges in its set, a frame bridged from a port that is
 * neither the bridge's physical device nor a vif registered on it is dropped.  The rule needs
 * the bridge family's meta ibrname, which some kernels lack: so it is made only when asked.
 */
static void bootstrap_antispoof(struct nft *n)
{
	set_ifnames(n, SET_ANTISPOOF);
	nft_chain_add(n, CHAIN_ANTISPOOF, NF_BR_FORWARD, -200, "filter", true);
	struct nftnl_rule *r = rule_new(n, CHAIN_ANTISPOOF);
	rule_meta(r, NFT_META_BRI_IIFNAME);
	rule_lookup(r, SET_ANTISPOOF, false);
	rule_meta_to(r, NFT_META_BRI_IIFNAME, NFT_REG_1);
	rule_meta_to(r, NFT_META_IIFNAME, NFT_REG_2);
	rule_lookup(r, SET_PORTS, true);
	rule_verdict(r, NF_DROP, NULL);
	nft_rule_add(n, r);
}

/* A policy: its record's directory, name and text, and the elements that make it. */
struct policy {
	const char *dir, *name, *record;
	struct elems es;
	void (*base)(struct nft *); /* the table's part it needs, whose chain is base_chain */
	void (*boot)(struct nft *); /* its own part of the table, whose chain is chain */
	const char *base_chain, *chain;
};

/*
 * Add a policy's elements, making its part of the table (and the table) when missing, in the
 * same transaction (see commit_with_bootstrap).
 */
static int policy_add(struct fw *fw, struct nft *n, const struct policy *p)
{
	char name[64];
	struct lock lk;
	int err = record_path(name, sizeof(name), p->dir, p->name);
	if (err < 0)
		return err;
	if ((err = lock_hold(&lk, true)) < 0)
		return lock_failed(fw, &lk, err);
	if ((err = statefile_put(name, p->record, strlen(p->record))) < 0)
		goto out;
	int have = nft_chain_exists(n, p->chain);
	for (int tries = 0; have >= 0 && tries < 3; tries++) {
		int base = have ? 1 : nft_chain_exists(n, p->base_chain);
		nft_begin(n);
		if (!have && base <= 0)
			p->base(n);
		if (!have)
			p->boot(n);
		elems_emit(n, true, &p->es);
		if ((err = nft_commit(n)) != (have ? -ENOENT : -EEXIST))
			break;
		have = !have;
	}
	if (have < 0)
		err = have;
	if (err < 0)
		statefile_remove(name);
out:
	lock_release(&lk);
	if (err < 0)
		statefile_rmdir(p->dir);
	return err;
}

static int policy_del(struct fw *fw, struct nft *n, struct policy *p)
{
	char name[64];
	struct lock lk;
	int err = record_path(name, sizeof(name), p->dir, p->name);
	if (err < 0)
		return err;
	if ((err = lock_hold(&lk, true)) < 0)
		return lock_failed(fw, &lk, err);
	bool had = statefile_exists(name);
	int fate = KEEP;
	if (had && (err = statefile_remove(name)) < 0)
		goto out;
	/* Without a record too: a removal killed before its batch left the kernel's part. */
	if (!had)
		statefile_forget_temp(name);
	const char *set = !strcmp(p->dir, DIR_MASQ) ? SET_MASQ : SET_ANTISPOOF;
	if ((had || in_set(n, set, p->name) > 0) &&
	    (fate = last_user(fw, n, &lk, p->dir, p->name)) < 0) {
		err = fate;
		goto restore;
	}
	nft_begin(n);
	if (fate != KEEP)
		fate_emit(n, fate);
	else
		elems_emit(n, false, &p->es);
	err = nft_commit(n);
	if (err == -ENOENT && fate == KEEP) {
		/* Not there, or partly: each on its own. */
		for (size_t i = 0; i < p->es.n; i++) {
			struct elems one = p->es;
			one.v[0] = p->es.v[i];
			one.n = 1;
			nft_begin(n);
			elems_emit(n, false, &one);
			nft_commit(n);
		}
	}
	if (err == -ENOENT)
		err = 0;
restore:
	if (err < 0 && had)
		statefile_put(name, p->record, strlen(p->record));
out:
	lock_release(&lk);
	return err;
}

static void masq_policy(struct policy *p, const char *netdev)
{
	memset(p, 0, sizeof(*p));
	p->dir = DIR_MASQ;
	p->name = netdev;
	p->record = "masquerade\n";
	p->base = nft_table_add;
	p->boot = bootstrap_masq;
	p->base_chain = CHAIN_POSTROUTING; /* the table alone: made again harmlessly */
	p->chain = CHAIN_POSTROUTING;
	elem_ifname(&p->es, SET_MASQ, netdev);
}

static void antispoof_policy(struct policy *p, const char *bridge, const char *physdev,
			     char *record, size_t len)
{
	memset(p, 0, sizeof(*p));
	p->dir = DIR_ANTISPOOF;
	p->name = bridge;
	snprintf(record, len, "physdev %s\n", physdev);
	p->record = record;
	p->base = bootstrap;
	p->boot = bootstrap_antispoof;
	p->base_chain = CHAIN_PREROUTING;
	p->chain = CHAIN_ANTISPOOF;
	elem_ifname(&p->es, SET_ANTISPOOF, bridge);
	struct elem *e = elem_new(&p->es, SET_PORTS);
	if (e) {
		uint8_t name[IFNAMSIZ];
		key_ifname(&e->key, bridge);
		ifname_key(name, physdev);
		key_put(&e->key, name, IFNAMSIZ);
	}
}

static int nft_masquerade(struct fw *fw, bool add, const char *netdev)
{
	struct nft *n;
	struct policy p;
	int err = nft_conn(fw, NFPROTO_INET, &n);
	if (err < 0)
		return err;
	masq_policy(&p, netdev);
	return add ? policy_add(fw, n, &p) : policy_del(fw, n, &p);
}

static int nft_antispoof(struct fw *fw, bool add, const char *bridge, const char *physdev)
{
	struct nft *n;
	struct policy p;
	char record[64];
	int err = nft_conn(fw, NFPROTO_BRIDGE, &n);
	if (err < 0)
		return err;
	antispoof_policy(&p, bridge, physdev, record, sizeof(record));
	return add ? policy_add(fw, n, &p) : policy_del(fw, n, &p);
}

extern char **environ;

const char *fw_backend_name(enum fw_backend b)
{
	return b == FW_NFT ? "nft" : b == FW_IPTABLES ? "iptables" : "none";
}

/* Where iptables is, from the fixed system directories (never the caller's PATH). */
static const char *iptables_path(void)
{
	static const char *const paths[] = {"/usr/sbin/iptables", "/sbin/iptables",
					    "/usr/bin/iptables", "/bin/iptables"};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

const char *fw_open(struct fw *fw, const char *param, bool *fallback)
{
	struct nft *n;
	memset(fw, 0, sizeof(*fw));
	*fallback = false;
	if (param && *param) {
		if (!strcmp(param, "nft"))
			fw->backend = FW_NFT;
		else if (!strcmp(param, "iptables"))
			fw->backend = FW_IPTABLES;
		else if (!strcmp(param, "none"))
			fw->backend = FW_NONE;
		else
			return "nft, iptables or none";
		return NULL;
	}
	/* Does the kernel answer nf_tables requests?  The connection asked stays open. */
	if (nft_conn(fw, NFPROTO_BRIDGE, &n) == 0 && nft_chain_exists(n, CHAIN_PREROUTING) >= 0) {
		fw->backend = FW_NFT;
		return NULL;
	}
	fw_close(fw);
	if (iptables_path()) {
		fw->backend = FW_IPTABLES;
	} else {
		fw->backend = FW_NONE;
		*fallback = true;
	}
	return NULL;
}

void fw_close(struct fw *fw)
{
	if (fw->nft.nl)
		nft_close(&fw->nft);
}

struct mnl_socket *fw_netlink(struct fw *fw)
{
	return fw->nft.nl;
}

/* A call's message: a lock's failure in lock_strerror's words, else the error's. */
static int report(struct fw *fw, int err, char *msg, size_t len, const char *what, const char *dev)
{
	if (err < 0)
		snprintf(msg, len, "cannot %s the firewall rules of %s: %s", what, dev,
			 fw->lock_why[0] ? fw->lock_why : strerror(-err));
	fw->lock_why[0] = '\0';
	return err;
}

/* ------------------------------------------------------------- iptables */

/* iptables -w ARGS...; 0 or -EIO.  Only the iptables backend ever forks. */
static int iptables(const char *const args[], size_t n)
{
	const char *path = iptables_path();
	const char *argv[32];
	size_t k = 0;

	if (!path)
		return -ENOENT;
	argv[k++] = "iptables";
	argv[k++] = "-w";
	for (size_t i = 0; i < n && k < 31; i++)
		argv[k++] = args[i];
	argv[k] = NULL;

	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	pid_t pid;
	int status = 0;
	int err = posix_spawn(&pid, path, &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (err)
		return -err;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/*
 * The rules this program inserted for a vif are recorded, one per line, in
 * $XEN_RUN_DIR/xen-hotplug-iptables/<dev>, so that removal takes exactly those (an
 * administrator's rule of the same shape stays, and a changed ip list leaves nothing).
 */
static void record_name(const char *dev, char *buf, size_t len)
{
	snprintf(buf, len, "xen-hotplug-iptables/%s", dev);
}

/* Delete the rules of a record's text (each "-I FORWARD ..." as "-D FORWARD ..."). */
static int iptables_delete_rules(char *text)
{
	int err, result = 0;
	char *save_line = NULL;
	for (char *line = strtok_r(text, "\n", &save_line); line;
	     line = strtok_r(NULL, "\n", &save_line)) {
		const char *tok[32];
		size_t k = 0;
		char *save = NULL;
		for (char *t = strtok_r(line, " ", &save); t && k < 32;
		     t = strtok_r(NULL, " ", &save))
			tok[k++] = t;
		if (k < 2 || strcmp(tok[0], "-I"))
			continue;
		tok[0] = "-D";
		err = iptables(tok, k);
		/* -EIO: not there any more (flushed by hand, or by a reboot of the rules). */
		if (err < 0 && err != -EIO && !result)
			result = err;
	}
	return result;
}

/* Delete the recorded rules, then the record. */
static int iptables_remove_recorded(const char *dev)
{
	char name[64], text[8192];
	record_name(dev, name, sizeof(name));
	int err = statefile_read(name, text, sizeof(text));
	if (err < 0)
		return err == -ENOENT ? 0 : err;
	int result = iptables_delete_rules(text);
	if (result == 0)
		statefile_remove(name);
	return result;
}

struct rule_log {
	char text[8192];
	size_t len;
};

static void log_rule(struct rule_log *lg, const char *const args[], size_t n)
{
	for (size_t i = 0; i < n && lg->len < sizeof(lg->text) - 64; i++)
		lg->len += (size_t)snprintf(lg->text + lg->len, sizeof(lg->text) - lg->len, "%s%s",
					    args[i], i + 1 < n ? " " : "\n");
}

static int write_record(const char *dev, const struct rule_log *lg)
{
	char name[64];
	record_name(dev, name, sizeof(name));
	return statefile_write(name, lg->text, lg->len);
}

/* One rule pair of the scripts: accept what the vif sends (matching match), and what it gets. */
static int iptables_pair(struct rule_log *lg, const char *dev, const char *const match[],
			 size_t n_match)
{
	const char *in[16] = {"-I",	      "FORWARD", "-m", "physdev", "--physdev-is-bridged",
			      "--physdev-in", dev};
	size_t k = 7;
	for (size_t i = 0; i < n_match; i++)
		in[k++] = match[i];
	in[k++] = "-j";
	in[k++] = "ACCEPT";
	const char *const out[] = {
	    "-I", "FORWARD", "-m",    "physdev", "--physdev-is-bridged", "--physdev-out",
	    dev,  "-j",	     "ACCEPT"};
	int err = iptables(in, k);
	if (err == 0)
		log_rule(lg, in, k);
	if (err == 0 && (err = iptables(out, sizeof(out) / sizeof(out[0]))) == 0)
		log_rule(lg, out, sizeof(out) / sizeof(out[0]));
	return err;
}

/*
 * The Xen 4.x scripts' FORWARD rules, pair by pair as they inserted them: one per IPv4
 * source and one for DHCP requests, or a single unrestricted pair when there is no list.
 * What this vif had before is removed first, so that adding twice is adding once.
 */
static int iptables_vif(struct fw *fw, bool add, const struct fw_vif *v)
{
	static const char *const dhcp[] = {"-p", "udp", "--sport", "68", "--dport", "67"};
	char src[INET6_ADDRSTRLEN + 8];
	struct rule_log lg = {.len = 0};
	struct lock lk;
	int err;

	/* The scripts serialise their iptables calls with this lock. */
	if ((err = lock_take(&lk, "iptables")) < 0)
		return lock_failed(fw, &lk, err);
	err = iptables_remove_recorded(v->dev);
	if (add && err == 0) {
		if (v->n_ips == 0) {
			err = iptables_pair(&lg, v->dev, NULL, 0);
		} else {
			for (size_t i = 0; i < v->n_ips && !err; i++) {
				if (v->ips[i].family != AF_INET)
					continue;
				ip_prefix_format(&v->ips[i], src, sizeof(src));
				const char *const match[] = {"-s", src};
				err = iptables_pair(&lg, v->dev, match, 2);
			}
			if (!err)
				err = iptables_pair(&lg, v->dev, dhcp, 6);
		}
		/* Recorded even on failure, so that the clean-up below knows what went in. */
		int werr = write_record(v->dev, &lg);
		if (!err)
			err = werr;
		/* Without a record, from what this run noted: nothing it inserted stays. */
		if (err && werr)
			iptables_delete_rules(lg.text);
		else if (err)
			iptables_remove_recorded(v->dev);
	}
	lock_release(&lk);
	return err;
}

static int iptables_masquerade(bool add, const char *netdev)
{
	const char *const args[] = {"-t",   "nat", add ? "-A" : "-D", "POSTROUTING", "-o",
				    netdev, "-j",  "MASQUERADE"};
	int err = iptables(args, sizeof(args) / sizeof(args[0]));
	return add ? err : 0;
}

/* ---------------------------------------------------------------- entry points */

/*
 * The lock of the routed card dev belongs to.  Its two devices share the card's sources and
 * claims, and each keeps or removes them by whether the other has rules: udev's offline of the
 * vif and libxl's remove of its tap run at once when an HVM guest stops, and without the lock
 * each can see the other's rules still there, so that neither removes the card's claims (and
 * the next guest with its addresses is refused).  0 when taken, 1 when dev can have no twin
 * (nothing taken), or a negative errno.
 */
static int card_lock(struct fw *fw, struct lock *lk, const char *dev)
{
	char base[IFNAMSIZ], twin[IFNAMSIZ], name[IFNAMSIZ + 16];
	if (!card_names(dev, base, twin))
		return 1;
	snprintf(name, sizeof(name), "vif-card-%s", base);
	int err = lock_take(lk, name);
	return err < 0 ? lock_failed(fw, lk, err) : 0;
}

static int vif_rules(struct fw *fw, int family, bool add, const struct fw_vif *v, char *err,
		     size_t errlen)
{
	struct lock card = {.fd = -1};
	int r =
	    fw->backend == FW_NFT && family != NFPROTO_BRIDGE ? card_lock(fw, &card, v->dev) : 0;
	if (r < 0)
		return report(fw, r, err, errlen, add ? "install" : "remove", v->dev);
	r = fw->backend == FW_NFT ? (add ? nft_vif_add(fw, family, v) : nft_vif_del(fw, family, v))
	    : fw->backend == FW_IPTABLES ? iptables_vif(fw, add, v)
					 : 0;
	lock_release(&card);
	/* The claims clash: another card's list overlaps this one's. */
	if ((r == -EEXIST || r == -ENOTEMPTY) && add && family != NFPROTO_BRIDGE &&
	    fw->backend == FW_NFT) {
		snprintf(err, errlen,
			 "cannot install the firewall rules of %s: an address of its ip list is "
			 "already claimed by another guest's vif in table inet %s; two guests' "
			 "ip lists must not overlap",
			 v->dev, FW_TABLE);
		return -EEXIST;
	}
	return report(fw, r, err, errlen, add ? "install" : "remove", v->dev);
}

int fw_bridged_vif_add(struct fw *fw, const struct fw_vif *v, char *err, size_t errlen)
{
	return vif_rules(fw, NFPROTO_BRIDGE, true, v, err, errlen);
}

int fw_bridged_vif_del(struct fw *fw, const struct fw_vif *v, char *err, size_t errlen)
{
	return vif_rules(fw, NFPROTO_BRIDGE, false, v, err, errlen);
}

int fw_routed_vif_add(struct fw *fw, const struct fw_vif *v, char *err, size_t errlen)
{
	return vif_rules(fw, NFPROTO_INET, true, v, err, errlen);
}

int fw_routed_vif_del(struct fw *fw, const struct fw_vif *v, char *err, size_t errlen)
{
	return vif_rules(fw, NFPROTO_INET, false, v, err, errlen);
}

static int masquerade(struct fw *fw, bool add, const char *netdev, char *err, size_t errlen)
{
	int r = fw->backend == FW_NFT	     ? nft_masquerade(fw, add, netdev)
		: fw->backend == FW_IPTABLES ? iptables_masquerade(add, netdev)
					     : 0;
	return report(fw, r, err, errlen, add ? "install" : "remove", netdev);
}

int fw_masquerade_add(struct fw *fw, const char *netdev, char *err, size_t errlen)
{
	return masquerade(fw, true, netdev, err, errlen);
}

int fw_masquerade_del(struct fw *fw, const char *netdev, char *err, size_t errlen)
{
	return masquerade(fw, false, netdev, err, errlen);
}

static int antispoof(struct fw *fw, bool add, const char *bridge, const char *physdev, char *err,
		     size_t errlen)
{
	if (fw->backend != FW_NFT) {
		snprintf(err, errlen,
			 "antispoofing needs the nft firewall (firewall=%s); the iptables rules "
			 "of the Xen scripts have no antispoof policy",
			 fw_backend_name(fw->backend));
		return -EOPNOTSUPP;
	}
	int r = nft_antispoof(fw, add, bridge, physdev);
	if (r == -EOPNOTSUPP && add) {
		snprintf(
		    err, errlen,
		    "cannot install the antispoof policy of %s: this kernel's nf_tables has no "
		    "bridge meta ibrname (module nft_meta_bridge)",
		    bridge);
		return r;
	}
	return report(fw, r, err, errlen, add ? "install" : "remove", bridge);
}

int fw_antispoof_add(struct fw *fw, const char *bridge, const char *physdev, char *err,
		     size_t errlen)
{
	return antispoof(fw, true, bridge, physdev, err, errlen);
}

int fw_antispoof_del(struct fw *fw, const char *bridge, const char *physdev, char *err,
		     size_t errlen)
{
	return antispoof(fw, false, bridge, physdev, err, errlen);
}

static int installed(struct fw *fw, int family, const char *set, const char *name)
{
	struct nft *n;
	if (fw->backend != FW_NFT)
		return 0;
	int err = nft_conn(fw, family, &n);
	return err < 0 ? err : in_set(n, set, name);
}

int fw_vif_installed(struct fw *fw, bool routed, const char *dev)
{
	if (fw->backend == FW_IPTABLES) {
		char name[64];
		record_name(dev, name, sizeof(name));
		return statefile_exists(name);
	}
	return installed(fw, routed ? NFPROTO_INET : NFPROTO_BRIDGE, SET_VIFS, dev);
}

int fw_antispoof_installed(struct fw *fw, const char *bridge)
{
	return installed(fw, NFPROTO_BRIDGE, SET_ANTISPOOF, bridge);
}

int fw_masquerade_installed(struct fw *fw, const char *netdev)
{
	return installed(fw, NFPROTO_INET, SET_MASQ, netdev);
}

/*
 * fn for each record of dir (one policy each, named by its file): the policy's name and, for
 * an antispoof bridge, its physical port.  Stops at fn's first non-zero return, which it
 * returns; 0, or a negative errno when the directory cannot be read.
 */
static int each_record(const char *dir, int (*fn)(const char *name, const char *physdev, void *),
		       void *arg)
{
	char path[4096];
	int r = 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", path_run_dir(), dir) >= sizeof(path))
		return -ENAMETOOLONG;
	DIR *d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	for (struct dirent *de; !r && (de = readdir(d));) {
		char name[300], text[128], physdev[IFNAMSIZ] = "";
		if (de->d_name[0] == '.' || check_ifname(de->d_name))
			continue; /* ., .., and the temporary files of a write under way */
		snprintf(name, sizeof(name), "%s/%s", dir, de->d_name);
		if (!strcmp(dir, DIR_ANTISPOOF) &&
		    (statefile_read(name, text, sizeof(text)) < 0 ||
		     sscanf(text, "physdev %15s", physdev) != 1 || check_ifname(physdev)))
			continue;
		r = fn(de->d_name, physdev, arg);
	}
	closedir(d);
	return r;
}

struct restore {
	struct fw *fw;
	bool masq;
	char *err;
	size_t errlen;
	int result;
};

static int restore_one(const char *name, const char *physdev, void *arg)
{
	struct restore *r = arg;
	char msg[256];
	int e = r->masq ? fw_masquerade_add(r->fw, name, msg, sizeof(msg))
			: fw_antispoof_add(r->fw, name, physdev, msg, sizeof(msg));
	if (e < 0 && !r->result) {
		r->result = e;
		snprintf(r->err, r->errlen, "%s", msg);
	}
	return 0;
}

int fw_restore_policies(struct fw *fw, char *err, size_t errlen)
{
	if (fw->backend != FW_NFT)
		return 0;
	struct restore r = {fw, true, err, errlen, 0};
	int e = each_record(DIR_MASQ, restore_one, &r);
	r.masq = false;
	int a = each_record(DIR_ANTISPOOF, restore_one, &r);
	return r.result < 0 ? r.result : e < 0 ? e : a;
}

struct listing {
	struct fw *fw;
	bool masq;
	int (*fn)(bool masquerade, const char *name, int installed, void *arg);
	void *arg;
};

static int list_one(const char *name, const char *physdev, void *arg)
{
	struct listing *l = arg;
	(void)physdev;
	int in =
	    l->masq ? fw_masquerade_installed(l->fw, name) : fw_antispoof_installed(l->fw, name);
	return l->fn(l->masq, name, in, l->arg);
}

int fw_recorded_policies(struct fw *fw,
			 int (*fn)(bool masquerade, const char *name, int installed, void *arg),
			 void *arg)
{
	if (fw->backend != FW_NFT)
		return 0;
	struct listing l = {fw, true, fn, arg};
	int r = each_record(DIR_MASQ, list_one, &l);
	if (r)
		return r;
	l.masq = false;
	return each_record(DIR_ANTISPOOF, list_one, &l);
}
