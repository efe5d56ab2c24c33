/* The DHCP servers of NAT mode: ISC dhcpd and dnsmasq, their files edited atomically. */
#include "dhcp.h"
#include "proc.h"
#include "signals.h"
#include "dhcpedit.h"
#include "lock.h"
#include "statefile.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DHCP_LOCK      "vif-nat-dhcp"
#define FILE_MAX_BYTES (16u << 20)
/* With the lock waits (XEN_LOCK_TIMEOUT, 20 s in all), well within libxl's 40 s. */
#define INIT_WAIT_SECS 8

static const char *const isc_confs[] = {"/etc/dhcp/dhcpd.conf", "/etc/dhcp3/dhcpd.conf",
					"/etc/dhcpd.conf", NULL};
static const char *const isc_defaults[] = {
    "/etc/default/isc-dhcp-server", "/etc/sysconfig/dhcpd",	 "/etc/defaults/dhcp",
    "/etc/default/dhcp-server",	    "/etc/default/dhcp3-server", NULL};
static const char *const isc_inits[] = {"/etc/init.d/isc-dhcp-server", "/etc/init.d/dhcp-server",
					"/etc/init.d/dhcp3-server",    "/etc/init.d/dhcp",
					"/etc/init.d/dhcpd",	       NULL};

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

const char *dhcp_kind_name(enum dhcp_kind k)
{
	return k == DHCP_ISC ? "yes" : k == DHCP_DNSMASQ ? "dnsmasq" : "no";
}

static const char *first_file(const char *const list[], bool executable)
{
	for (size_t i = 0; list[i]; i++) {
		struct stat st;
		if (stat(list[i], &st) == 0 && S_ISREG(st.st_mode) &&
		    (!executable || (st.st_mode & 0111)))
			return list[i];
	}
	return NULL;
}

/* A path parameter: absolute, printable, not too long. */
static int path_param(const struct params *p, const char *key, const char *fallback, char *out,
		      char *err, size_t errlen)
{
	const char *v = params_get(p, key);
	if (!v || !*v)
		v = fallback;
	out[0] = '\0';
	if (!v)
		return 0;
	bool ok = v[0] == '/' && strlen(v) < PATH_MAX;
	for (const char *c = v; ok && *c; c++)
		ok = *c > ' ' && *c < 0x7f;
	if (!ok) {
		params_invalid(err, errlen, key, v, "an absolute path without blanks");
		return -1;
	}
	snprintf(out, PATH_MAX, "%s", v);
	return 0;
}

/* A program this root process will run: root's, and nobody else may change it. */
static int check_program(const char *key, const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return fail(err, errlen, "%s %s: %s", key, path, strerror(errno));
	if (!S_ISREG(st.st_mode) || !(st.st_mode & 0100))
		return fail(err, errlen, "%s %s: not an executable file", key, path);
	if (st.st_uid != 0 || (st.st_mode & 022))
		return fail(err, errlen,
			    "%s %s: refusing to run it: it must be owned by root and writable by "
			    "nobody else",
			    key, path);
	return 0;
}

