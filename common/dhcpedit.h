/* Pure text edits of the DHCP servers' files (dhcpd.conf, its defaults file, dnsmasq's hosts). */
#ifndef XNH_DHCPEDIT_H
#define XNH_DHCPEDIT_H

#include <stdbool.h>

/*
 * Each takes a whole file and returns the new text (malloc'd; equal to the input when nothing
 * changes), or NULL with *why saying what is wrong ("out of memory", or why the file cannot be
 * edited safely).  Lines other than those named are kept byte for byte.  A line that is added
 * must be one non-empty line; it ends with the newline the file's first line uses (CRLF or LF),
 * after a newline the file may lack.  A line already present exactly (trailing blanks aside)
 * stays where it is, so that adding twice leaves the file as adding once did.
 */

/*
 * dhcpd.conf: remove every one-line declaration `host <name> { ... }` (name bare or quoted, a
 * comment may follow), then append line when not NULL.  A declaration of the same host spread
 * over several lines, inside another block, or sharing its line with other statements is the
 * administrator's: the edit is refused rather than duplicate or half-remove it.  "dom1" never
 * matches "dom10" or "dom1-2".
 */
char *dhcpedit_isc_host(const char *text, const char *name, const char *line, const char **why);

/*
 * The DHCP server's defaults file (a shell snippet): add dev to (or remove it from) the
 * interface list, the first of INTERFACESv4=, INTERFACES=, DHCPD_INTERFACE=, DHCPDARGS= present
 * (removal: from all of them), as a whole word.  With none present, adding appends
 * INTERFACESv4="<dev>".  An edited value is rewritten double-quoted, its comment kept.  Refused:
 * a dev other than letters, digits and ._-+@%=, ; a list that needs changing but uses shell
 * expansions, escapes or unusual quoting; an unclosed quote.
 */
char *dhcpedit_iface(const char *text, const char *dev, bool add, const char **why);

/*
 * dnsmasq dhcp-hostsfile: remove every entry with a field equal to this MAC address or host name
 * (case-insensitive, as dnsmasq compares them; an empty mac or name matches nothing), then append
 * line when not NULL.  Comments and blank lines are kept.
 */
char *dhcpedit_dnsmasq_host(const char *text, const char *mac, const char *name, const char *line,
			    const char **why);

/* Any file: make line present exactly once (add) or absent; lines compare without trailing space.
 */
char *dhcpedit_line(const char *text, const char *line, bool add, const char **why);

#endif
