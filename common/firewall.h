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
 */
#define FW_TABLE "xen_hotplug"

enum fw_backend { FW_NONE, FW_NFT, FW_IPTABLES };

/* What a vif's rules are made of. */
struct fw_vif {
	const char *dev;	     /* the interface, as the kernel names it now */
	const struct ip_prefix *ips; /* the guest's addresses; none: no restriction */
	size_t n_ips;
	const uint8_t *mac; /* the guest's MAC when known, else NULL */
};

/*
 * The firewall of one program run: its backend, and the nf_tables connection, opened once and
 * used by every call (and by the connection-tracking clean-up, which speaks the same
 * netlink protocol).
 */
struct fw {
	enum fw_backend backend;
	struct nft nft; /* nft.nl is NULL until opened */
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

#endif