static int check_file(const char *key, const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return fail(err, errlen, "%s %s: %s", key, path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(err, errlen, "%s %s: not a regular file", key, path);
	return 0;
}

int dhcp_check_files(const struct dhcp *d, char *err, size_t errlen)
{
	if (d->kind != DHCP_ISC)
		return 0;
	if (check_file("dhcpd_conf", d->conf, err, errlen) < 0)
		return -1;
	return d->defaults[0] ? check_file("dhcpd_defaults", d->defaults, err, errlen) : 0;
}

static const char *const path_keys[] = {
    "dhcpd_conf",  "dhcpd_defaults", "dhcpd_init",   "dnsmasq_hosts",
    "dnsmasq_pid", "dnsmasq_conf",   "dnsmasq_init", NULL};

int dhcp_check(const struct params *p, char *err, size_t errlen)
{
	const char *kind = params_get(p, "dhcp");
	char path[PATH_MAX];
	if (kind && *kind && strcmp(kind, "no") && strcmp(kind, "yes") && strcmp(kind, "dnsmasq")) {
		params_invalid(err, errlen, "dhcp", kind, "no, yes (ISC dhcpd) or dnsmasq");
		return -1;
	}
	for (size_t i = 0; path_keys[i]; i++)
		if (path_param(p, path_keys[i], NULL, path, err, errlen) < 0)
			return -1;
	return 0;
}

int dhcp_setup(struct dhcp *d, const struct params *p, bool network, char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	if (dhcp_check(p, err, errlen) < 0)
		return -1;
	const char *kind = params_get(p, "dhcp");
	struct stat st;
	if (!kind || !*kind)
		kind = stat("/etc/dhcpd.conf", &st) == 0 ? "yes" : "no";
	if (!strcmp(kind, "no"))
		return 0;
	d->kind = !strcmp(kind, "yes") ? DHCP_ISC : DHCP_DNSMASQ; /* dhcp_check judged it */

	if (d->kind == DHCP_ISC) {
		if (path_param(p, "dhcpd_conf", first_file(isc_confs, false), d->conf, err,
			       errlen) ||
		    path_param(p, "dhcpd_defaults", first_file(isc_defaults, false), d->defaults,
			       err, errlen) ||
		    path_param(p, "dhcpd_init", first_file(isc_inits, true), d->init, err, errlen))
			return -1;
		if (!d->conf[0])
			return fail(
			    err, errlen,
			    "dhcp=yes: no dhcpd.conf found in /etc/dhcp, /etc/dhcp3 or /etc; "
			    "install isc-dhcp-server or set dhcpd_conf=");
		if (!d->init[0])
			return fail(err, errlen,
				    "dhcp=yes: no init script for dhcpd found in /etc/init.d; set "
				    "dhcpd_init= to the program that restarts it");
		return check_program("dhcpd_init", d->init, err, errlen);
	}
	if (path_param(p, "dnsmasq_hosts", "/var/lib/xen/dnsmasq-hosts", d->hosts, err, errlen) ||
	    path_param(p, "dnsmasq_pid", "/run/dnsmasq/dnsmasq.pid", d->pidfile, err, errlen) ||
	    path_param(p, "dnsmasq_conf", "/etc/dnsmasq.d/xen-nat", d->dnsmasq_conf, err, errlen) ||
	    path_param(p, "dnsmasq_init", "/etc/init.d/dnsmasq", d->init, err, errlen))
		return -1;
	return network ? check_program("dnsmasq_init", d->init, err, errlen) : 0;
}

/* ---------------------------------------------------------------- atomic file edits */

typedef char *(*edit_fn)(const char *text, const void *arg, const char **why);

/* The whole file into a malloc'd string; *missing when it does not exist. */
static char *read_all(const char *path, bool *missing, int *errnum)
{
	*missing = false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*missing = errno == ENOENT;
		*errnum = errno;
		return NULL;
	}
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (!buf) {
			*errnum = ENOMEM;
			break;
		}
		if (len + 1 >= cap) {
			char *p = cap >= FILE_MAX_BYTES ? NULL : realloc(buf, cap * 2);
			if (!p) {
				free(buf);
				buf = NULL;
				*errnum = cap >= FILE_MAX_BYTES ? EFBIG : ENOMEM;
				break;
			}
			buf = p;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*errnum = errno;
			free(buf);
			buf = NULL;
			break;
		}
		if (n == 0) {
			buf[len] = '\0';
			/* A NUL byte would end the text early and drop the rest of the file. */
			if (memchr(buf, '\0', len)) {
				free(buf);
				buf = NULL;
				*errnum = EILSEQ;
			}
			break;
		}
		len += (size_t)n;
	}
	close(fd);
	return buf;
}

/* Replace path's content with text atomically (file_replace), saying in err what failed. */
static int replace_file(const char *path, const char *text, const struct stat *orig, char *err,
			size_t errlen)
{
	const char *stage;
	int r = file_replace(path, text, strlen(text), orig, &stage);
	if (r < 0)
		return fail(err, errlen, "cannot %s the new %s (%s): left unchanged", stage, path,
			    strerror(-r));
	return 0;
}

/* One file's edit, read and made but not yet written, so that two files change together. */
struct file_edit {
	char real[PATH_MAX]; /* the file, symbolic links resolved */
	char *old;	     /* its content, NULL when it does not exist */
	char *new;	     /* the content wanted */
	struct stat st;	     /* its owner and mode, when it exists */
	bool written;
};

static void edit_free(struct file_edit *e)
{
	free(e->old);
	free(e->new);
	e->old = e->new = NULL;
}

/*
 * Read the file at path (through a symbolic link to its target) and apply fn.  A missing
 * file is an error unless create.  Nothing is written.
 */
