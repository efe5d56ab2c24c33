/* The DHCP servers of NAT mode: ISC dhcpd and dnsmasq, their files edited atomically. */
#ifndef XNH_DHCP_H
#define XNH_DHCP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "log.h"
#include "params.h"

enum dhcp_kind { DHCP_NO, DHCP_ISC, DHCP_DNSMASQ };

/*
 * What vif-nat's addresses come from (SPEC §5): 10.<domid/256>.<domid%256>.<vifid>/16 for every
 * domain id, so all of 10.0.0.0/8, each guest told the /16 its address is derived in.
 */
#define DHCP_NAT_DECL	"subnet 10.0.0.0 netmask 255.0.0.0"
#define DHCP_NAT_SUBNET DHCP_NAT_DECL " { option subnet-mask 255.255.0.0; }"
#define DHCP_NAT_RANGE                                                                             \
	"dhcp-range=10.0.0.0,static,255.0.0.0\ndhcp-option=option:netmask,255.255.0.0"
/* The declaration a start of version 0.1.0 added (10.0.0.0/16 only): what its stop removes. */
#define DHCP_NAT_SUBNET_0_1 "subnet 10.0.0.0 netmask 255.255.0.0 {}"

struct dhcp {
	enum dhcp_kind kind;
	char conf[PATH_MAX];	     /* ISC: dhcpd.conf */
	char defaults[PATH_MAX];     /* ISC: the server's defaults file (interface list), or "" */
	char init[PATH_MAX];	     /* the server's init script, run with "restart" */
	char hosts[PATH_MAX];	     /* dnsmasq: the dhcp-hostsfile */
	char pidfile[PATH_MAX];	     /* dnsmasq: its pid file, for SIGHUP */
	char dnsmasq_conf[PATH_MAX]; /* dnsmasq: the file network-nat writes */
	const char *subnet;	     /* ISC: the declaration taken away; NULL: DHCP_NAT_SUBNET */
};

/*
 * Read dhcp= (no|yes|dnsmasq; default no, or yes when /etc/dhcpd.conf exists as the scripts
 * had it) and the paths: dhcpd_conf, dhcpd_defaults, dhcpd_init, dnsmasq_hosts, dnsmasq_pid,
 * dnsmasq_conf, dnsmasq_init.  Only arguments and the environment are read, never xenstore:
 * they name programs run as root.  The init script must be owned by root and writable by
 * nobody else.  network: for network-nat (the init script is also needed for dnsmasq).
 * 0, or -1 with a message in err.
 */
int dhcp_setup(struct dhcp *d, const struct params *p, bool network, char *err, size_t errlen);

/*
 * Only judge the values of dhcp= and the path parameters, looking for no file: what stop and
 * status do with them.  0, or -1 with a message in err.
 */
int dhcp_check(const struct params *p, char *err, size_t errlen);

/*
 * Before anything is changed (network-nat start, vif-nat online): the files edited in place
 * exist (ISC: dhcpd_conf, and the defaults file when one is used).  0, or -1 with a message in
 * err naming the parameter.
 */
int dhcp_check_files(const struct dhcp *d, char *err, size_t errlen);

const char *dhcp_kind_name(enum dhcp_kind k);

/* One guest's entry. */
struct dhcp_host {
	const char *name;   /* dom<domid>[-<vifid>] */
	const char *mac;    /* the guest's MAC address */
	const char *ip;	    /* its fixed address */
	const char *router; /* the router address it is given */
	const char *dev;    /* the vif, for dhcpd's interface list */
};

/*
 * Under the lock vif-nat-dhcp: write (add) or remove the guest's entry (ISC: the host line and
 * the vif in the interface list; dnsmasq: the hosts line), never duplicated, then make the
 * server read it (ISC: restart; dnsmasq: SIGHUP).  A server that cannot be told is a warning
 * in log, not a failure.  0, or -1 with a message in err and the files unchanged.
 */
int dhcp_host(const struct dhcp *d, const struct dhcp_host *h, bool add, struct log *log, char *err,
	      size_t errlen);

/* The server serves the subnet already (as dhcp_serve_subnet would make it): nothing to add. */
bool dhcp_subnet_served(const struct dhcp *d);

/*
 * network-nat: make the server serve 10.0.0.0/8 (ISC: the subnet declaration, added when no
 * declaration of that subnet exists; taken away: d->subnet when set; dnsmasq: dnsmasq_conf written
 * with the range and the hosts file), or take that away, then restart the server.  *changed says
 * whether a file was changed: stop takes away only what start added.  0 or -1 (err).
 */
int dhcp_serve_subnet(const struct dhcp *d, bool add, bool *changed, struct log *log, char *err,
		      size_t errlen);

#endif
