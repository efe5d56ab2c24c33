/* Guest firewall: owned nftables tables through libmnl/libnftnl, or the scripts' iptables rules. */
#ifndef XNH_FIREWALL_H
#define XNH_FIREWALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nft.h"
#include "params.h"

/*
 * The tables this project owns, one per family; nothing outside them is ever touched.
 *   table bridge xen_hotplug   bridged vifs (filtered on the vif port) and the antispoof policy
 *   table inet xen_hotplug     routed and NAT vifs, and network-nat's masquerade
 * Each exists only while something needs it: the last removal deletes it.
 */
#define FW_TABLE "xen_hotplug"

enum fw_backend { FW_NONE, FW_NFT, FW_IPTABLES };

/* What a vif's rules are made of. */
struct fw_vif {
	const char *dev;	     /* the interface, as the kernel names it now */
	const struct ip_prefix *ips; /* the guest's addresses; none: no restriction */
	size_t n_ips;
	const uint8_t *mac; /* the guest's MAC when known, else NULL */
	const char *bridge; /* bridged: the bridge the vif is a port of (antispoof), else NULL */
};

/*
 * The firewall of one program run: its backend, and the nf_tables connection, opened once and
 * used by every call (and by the connection-tracking clean-up, which speaks the same
 * netlink protocol).
 */
struct fw {
	enum fw_backend backend;
	struct nft nft; /* nft.nl is NULL until opened */
	/* Why a lock the last call waited for was not had (lock_strerror), for its message. */
	char lock_why[512];
};

/*
 * Choose the backend named by param ("nft", "iptables", "none"; NULL or empty: nft when the
 * kernel answers nf_tables, else iptables when the iptables command exists, else none).
 * Returns NULL or the phrase for an invalid value.  *fallback is set when the default fell to
 * none.  fw_close releases the connection.
 */
const char *fw_open(struct fw *fw, const char *param, bool *fallback);
void fw_close(struct fw *fw);
const char *fw_backend_name(enum fw_backend b);

/* The open netfilter connection, or NULL. */
struct mnl_socket *fw_netlink(struct fw *fw);

/*
 * Each returns 0 or a negative errno, with a message in err.  Adding replaces whatever the
 * same vif had, in one atomic batch; deleting what is not there is not an error.
 */
int fw_bridged_vif_add(struct fw *fw, const struct fw_vif *v, char *err, size_t errlen);
int fw_bridged_vif_del(struct fw *fw, const struct fw_vif *v, char *err, size_t errlen);
int fw_routed_vif_add(struct fw *fw, const struct fw_vif *v, char *err, size_t errlen);
int fw_routed_vif_del(struct fw *fw, const struct fw_vif *v, char *err, size_t errlen);

/* network-nat: masquerade what leaves netdev (nft: the owned set; iptables: MASQUERADE). */
int fw_masquerade_add(struct fw *fw, const char *netdev, char *err, size_t errlen);
int fw_masquerade_del(struct fw *fw, const char *netdev, char *err, size_t errlen);

/*
 * network-bridge antispoof=yes: frames bridged between bridge's ports are dropped unless they
 * enter from physdev or from a vif that vif-bridge registered on that bridge.
 */
int fw_antispoof_add(struct fw *fw, const char *bridge, const char *physdev, char *err,
		     size_t errlen);
int fw_antispoof_del(struct fw *fw, const char *bridge, const char *physdev, char *err,
		     size_t errlen);

/*
 * What the kernel holds, for status: 1 when dev has this program's rules (routed: in table
 * inet, else bridge), 0 when not, or a negative errno.  The same for a bridge's antispoof
 * policy and for netdev's masquerade.
 */
int fw_vif_installed(struct fw *fw, bool routed, const char *dev);
int fw_antispoof_installed(struct fw *fw, const char *bridge);
int fw_masquerade_installed(struct fw *fw, const char *netdev);

/*
 * The host-wide policies recorded as on (masquerades, antispoof bridges) put back into the
 * kernel where missing, e.g. after `nft flush ruleset`.  0 or a negative errno with err set.
 */
int fw_restore_policies(struct fw *fw, char *err, size_t errlen);

/*
 * For status: fn for each policy recorded as on (nft only), a masquerade (netdev) or an
 * antispoof bridge, with what the kernel holds (fw_*_installed: 1, 0 or -errno).  Stops at
 * fn's first non-zero return, which it returns; 0, or a negative errno.
 */
int fw_recorded_policies(struct fw *fw,
			 int (*fn)(bool masquerade, const char *name, int installed, void *arg),
			 void *arg);

#endif
