/* Guest firewall: owned nftables tables through libmnl/libnftnl, or the scripts' iptables rules. */
#include "firewall.h"
#include "lock.h"
#include "nft.h"
#include "statefile.h"

#include <arpa/inet.h>
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

/* nft's own datatype numbers, so that `nft list` shows our sets readably. */
#define NFT_TYPE_IPADDR	 7
#define NFT_TYPE_IP6ADDR 8
#define NFT_TYPE_IFNAME	 41

#define CHAIN_PREROUTING  "prerouting"
#define CHAIN_POSTROUTING "postrouting"
#define SET_VIFS	  "vifs"       /* ifname : jump vif-<dev> */
#define SET_GUESTS4	  "guests4"    /* inet: guest IPv4 prefix : jump rev-<dev> */
#define SET_GUESTS6	  "guests6"    /* inet: guest IPv6 prefix : jump rev-<dev> */
#define SET_MASQ	  "masquerade" /* inet: ifname of a NAT uplink */
/* bridge: which vifs get the checks the base chain makes for all of them at once */
#define SET_RESTRICTED	   "restricted"	 /* vifs with an ip list: no VLAN tag left */
#define SET_RESTRICTED4	   "restricted4" /* ... with IPv4 entries: DHCP requests pass */
#define SET_RESTRICTED6	   "restricted6" /* ... with IPv6 entries: link-local and DAD pass */
#define SET_MACCHECKED	   "macchecked"	 /* ... with a known MAC: the Ethernet source */
#define SET_MACS	   "macs"	 /* ifname . ether_addr: the MAC each may use */
#define NFT_TYPE_ETHERADDR 9
#define NFT_TYPE_BITS	   6 /* nft's shift for the type of a concatenation */

extern char **environ;