static int edit_prepare(struct file_edit *e, const char *path, bool create, edit_fn fn,
			const void *arg, char *err, size_t errlen)
{
	bool missing;
	int errnum = 0;

	memset(e, 0, sizeof(*e));
	if (!realpath(path, e->real)) {
		if (errno != ENOENT || !create)
			return fail(err, errlen, "cannot open %s: %s", path, strerror(errno));
		snprintf(e->real, sizeof(e->real), "%s", path);
	}
	e->old = read_all(e->real, &missing, &errnum);
	if (!e->old && !(missing && create))
		return fail(err, errlen, "cannot read %s: %s", e->real, strerror(errnum));
	if (e->old && stat(e->real, &e->st) < 0) {
		edit_free(e);
		return fail(err, errlen, "cannot read %s: %s", e->real, strerror(errno));
	}
	const char *why = NULL;
	e->new = fn(e->old ? e->old : "", arg, &why);
	if (!e->new) {
		edit_free(e);
		return fail(err, errlen, "cannot edit %s: %s", e->real, why ? why : "failed");
	}
	return 0;
}

/* Write the new content when it differs.  *changed (when not NULL) says whether it did. */
static int edit_commit(struct file_edit *e, bool *changed, char *err, size_t errlen)
{
	if (changed)
		*changed = false;
	if (e->old && !strcmp(e->old, e->new)) {
		/* Nothing to write; but what a killed edit left beside the file goes. */
		file_forget_temp(e->real);
		return 0;
	}
	if (replace_file(e->real, e->new, e->old ? &e->st : NULL, err, errlen) < 0)
		return -1;
	e->written = true;
	if (changed)
		*changed = true;
	return 0;
}

/* Put back what edit_commit replaced: the old content with its owner and mode, or no file. */
static int edit_revert(struct file_edit *e, char *err, size_t errlen)
{
	if (!e->written)
		return 0;
	if (!e->old)
		return unlink(e->real) < 0 && errno != ENOENT
			   ? fail(err, errlen, "cannot remove %s: %s", e->real, strerror(errno))
			   : 0;
	return replace_file(e->real, e->old, &e->st, err, errlen);
}

static int edit_file(const char *path, bool create, edit_fn fn, const void *arg, bool *changed,
		     char *err, size_t errlen)
{
	struct file_edit e;
	if (edit_prepare(&e, path, create, fn, arg, err, errlen) < 0)
		return -1;
	int r = edit_commit(&e, changed, err, errlen);
	edit_free(&e);
	return r;
}

/* ---------------------------------------------------------------- servers */

/* Run the init script with one argument; its failure is the server's, reported in log. */
static void run_init(const struct dhcp *d, const char *action, struct log *log)
{
	pid_t pid = fork();
	if (pid < 0) {
		log_msg(log, LOG_WARNING, "cannot run %s %s: %s", d->init, action, strerror(errno));
		return;
	}
	if (pid == 0) {
		char *const argv[] = {(char *)d->init, (char *)action, NULL};
		char *const envp[] = {
		    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:"
		    "/bin",
		    NULL};
		int null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, 0);
			/* Its messages go where ours do (the log file when not a terminal). */
			if (null > 2)
				close(null);
		}
		/*
		 * The server it starts lives on: it must keep none of the descriptors this
		 * program got from its caller (its own are all close-on-exec).
		 */
		close_range(3, ~0U, 0);
		execve(d->init, argv, envp);
		_exit(127);
	}
	/* Bounded: a hotplug script must not hang on a server that does not come back. */
	int status = 0;
	for (int i = 0; i < INIT_WAIT_SECS * 100; i++) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid) {
			if (!WIFEXITED(status) || WEXITSTATUS(status))
				log_msg(log, LOG_WARNING,
					"%s %s failed (exit status %d): check the DHCP server's "
					"log",
					d->init, action,
					WIFEXITED(status) ? WEXITSTATUS(status) : -1);
			return;
		}
		if (w < 0 && errno != EINTR)
			return;
		/* Interrupted: the change is undone; the server is left to its own end. */
		if (sig_caught()) {
			log_msg(log, LOG_WARNING,
				"%s %s still running when %s came; not waiting for it", d->init,
				action, sig_caught_name());
			return;
		}
		nanosleep(&(struct timespec){0, 10000000}, NULL);
	}
	log_msg(log, LOG_WARNING, "%s %s is still running after %d s; not waiting for it", d->init,
		action, INIT_WAIT_SECS);
}

