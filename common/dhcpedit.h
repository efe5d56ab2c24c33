/* Pure text edits of the DHCP servers' files (dhcpd.conf, its defaults file, dnsmasq's hosts). */
#ifndef XNH_DHCPEDIT_H
#define XNH_DHCPEDIT_H

#include <stdbool.h>

/*
 * Each takes a whole file and returns the new text (malloc'd; equal to the input when nothing
 * changes), or NULL with *why saying what is wrong ("out of memory", or why the file cannot be
 * edited safely).  Lines other than those named are kept byte for byte.
 */

/*
 * dhcpd.conf: remove every one-line declaration `host <name> { ... }`, then append line when
 * not NULL.  A declaration of the same host spread over several lines is the administrator's:
 * the edit is refused rather than duplicate or half-remove it.
 */
char *dhcpedit_isc_host(const char *text, const char *name, const char *line, const char **why);

/*
 * The DHCP server's defaults file: add dev to (or remove it from) the interface list, the
 * first of INTERFACESv4=, INTERFACES=, DHCPD_INTERFACE=, DHCPDARGS= present (removal: from
 * all of them).  With none present, adding appends INTERFACESv4="<dev>".
 */
char *dhcpedit_iface(const char *text, const char *dev, bool add, const char **why);

/*
 * dnsmasq dhcp-hostsfile: remove every entry for this MAC address or host name, then append
 * line when not NULL.
 */
char *dhcpedit_dnsmasq_host(const char *text, const char *mac, const char *name, const char *line,
			    const char **why);

/* Any file: make line present exactly once (add) or absent; lines compare without trailing space.
 */
char *dhcpedit_line(const char *text, const char *line, bool add, const char **why);

#endif