const char *fw_backend_name(enum fw_backend b)
{
	return b == FW_NFT ? "nft" : b == FW_IPTABLES ? "iptables" : "none";
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

static int report(int err, char *msg, size_t len, const char *what, const char *dev)
{
	if (err < 0)
		snprintf(msg, len, "cannot %s the firewall rules of %s: %s", what, dev,
			 strerror(-err));
	return err;
}

/* ------------------------------------------------------------------ nft */

static void chain_name(char *buf, size_t len, const char *prefix, const char *dev)
{
	snprintf(buf, len, "%s-%s", prefix, dev);
}

static void ifname_key(uint8_t key[IFNAMSIZ], const char *dev)
{
	memset(key, 0, IFNAMSIZ);
	memcpy(key, dev, strnlen(dev, IFNAMSIZ - 1));
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

/* The reverse chain of the card dev belongs to: rev-<base>. */
static void rev_chain_name(char *buf, size_t len, const char *dev)
{
	char base[IFNAMSIZ], twin[IFNAMSIZ];
	card_names(dev, base, twin);
	chain_name(buf, len, "rev", base);
}

static void base_rule_lookup(struct nft *n, uint32_t meta, const char *set)
{
	struct nftnl_rule *r = rule_new(n, CHAIN_PREROUTING);
	rule_meta(r, meta);
	rule_lookup(r, set, true, false);
	nft_rule_add(n, r);
}

static void rule_dhcp_match(struct nftnl_rule *r, bool bridge);

/*
 * The bridge table's base chain.  What every restricted vif gets the same is checked here,
 * against sets of interface names, and only the address checks are left to each vif's chain:
 * each commit that adds a jump to a chain makes the kernel validate every chain the table
 * holds, so the shorter they are the less a thousand vifs cost the next one.
 */
static void bridge_base(struct nft *n)
{
	static const uint8_t lladdr[16] = {0xfe, 0x80};
	static const uint8_t llmask[16] = {0xff, 0xc0};
	static const uint8_t unspec[16] = {0};
	uint16_t p8021q = htons(ETH_P_8021Q), p8021ad = htons(ETH_P_8021AD),
		 ip6 = htons(ETH_P_IPV6);
	struct nftnl_rule *r;

	nft_set_add(n, SET_RESTRICTED, 0, NFT_TYPE_IFNAME, IFNAMSIZ, 0, true);
	nft_set_add(n, SET_RESTRICTED4, 0, NFT_TYPE_IFNAME, IFNAMSIZ, 0, true);
	nft_set_add(n, SET_RESTRICTED6, 0, NFT_TYPE_IFNAME, IFNAMSIZ, 0, true);
	nft_set_add(n, SET_MACCHECKED, 0, NFT_TYPE_IFNAME, IFNAMSIZ, 0, true);
	/* A concatenation: each field padded to 4 bytes (the MAC's 6 to 8). */
	nft_set_add(n, SET_MACS, 0, NFT_TYPE_IFNAME << NFT_TYPE_BITS | NFT_TYPE_ETHERADDR,
		    IFNAMSIZ + 8, 0, false);
	nft_chain_add(n, CHAIN_PREROUTING, NF_BR_PRE_ROUTING, -200, "filter", true);

	/* The kernel takes one VLAN tag off before this hook; a frame still tagged after that
	 * would hide its real header from the checks. */
	for (int i = 0; i < 2; i++) {
		r = rule_new(n, CHAIN_PREROUTING);
		rule_meta(r, NFT_META_IIFNAME);
		rule_lookup(r, SET_RESTRICTED, false, false);
		rule_meta(r, NFT_META_PROTOCOL);
		rule_cmp(r, NFT_CMP_EQ, i ? &p8021ad : &p8021q, 2);
		rule_verdict(r, NF_DROP, NULL);
		nft_rule_add(n, r);
	}
	r = rule_new(n, CHAIN_PREROUTING);
	rule_meta(r, NFT_META_IIFNAME);
	rule_lookup(r, SET_MACCHECKED, false, false);
	rule_meta_to(r, NFT_META_IIFNAME, NFT_REG_1);
	rule_payload_to(r, NFT_PAYLOAD_LL_HEADER, 6, 6, NFT_REG_2);
	rule_lookup(r, SET_MACS, false, true);
	rule_verdict(r, NF_DROP, NULL);
	nft_rule_add(n, r);

	r = rule_new(n, CHAIN_PREROUTING);
	rule_meta(r, NFT_META_IIFNAME);
	rule_lookup(r, SET_RESTRICTED4, false, false);
	rule_dhcp_match(r, true);
	rule_verdict(r, NF_ACCEPT, NULL);
	nft_rule_add(n, r);

	/* IPv6 link-local sources, and the unspecified source of duplicate address detection. */
	for (int i = 0; i < 2; i++) {
		r = rule_new(n, CHAIN_PREROUTING);
		rule_meta(r, NFT_META_IIFNAME);
		rule_lookup(r, SET_RESTRICTED6, false, false);
		rule_meta(r, NFT_META_PROTOCOL);
		rule_cmp(r, NFT_CMP_EQ, &ip6, 2);
		rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 8, 16);
		if (i == 0)
			rule_mask(r, llmask, 16);
		rule_cmp(r, NFT_CMP_EQ, i == 0 ? lladdr : unspec, 16);
		rule_verdict(r, NF_ACCEPT, NULL);
		nft_rule_add(n, r);
	}
	base_rule_lookup(n, NFT_META_IIFNAME, SET_VIFS);
}

/*
 * The table, its sets and its base chain, added to the batch begun: made once, the base
 * chain exclusively, so that the batch fails with EEXIST if another run made them.
 */
static void bootstrap(struct nft *n)
{
	nft_table_add(n);
	nft_set_add(n, SET_VIFS, NFT_SET_MAP, NFT_TYPE_IFNAME, IFNAMSIZ, NFT_DATA_VERDICT, true);
	if (n->family == NFPROTO_BRIDGE) {
		bridge_base(n);
	} else {
		nft_set_add(n, SET_GUESTS4, NFT_SET_MAP | NFT_SET_INTERVAL, NFT_TYPE_IPADDR, 4,
			    NFT_DATA_VERDICT, false);
		nft_set_add(n, SET_GUESTS6, NFT_SET_MAP | NFT_SET_INTERVAL, NFT_TYPE_IP6ADDR, 16,
			    NFT_DATA_VERDICT, false);
		/* Before routing and before the administrator's filter chains (priority 0). */
		nft_chain_add(n, CHAIN_PREROUTING, NF_INET_PRE_ROUTING, -150, "filter", true);
		base_rule_lookup(n, NFT_META_IIFNAME, SET_VIFS);
		uint8_t v4 = NFPROTO_IPV4, v6 = NFPROTO_IPV6;
		struct nftnl_rule *r = rule_new(n, CHAIN_PREROUTING);
		rule_meta(r, NFT_META_NFPROTO);
		rule_cmp(r, NFT_CMP_EQ, &v4, 1);
		rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4);
		rule_lookup(r, SET_GUESTS4, true, false);
		nft_rule_add(n, r);
		r = rule_new(n, CHAIN_PREROUTING);
		rule_meta(r, NFT_META_NFPROTO);
		rule_cmp(r, NFT_CMP_EQ, &v6, 1);
		rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 8, 16);
		rule_lookup(r, SET_GUESTS6, true, false);
		nft_rule_add(n, r);
	}
}