/* Tell a running dnsmasq to read its hosts file again. */
static void dnsmasq_reread(const struct dhcp *d, struct log *log)
{
	char buf[32];
	int fd = open(d->pidfile, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	long pid = 0;
	if (n > 0) {
		buf[n] = '\0';
		char *end;
		pid = strtol(buf, &end, 10);
		if (end == buf || (*end && *end != '\n') || pid <= 1)
			pid = 0;
	}
	/* The pid file may be stale: signal only a process that is dnsmasq. */
	bool running = false;
	if (pid > 0)
		running = proc_is(pid, "dnsmasq");
	if (!running) {
		log_msg(log, LOG_WARNING,
			"dnsmasq is not running (pid file %s): the entry in %s takes effect when "
			"it starts",
			d->pidfile, d->hosts);
		return;
	}
	if (kill((pid_t)pid, SIGHUP) < 0)
		log_msg(log, LOG_WARNING, "cannot signal dnsmasq (pid %ld): %s", pid,
			strerror(errno));
}

/* ---------------------------------------------------------------- entries */

struct host_edit {
	const struct dhcp_host *h;
	const char *line; /* NULL: remove */
};

static char *edit_isc_host(const char *text, const void *arg, const char **why)
{
	const struct host_edit *e = arg;
	return dhcpedit_isc_host(text, e->h->name, e->line, why);
}

static char *edit_iface(const char *text, const void *arg, const char **why)
{
	const struct host_edit *e = arg;
	return dhcpedit_iface(text, e->h->dev, e->line != NULL, why);
}

static char *edit_dnsmasq_host(const char *text, const void *arg, const char **why)
{
	const struct host_edit *e = arg;
	return dhcpedit_dnsmasq_host(text, e->h->mac, e->h->name, e->line, why);
}

static int host_files(const struct dhcp *d, const struct dhcp_host *h, bool add, char *err,
		      size_t errlen)
{
	char line[512];
	struct host_edit e = {h, add ? line : NULL};

	if (d->kind == DHCP_DNSMASQ) {
		snprintf(line, sizeof(line), "%s,%s,%s", h->mac, h->ip, h->name);
		return edit_file(d->hosts, true, edit_dnsmasq_host, &e, NULL, err, errlen);
	}
	snprintf(line, sizeof(line),
		 "host %s { hardware ethernet %s; fixed-address %s; option routers %s; option "
		 "host-name \"%s\"; }",
		 h->name, h->mac, h->ip, h->router, h->name);
	/* Both files or neither: both edits are made before either is written. */
	struct file_edit conf, defaults = {.written = false};
	if (edit_prepare(&conf, d->conf, false, edit_isc_host, &e, err, errlen) < 0)
		return -1;
	int r = 0;
	if (d->defaults[0])
		r = edit_prepare(&defaults, d->defaults, false, edit_iface, &e, err, errlen);
	if (r == 0 && (r = edit_commit(&conf, NULL, err, errlen)) == 0 && d->defaults[0] &&
	    (r = edit_commit(&defaults, NULL, err, errlen)) < 0) {
		char why[512];
		if (edit_revert(&conf, why, sizeof(why)) < 0) {
			size_t n = strlen(err);
			snprintf(err + n, errlen - n, "; and %s is changed: %s", conf.real, why);
		}
	}
	edit_free(&conf);
	edit_free(&defaults);
	return r;
}

int dhcp_host(const struct dhcp *d, const struct dhcp_host *h, bool add, struct log *log, char *err,
	      size_t errlen)
{
	struct lock lk = {.fd = -1};
	int r = lock_take(&lk, DHCP_LOCK);
	if (r < 0) {
		lock_strerror(&lk, r, err, errlen);
		return -1;
	}
	r = host_files(d, h, add, err, errlen);
	/* Told under the lock, so that a restart never reads another vif's half-made edit. */
	if (r == 0 && d->kind == DHCP_ISC)
		run_init(d, "restart", log);
	else if (r == 0)
		dnsmasq_reread(d, log);
	lock_release(&lk);
	return r;
}

/* A line, outside its comment, declares the subnet 10.0.0.0/8. */
static bool declares_nat_subnet(const char *text)
{
	static const char decl[] = DHCP_NAT_DECL;
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		const char *end = nl ? nl : p + strlen(p);
		const char *hash = memchr(p, '#', (size_t)(end - p));
		const char *stop = hash ? hash : end;
		for (const char *q = p; stop - q >= (ptrdiff_t)sizeof(decl) - 1; q++) {
			const char *after = q + sizeof(decl) - 1;
			if (!memcmp(q, decl, sizeof(decl) - 1) &&
			    (q == p || q[-1] == ' ' || q[-1] == '\t') &&
			    (after == stop || *after == ' ' || *after == '\t' || *after == '{'))
				return true;
		}
		p = nl ? nl + 1 : end;
	}
	return false;
}