/*
 * Commit what fill adds; when the table or its sets are missing, make them in the same
 * transaction, so that a failure leaves nothing of ours behind, not even the table.  EEXIST
 * then means another run made them meanwhile (or a real clash): once more without.
 */
static int commit_with_bootstrap(struct nft *n, void (*boot)(struct nft *),
				 void (*fill)(struct nft *, const void *), const void *arg)
{
	nft_begin(n);
	fill(n, arg);
	int err = nft_commit(n);
	if (err != -ENOENT)
		return err;
	nft_begin(n);
	boot(n);
	fill(n, arg);
	if ((err = nft_commit(n)) != -EEXIST)
		return err;
	nft_begin(n);
	fill(n, arg);
	int again = nft_commit(n);
	return again == 0 ? 0 : err;
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

/* The network address: the prefix's bytes under its mask. */
static void prefix_net(const struct ip_prefix *p, uint8_t *net)
{
	uint8_t mask[16];
	uint32_t len;
	prefix_mask(p, mask, &len);
	for (uint32_t i = 0; i < len; i++)
		net[i] = prefix_bytes(p)[i] & mask[i];
}

/* [match the ethertype or nfproto] then the source address within p: accept. */
static void rule_source_in(struct nft *n, const char *chain, const struct ip_prefix *p,
			   uint32_t base, uint32_t offset, bool bridge)
{
	uint8_t mask[16], net[16];
	uint32_t len;
	prefix_mask(p, mask, &len);
	prefix_net(p, net);
	struct nftnl_rule *r = rule_new(n, chain);
	if (bridge) {
		uint16_t proto = htons(p->family == AF_INET ? ETH_P_IP : ETH_P_IPV6);
		rule_meta(r, NFT_META_PROTOCOL);
		rule_cmp(r, NFT_CMP_EQ, &proto, 2);
	} else {
		uint8_t nfproto = p->family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;
		rule_meta(r, NFT_META_NFPROTO);
		rule_cmp(r, NFT_CMP_EQ, &nfproto, 1);
	}
	rule_payload(r, base, offset, len);
	if (p->len < len * 8)
		rule_mask(r, mask, len);
	rule_cmp(r, NFT_CMP_EQ, net, len);
	rule_verdict(r, NF_ACCEPT, NULL);
	nft_rule_add(n, r);
}

/* Drop whatever of this ethertype (bridge) or nfproto (inet) got this far. */
static void rule_drop_proto(struct nft *n, const char *chain, int family, bool bridge)
{
	struct nftnl_rule *r = rule_new(n, chain);
	if (bridge) {
		uint16_t proto = htons((uint16_t)family);
		rule_meta(r, NFT_META_PROTOCOL);
		rule_cmp(r, NFT_CMP_EQ, &proto, 2);
	} else {
		uint8_t nfproto = (uint8_t)family;
		rule_meta(r, NFT_META_NFPROTO);
		rule_cmp(r, NFT_CMP_EQ, &nfproto, 1);
	}
	rule_verdict(r, NF_DROP, NULL);
	nft_rule_add(n, r);
}

/* DHCP requests (UDP 68 -> 67) come from 0.0.0.0 before the guest has an address. */
static void rule_dhcp_match(struct nftnl_rule *r, bool bridge)
{
	uint8_t udp = IPPROTO_UDP;
	uint16_t ports[2] = {htons(68), htons(67)};
	if (bridge) {
		uint16_t proto = htons(ETH_P_IP);
		rule_meta(r, NFT_META_PROTOCOL);
		rule_cmp(r, NFT_CMP_EQ, &proto, 2);
	} else {
		uint8_t nfproto = NFPROTO_IPV4;
		rule_meta(r, NFT_META_NFPROTO);
		rule_cmp(r, NFT_CMP_EQ, &nfproto, 1);
	}
	rule_meta(r, NFT_META_L4PROTO);
	rule_cmp(r, NFT_CMP_EQ, &udp, 1);
	rule_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 4);
	rule_cmp(r, NFT_CMP_EQ, ports, 4);
}

static void rule_dhcp(struct nft *n, const char *chain, bool bridge)
{
	struct nftnl_rule *r = rule_new(n, chain);
	rule_dhcp_match(r, bridge);
	rule_verdict(r, NF_ACCEPT, NULL);
	nft_rule_add(n, r);
}

static bool has_family(const struct fw_vif *v, int family)
{
	for (size_t i = 0; i < v->n_ips; i++)
		if (v->ips[i].family == family)
			return true;
	return false;
}

/* IPv6: the listed prefixes, and (inet) link-local and the unspecified source of DAD. */
static void ipv6_rules(struct nft *n, const char *chain, const struct fw_vif *v, bool bridge)
{
	/* The bridge table's base chain lets those pass for every restricted vif at once. */
	bool local = !bridge;
	struct ip_prefix ll = {.family = AF_INET6, .len = 10},
			 any = {.family = AF_INET6, .len = 128};
	uint32_t base = NFT_PAYLOAD_NETWORK_HEADER;

	ll.addr.v6.s6_addr[0] = 0xfe;
	ll.addr.v6.s6_addr[1] = 0x80;
	for (size_t i = 0; i < v->n_ips; i++)
		if (v->ips[i].family == AF_INET6)
			rule_source_in(n, chain, &v->ips[i], base, 8, bridge);
	if (local) {
		rule_source_in(n, chain, &ll, base, 8, bridge);
		rule_source_in(n, chain, &any, base, 8, bridge);
	}
	rule_drop_proto(n, chain, bridge ? ETH_P_IPV6 : NFPROTO_IPV6, bridge);
}

/* ARP from the guest: well formed, its own sender MAC, a listed sender address or 0.0.0.0. */
static void arp_rules(struct nft *n, const char *chain, const struct fw_vif *v)
{
	uint16_t arp = htons(ETH_P_ARP);
	/*
	 * htype 1 (Ethernet), ptype IPv4, hlen 6, plen 4: the sender address is where the rules
	 * look only in ARP of that shape, so each accepting rule checks the shape as well.
	 */
	static const uint8_t shape[6] = {0x00, 0x01, 0x08, 0x00, 6, 4};
	struct nftnl_rule *r;
	if (v->mac) {
		r = rule_new(n, chain);
		rule_meta(r, NFT_META_PROTOCOL);
		rule_cmp(r, NFT_CMP_EQ, &arp, 2);
		rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 8, 6);
		rule_cmp(r, NFT_CMP_NEQ, v->mac, 6);
		rule_verdict(r, NF_DROP, NULL);
		nft_rule_add(n, r);
	}
	struct ip_prefix probe = {.family = AF_INET, .len = 32};
	for (size_t i = 0; i <= v->n_ips; i++) {
		const struct ip_prefix *p = i < v->n_ips ? &v->ips[i] : &probe;
		if (p->family != AF_INET)
			continue;
		uint8_t mask[16], net[16];
		uint32_t len;
		prefix_mask(p, mask, &len);
		prefix_net(p, net);
		r = rule_new(n, chain);
		rule_meta(r, NFT_META_PROTOCOL);
		rule_cmp(r, NFT_CMP_EQ, &arp, 2);
		rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 0, 6);
		rule_cmp(r, NFT_CMP_EQ, shape, 6);
		rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 14, 4);
		if (p->len < 32)
			rule_mask(r, mask, 4);
		rule_cmp(r, NFT_CMP_EQ, net, 4);
		rule_verdict(r, NF_ACCEPT, NULL);
		nft_rule_add(n, r);
	}
	rule_drop_proto(n, chain, ETH_P_ARP, true);
}

/*
 * A vif's membership of a set of interface names: add, or remove whether or not it is there
 * (adding first makes the removal valid either way, in the same transaction).  A fresh vif,
 * one without a chain, has no element to remove: its batch deletes nothing, which spares the
 * run the kernel's wait for freed objects when its netfilter socket is closed.
 */
static void membership(struct nft *n, const char *set, const uint8_t key[IFNAMSIZ], bool in,
		       bool fresh)
{
	if (in || !fresh)
		nft_elem(n, true, set, key, IFNAMSIZ, 0, NULL);
	if (!in && !fresh)
		nft_elem(n, false, set, key, IFNAMSIZ, 0, NULL);
}

static void mac_key(uint8_t key[IFNAMSIZ + 8], const char *dev, const uint8_t mac[6])
{
	memset(key, 0, IFNAMSIZ + 8);
	ifname_key(key, dev);
	memcpy(key + IFNAMSIZ, mac, 6);
}