struct subnet_edit {
	const struct dhcp *d;
	bool add;
};

static char *edit_subnet(const char *text, const void *arg, const char **why)
{
	const struct subnet_edit *e = arg;
	/* An administrator's own declaration of the subnet serves: never a second one. */
	if (e->add && declares_nat_subnet(text)) {
		char *same = strdup(text);
		if (!same)
			*why = "out of memory";
		return same;
	}
	const char *line = !e->add && e->d->subnet ? e->d->subnet : DHCP_NAT_SUBNET;
	return dhcpedit_line(text, line, e->add, why);
}

/* dnsmasq_conf is this program's own file: written whole, removed whole. */
/* What network-nat writes for dnsmasq. */
static void dnsmasq_text(const struct dhcp *d, char *text, size_t len)
{
	snprintf(text, len,
		 "# Written by network-nat (dhcp=dnsmasq): the guests of vif-nat get their\n"
		 "# addresses from the hosts file vif-nat keeps.  Removed by network-nat stop.\n"
		 "%s\ndhcp-hostsfile=%s\n",
		 DHCP_NAT_RANGE, d->hosts);
}

bool dhcp_subnet_served(const struct dhcp *d)
{
	char text[PATH_MAX + 256];
	bool missing;
	int errnum;
	char *now = read_all(d->kind == DHCP_ISC ? d->conf : d->dnsmasq_conf, &missing, &errnum);
	if (!now)
		return false;
	dnsmasq_text(d, text, sizeof(text));
	bool served = d->kind == DHCP_ISC ? declares_nat_subnet(now) : !strcmp(now, text);
	free(now);
	return served;
}

static int dnsmasq_conf(const struct dhcp *d, bool add, bool *changed, char *err, size_t errlen)
{
	char text[PATH_MAX + 256];
	dnsmasq_text(d, text, sizeof(text));
	*changed = false;
	if (!add) {
		bool missing;
		int errnum;
		file_forget_temp(d->dnsmasq_conf); /* a killed start's */
		char *old = read_all(d->dnsmasq_conf, &missing, &errnum);
		if (!old)
			return missing ? 0
				       : fail(err, errlen, "cannot read %s: %s", d->dnsmasq_conf,
					      strerror(errnum));
		bool ours = !strncmp(old, "# Written by network-nat", 24);
		free(old);
		if (!ours)
			return 0;
		if (unlink(d->dnsmasq_conf) < 0)
			return fail(err, errlen, "cannot remove %s: %s", d->dnsmasq_conf,
				    strerror(errno));
		*changed = true;
		return 0;
	}
	/* The hosts file must exist for dnsmasq to start. */
	int fd = open(d->hosts, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return fail(err, errlen, "cannot create %s: %s", d->hosts, strerror(errno));
	close(fd);
	bool missing;
	int errnum;
	char *old = read_all(d->dnsmasq_conf, &missing, &errnum);
	if (old && strcmp(old, text) && strncmp(old, "# Written by network-nat", 24)) {
		free(old);
		return fail(err, errlen,
			    "%s exists and was not written by network-nat: remove it or set "
			    "dnsmasq_conf= to another file",
			    d->dnsmasq_conf);
	}
	bool same = old && !strcmp(old, text);
	free(old);
	if (same)
		return 0;
	if (replace_file(d->dnsmasq_conf, text, NULL, err, errlen) < 0)
		return -1;
	*changed = true;
	return 0;
}

int dhcp_serve_subnet(const struct dhcp *d, bool add, bool *changed, struct log *log, char *err,
		      size_t errlen)
{
	struct lock lk = {.fd = -1};
	int r = lock_take(&lk, DHCP_LOCK);
	if (r < 0) {
		lock_strerror(&lk, r, err, errlen);
		return -1;
	}
	struct subnet_edit e = {d, add};
	if (d->kind == DHCP_ISC)
		r = edit_file(d->conf, false, edit_subnet, &e, changed, err, errlen);
	else
		r = dnsmasq_conf(d, add, changed, err, errlen);
	if (r == 0)
		run_init(d, "restart", log);
	lock_release(&lk);
	return r;
}