/* The vif's entries in the base chain's sets, as its list says (in) or none (!in). */
static void bridged_memberships(struct nft *n, const struct fw_vif *v, bool in, bool fresh)
{
	uint8_t key[IFNAMSIZ], mkey[IFNAMSIZ + 8];
	bool restricted = in && v->n_ips;
	ifname_key(key, v->dev);
	membership(n, SET_RESTRICTED, key, restricted, fresh);
	membership(n, SET_RESTRICTED4, key, restricted && has_family(v, AF_INET), fresh);
	membership(n, SET_RESTRICTED6, key, restricted && has_family(v, AF_INET6), fresh);
	membership(n, SET_MACCHECKED, key, restricted && v->mac, fresh);
	if (v->mac) {
		mac_key(mkey, v->dev, v->mac);
		if (restricted || !fresh)
			nft_elem(n, true, SET_MACS, mkey, sizeof(mkey), 0, NULL);
		if (!restricted && !fresh)
			nft_elem(n, false, SET_MACS, mkey, sizeof(mkey), 0, NULL);
	}
}

/* What fill_bridged adds: the vif, and whether it has no chain yet. */
struct bridged_add {
	const struct fw_vif *v;
	bool fresh;
};

/*
 * The bridged vif's chain and set entries, added to the batch begun: what SPEC §6 lists,
 * nothing when ip is empty.
 */
static void fill_bridged(struct nft *n, const void *arg)
{
	const struct bridged_add *a = arg;
	const struct fw_vif *v = a->v;
	char chain[64];
	uint8_t key[IFNAMSIZ];

	chain_name(chain, sizeof(chain), "vif", v->dev);
	ifname_key(key, v->dev);
	nft_chain_add(n, chain, -1, 0, NULL, false);
	nft_chain_flush(n, chain);
	if (v->n_ips) {
		if (has_family(v, AF_INET)) {
			for (size_t i = 0; i < v->n_ips; i++)
				if (v->ips[i].family == AF_INET)
					rule_source_in(n, chain, &v->ips[i],
						       NFT_PAYLOAD_NETWORK_HEADER, 12, true);
			rule_drop_proto(n, chain, ETH_P_IP, true);
			arp_rules(n, chain, v);
		}
		if (has_family(v, AF_INET6))
			ipv6_rules(n, chain, v, true);
	}
	bridged_memberships(n, v, true, a->fresh);
	nft_elem(n, true, SET_VIFS, key, IFNAMSIZ, 0, chain);
}

/* The interval of prefix p: its first address, and the one past its last (false: none). */
static bool interval_of(const struct ip_prefix *p, uint8_t start[16], uint8_t end[16],
			uint32_t *len)
{
	uint8_t mask[16];
	prefix_mask(p, mask, len);
	prefix_net(p, start);
	memcpy(end, start, *len);
	for (uint32_t b = 0; b < *len; b++)
		end[b] |= (uint8_t)~mask[b];
	/* end = last address + 1; past the top of the space there is no end element. */
	bool wrapped = true;
	for (int b = (int)*len - 1; b >= 0 && wrapped; b--)
		wrapped = ++end[b] == 0;
	return !wrapped;
}

/*
 * The guest's prefixes as interval elements: start -> jump, end marked INTERVAL_END.  When
 * deleting, only those marked in only (when not NULL): a key names an interval whoever holds it.
 */
static void guest_intervals(struct nft *n, bool add, const struct fw_vif *v, const char *rev,
			    const bool *only)
{
	for (size_t i = 0; i < v->n_ips; i++) {
		const struct ip_prefix *p = &v->ips[i];
		uint8_t start[16], end[16];
		uint32_t len;
		if (only && !only[i])
			continue;
		bool has_end = interval_of(p, start, end, &len);
		const char *set = p->family == AF_INET ? SET_GUESTS4 : SET_GUESTS6;
		nft_elem(n, add, set, start, len, 0, add ? rev : NULL);
		if (has_end)
			nft_elem(n, add, set, end, len, NFT_SET_ELEM_INTERVAL_END, NULL);
	}
}

/*
 * Which of the list's intervals jump to rev now: a list changed since online may name another
 * guest's address, whose interval must stay.  1 when all could be asked, 0 when the kernel
 * cannot answer single elements (the caller then finds them by a dump), or a negative errno.
 */
static int owned_intervals(struct nft *n, const struct fw_vif *v, const char *rev, bool *owned)
{
	for (size_t i = 0; i < v->n_ips; i++) {
		uint8_t start[16], end[16];
		uint32_t len;
		struct nft_elem_info e;
		interval_of(&v->ips[i], start, end, &len);
		int r = nft_elem_get(n, v->ips[i].family == AF_INET ? SET_GUESTS4 : SET_GUESTS6,
				     start, len, 0, &e);
		if (r == -EOPNOTSUPP || r == -EINVAL)
			return 0;
		if (r < 0)
			return r;
		owned[i] = r == 1 && !e.end && !strcmp(e.jump, rev);
	}
	return 1;
}

/* The routed vif's chains: sources it may use, and the reverse rule for its addresses. */
static void fill_routed(struct nft *n, const void *arg)
{
	const struct fw_vif *v = arg;
	char chain[64], rev[64];
	uint8_t key[IFNAMSIZ];

	chain_name(chain, sizeof(chain), "vif", v->dev);
	rev_chain_name(rev, sizeof(rev), v->dev);
	ifname_key(key, v->dev);
	nft_chain_add(n, chain, -1, 0, NULL, false);
	nft_chain_flush(n, chain);
	nft_chain_add(n, rev, -1, 0, NULL, false);
	nft_chain_flush(n, rev);
	if (v->n_ips) {
		if (has_family(v, AF_INET)) {
			rule_dhcp(n, chain, false);
			for (size_t i = 0; i < v->n_ips; i++)
				if (v->ips[i].family == AF_INET)
					rule_source_in(n, chain, &v->ips[i],
						       NFT_PAYLOAD_NETWORK_HEADER, 12, false);
			rule_drop_proto(n, chain, NFPROTO_IPV4, false);
		}
		if (has_family(v, AF_INET6))
			ipv6_rules(n, chain, v, false);
		/*
		 * Anything claiming the guest's addresses must come in through its card (the vif
		 * or its -emu twin, which share the rule and the intervals: adding the same
		 * element again is not an error).
		 */
		char base[IFNAMSIZ], twin[IFNAMSIZ];
		uint8_t other[IFNAMSIZ];
		bool has_twin = card_names(v->dev, base, twin);
		struct nftnl_rule *r = rule_new(n, rev);
		rule_meta(r, NFT_META_IIFNAME);
		rule_cmp(r, NFT_CMP_NEQ, key, IFNAMSIZ);
		if (has_twin) {
			ifname_key(other, strcmp(base, v->dev) ? base : twin);
			rule_meta(r, NFT_META_IIFNAME);
			rule_cmp(r, NFT_CMP_NEQ, other, IFNAMSIZ);
		}
		rule_verdict(r, NF_DROP, NULL);
		nft_rule_add(n, r);
		guest_intervals(n, true, v, rev, NULL);
	}
	nft_elem(n, true, SET_VIFS, key, IFNAMSIZ, 0, chain);
}

/*
 * Removal, added to the batch begun: the map elements first (they hold the chains), then the
 * chains.  A routed vif's
 * reverse rule and intervals stay while its twin (twin_up) still has rules; of its intervals
 * only those marked owned go.
 */
static void fill_del(struct nft *n, const struct fw_vif *v, bool routed, bool with_elems,
		     bool twin_up, const bool *owned)
{
	char chain[64], rev[64];
	uint8_t key[IFNAMSIZ];

	chain_name(chain, sizeof(chain), "vif", v->dev);
	rev_chain_name(rev, sizeof(rev), v->dev);
	ifname_key(key, v->dev);
	if (with_elems) {
		nft_elem(n, false, SET_VIFS, key, IFNAMSIZ, 0, NULL);
		if (routed && !twin_up)
			guest_intervals(n, false, v, NULL, owned);
	}
	if (!routed)
		bridged_memberships(n, v, false, false);
	nft_chain_flush(n, chain);
	nft_chain_del(n, chain);
	if (routed && !twin_up) {
		nft_chain_flush(n, rev);
		nft_chain_del(n, rev);
	}
}

static int key_cmp(const void *a, const void *b)
{
	const struct nft_elem_info *x = a, *y = b;
	int c = memcmp(x->key, y->key, sizeof(x->key));
	/* At one key an interval's end sorts before the next interval's start. */
	return c ? c : (int)y->end - (int)x->end;
}

/*
 * The intervals that jump to rev, whatever the guest's list was when they were made: each
 * start element and the end element that follows it in key order, their deletion added to
 * the batch begun (v from nft_set_dump, sorted here).
 */
static void del_intervals_of(struct nft *n, const char *set, struct nft_elem_info *v, size_t count,
			     const char *rev)
{
	if (!count) /* an empty dump has no array at all */
		return;
	qsort(v, count, sizeof(*v), key_cmp);
	for (size_t i = 0; i < count; i++) {
		if (v[i].end || strcmp(v[i].jump, rev))
			continue;
		nft_elem(n, false, set, v[i].key, v[i].key_len, 0, NULL);
		if (i + 1 < count && v[i + 1].end)
			nft_elem(n, false, set, v[i + 1].key, v[i + 1].key_len,
				 NFT_SET_ELEM_INTERVAL_END, NULL);
	}
}

/* Both families' sets dumped (a missing set holds nothing), for del_intervals_of. */
struct dumped {
	struct nft_elem_info *v[2];
	size_t n[2];
};

static const char *const guest_sets[2] = {SET_GUESTS4, SET_GUESTS6};

static int dump_guests(struct nft *n, struct dumped *d)
{
	memset(d, 0, sizeof(*d));
	for (int i = 0; i < 2; i++) {
		int err = nft_set_dump(n, guest_sets[i], &d->v[i], &d->n[i]);
		if (err < 0 && err != -ENOENT) {
			free(d->v[0]);
			return err;
		}
	}
	return 0;
}

static void del_dumped(struct nft *n, struct dumped *d, const char *rev)
{
	for (int i = 0; i < 2; i++) {
		del_intervals_of(n, guest_sets[i], d->v[i], d->n[i], rev);
		free(d->v[i]);
		d->v[i] = NULL;
	}
}

/* Does the twin of dev (vif / vif-emu) have rules?  1, 0 or a negative errno. */
static int twin_has_rules(struct nft *n, const char *dev)
{
	char base[IFNAMSIZ], twin[IFNAMSIZ], twin_chain[64];
	if (!card_names(dev, base, twin))
		return 0;
	chain_name(twin_chain, sizeof(twin_chain), "vif", twin);
	return nft_chain_exists(n, twin_chain);
}

static int nft_vif_del(struct fw *fw, int family, const struct fw_vif *v)
{
	struct nft *n;
	char chain[64], rev[64];
	bool routed = family != NFPROTO_BRIDGE, owned[IP_LIST_MAX] = {false};
	int err = nft_conn(fw, family, &n);
	if (err < 0)
		return err;
	chain_name(chain, sizeof(chain), "vif", v->dev);
	rev_chain_name(rev, sizeof(rev), v->dev);
	if ((err = nft_chain_exists(n, chain)) <= 0)
		return err;
	int twin_up = routed ? twin_has_rules(n, v->dev) : 0;
	if (twin_up < 0)
		return twin_up;
	/* The intervals to go are known when each of the list's could be asked for. */
	int asked = routed && !twin_up ? owned_intervals(n, v, rev, owned) : 1;
	if (asked < 0)
		return asked;
	if (asked) {
		nft_begin(n);
		fill_del(n, v, routed, true, twin_up, owned);
		if ((err = nft_commit(n)) != -ENOENT && err != -EBUSY)
			return err < 0 ? err : 0;
	}
	/*
	 * The guest's list changed since its rules were made, someone removed an element by
	 * hand, or the kernel cannot answer for single elements: find what refers to the chains,
	 * then remove them.
	 */
	uint8_t key[IFNAMSIZ];
	struct dumped d;
	ifname_key(key, v->dev);
	if (routed && !twin_up && (err = dump_guests(n, &d)) < 0)
		return err;
	/* Adding the vif's element first makes its removal valid either way. */
	nft_begin(n);
	nft_elem(n, true, SET_VIFS, key, IFNAMSIZ, 0, chain);
	nft_elem(n, false, SET_VIFS, key, IFNAMSIZ, 0, NULL);
	if (routed && !twin_up)
		del_dumped(n, &d, rev);
	fill_del(n, v, routed, false, twin_up, NULL);
	err = nft_commit(n);
	return err < 0 ? err : 0;
}

/*
 * A vif's rules.  Our batches keep a vif's chain and its set elements together (no chain, no
 * element), so a new vif's batch only adds.  A routed vif that has rules already gets the old
 * ones out and the new ones in within one transaction, so that it never runs unfiltered, its
 * old intervals found by what they jump to (the list may have changed).
 */
static int nft_vif_add(struct fw *fw, int family, const struct fw_vif *v)
{
	struct nft *n;
	char chain[64], rev[64];
	struct dumped d;
	int err = nft_conn(fw, family, &n);
	if (err < 0)
		return err;
	chain_name(chain, sizeof(chain), "vif", v->dev);
	int exists = nft_chain_exists(n, chain);
	if (exists < 0)
		return exists;
	if (family == NFPROTO_BRIDGE) {
		struct bridged_add a = {v, exists == 0};
		return commit_with_bootstrap(n, bootstrap, fill_bridged, &a);
	}
	if (!exists)
		return commit_with_bootstrap(n, bootstrap, fill_routed, v);
	rev_chain_name(rev, sizeof(rev), v->dev);
	if ((err = dump_guests(n, &d)) < 0)
		return err;
	nft_begin(n);
	del_dumped(n, &d, rev);
	fill_routed(n, v);
	return nft_commit(n);
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
static int iptables_vif(bool add, const struct fw_vif *v)
{
	static const char *const dhcp[] = {"-p", "udp", "--sport", "68", "--dport", "67"};
	char src[INET6_ADDRSTRLEN + 8];
	struct rule_log lg = {.len = 0};
	struct lock lk;
	int err;

	/* The scripts serialise their iptables calls with this lock. */
	if ((err = lock_take(&lk, "iptables")) < 0)
		return err;
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

/* network-nat's masquerade: one set of uplinks, one rule, made once. */
static void bootstrap_nat(struct nft *n)
{
	nft_table_add(n);
	nft_set_add(n, SET_MASQ, 0, NFT_TYPE_IFNAME, IFNAMSIZ, 0, true);
	nft_chain_add(n, CHAIN_POSTROUTING, NF_INET_POST_ROUTING, 100, "nat", true);
	uint8_t v4 = NFPROTO_IPV4;
	struct nftnl_rule *r = rule_new(n, CHAIN_POSTROUTING);
	rule_meta(r, NFT_META_NFPROTO);
	rule_cmp(r, NFT_CMP_EQ, &v4, 1);
	rule_meta(r, NFT_META_OIFNAME);
	rule_lookup(r, SET_MASQ, false, false);
	rule_masq(r);
	nft_rule_add(n, r);
}

static void fill_masquerade(struct nft *n, const void *key)
{
	nft_elem(n, true, SET_MASQ, key, IFNAMSIZ, 0, NULL);
}

static int nft_masquerade(struct fw *fw, bool add, const char *netdev)
{
	struct nft *n;
	uint8_t key[IFNAMSIZ];
	int err = nft_conn(fw, NFPROTO_INET, &n);
	if (err < 0)
		return err;
	ifname_key(key, netdev);
	/* The set and its rule in the same transaction as the element: all or nothing. */
	if (add)
		return commit_with_bootstrap(n, bootstrap_nat, fill_masquerade, key);
	nft_begin(n);
	nft_elem(n, add, SET_MASQ, key, IFNAMSIZ, 0, NULL);
	err = nft_commit(n);
	return !add && err == -ENOENT ? 0 : err;
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
 * The lock of the routed card dev belongs to.  Its two devices share the card's reverse chain
 * and intervals, and each keeps or removes them by whether the other has rules: udev's offline
 * of the vif and libxl's remove of its tap run at once when an HVM guest stops, and without
 * the lock each can see the other's chain still there, so that neither removes the card's
 * claims (and the next guest with its addresses is refused).  0 when taken, 1 when dev can
 * have no twin (nothing taken), or a negative errno.
 */
static int card_lock(struct lock *lk, const char *dev)
{
	char base[IFNAMSIZ], twin[IFNAMSIZ], name[IFNAMSIZ + 16];
	if (!card_names(dev, base, twin))
		return 1;
	snprintf(name, sizeof(name), "vif-card-%s", base);
	return lock_take(lk, name);
}

static int vif_rules(struct fw *fw, int family, bool add, const struct fw_vif *v, char *err,
		     size_t errlen)
{
	struct lock card = {.fd = -1};
	int r = fw->backend == FW_NFT && family != NFPROTO_BRIDGE ? card_lock(&card, v->dev) : 0;
	if (r < 0)
		return report(r, err, errlen, add ? "install" : "remove", v->dev);
	r = fw->backend == FW_NFT ? (add ? nft_vif_add(fw, family, v) : nft_vif_del(fw, family, v))
	    : fw->backend == FW_IPTABLES ? iptables_vif(add, v)
					 : 0;
	lock_release(&card);
	/* The routed intervals clash: another card's list overlaps this one's. */
	if (r == -EEXIST && add && family != NFPROTO_BRIDGE && fw->backend == FW_NFT) {
		snprintf(err, errlen,
			 "cannot install the firewall rules of %s: an address of its ip list is "
			 "already claimed by another guest's vif in table inet %s; two guests' "
			 "ip lists must not overlap",
			 v->dev, FW_TABLE);
		return r;
	}
	return report(r, err, errlen, add ? "install" : "remove", v->dev);
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
	return report(r, err, errlen, add ? "install" : "remove", netdev);
}

int fw_masquerade_add(struct fw *fw, const char *netdev, char *err, size_t errlen)
{
	return masquerade(fw, true, netdev, err, errlen);
}

int fw_masquerade_del(struct fw *fw, const char *netdev, char *err, size_t errlen)
{
	return masquerade(fw, false, netdev, err, errlen);
}
