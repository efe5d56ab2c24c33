/* bench: times sequences of commands, several cases interleaved, and prints medians and ratios. */

/*
 * Usage:
 *   bench [-n ROUNDS] [-w WARMUP] [-t SECONDS] [--reap] [--samples] [--strict] [--ratio SPEC]...
 *         CASE...
 *
 *   CASE  := --case NAME [-n RUNS] [-r REPS] COMMAND [--then COMMAND | --untimed COMMAND]...
 *   COMMAND := [--storm LIST] [NAME=VALUE]... PROGRAM [ARG]...
 *   LIST  := ITEM[,ITEM]...   ITEM := N | A-B   (non-negative integers, A <= B)
 *   SPEC  := A/B             print median(A) / median(B)
 *          | A/B>=X | A/B<=X  the same, plus PASS or MISS against the target X
 *
 * One "cycle" of a case runs its commands one after the other (fork, execve, waitpid);
 * its time is measured with CLOCK_MONOTONIC from before the first fork to after the last
 * waitpid, less the time of its --untimed commands.  The cases are interleaved, so that
 * drift of the machine (frequency, caches, other load) hits all of them alike: round 1 runs
 * one cycle of every case, then round 2, and so on.  -n sets the number of rounds (default
 * 200); a case with its own smaller -n RUNS has its cycles spread evenly over the rounds.
 * WARMUP rounds (default 3) run first and are not counted.
 *
 * An --untimed command runs with the clock stopped, after the command before it: it checks
 * that the timed commands really did their work (a benchmark must not time a command that
 * quietly did nothing), or puts back the state the next cycle starts from.  It must exit 0
 * like any other, so a failed check stops the benchmark.
 *
 * Each command gets the driver's own environment with its NAME=VALUE words added or
 * replaced (run the driver under `env -i ...` for a clean one), stdin from /dev/null, and
 * stdout and stderr captured in memory, so that the commands see no terminal (as under
 * udev).  PROGRAM without a '/' is looked up in PATH once, before timing starts.  The words
 * --case, --then and --untimed cannot be arguments of a command, nor --storm its first word.
 *
 * A --storm command is started once per item of LIST, all at the same instant, as udev or
 * libxl start the hotplug scripts of guests that boot together: each "{}" in its words is
 * replaced by the item, every process is forked and parked at a gate (a pipe) before the
 * clock starts, the gate opens (the pipe's write end is closed: all read EOF and execve at
 * once), and the command's time runs from the opening to the exit of the last of them.
 * Every one must exit 0.
 *
 * --reap makes the driver a child subreaper (prctl PR_SET_CHILD_SUBREAPER): processes that
 * the commands leave behind (a child finishing a cost after its parent returned) are
 * reparented to the driver instead of init, and a cycle ends only when every process it
 * started, and every descendant of those, has ended; the driver waits for them, the clock
 * running, at the end of the cycle and before each --untimed command.  Each case then gets
 * two result lines: NAME, the time until all had ended ("all done"), and NAME:ret, the time
 * until the last command returned, which is what the caller of each command saw; a --ratio
 * may name either.
 *
 * -r REPS makes one cycle of a case REPS repetitions of its commands back to back, each
 * starting as soon as the previous one's last command returned, so that what a repetition
 * left behind competes with the next (with --reap, the driver waits for leftovers only after
 * the last repetition, adding that wait to the last repetition's time, and before --untimed
 * commands).  Each repetition is one sample; RUNS and ROUNDS still count cycles.
 *
 * Every command must exit 0: otherwise (or after -t SECONDS, default 60, for one cycle)
 * the benchmark stops, names the case, round and command, prints what the cycle wrote,
 * and exits 1.  Results: one line per case with the number of counted cycles, median, min,
 * p90 and max in microseconds; then one line per --ratio.  --samples prints first every
 * counted sample, in the order measured, as "sample NAME MICROSECONDS" (with --reap also
 * NAME:ret), for a caller that pools the samples of several runs.  A missed target is reported as
 * MISS but only makes the exit status non-zero (3) with --strict: machines are noisy.
 * Usage errors exit 2.  SIGINT, SIGTERM or SIGHUP kill the driver's children first (with
 * --reap also those it adopted), so that none outlives an interrupted benchmark.
 *
 * The options come before the first --case.  Example (one `ip link` call against two bare
 * process starts):
 *   bench -n 100 --ratio 'ip/floor<=2' --case floor /bin/true --then /bin/true \
 *         --case ip -n 50 LANG=C ip link show lo
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct command {
	char *path;  /* resolved program path */
	char **argv; /* points into the driver's argv, NULL-terminated copy */
	char **envp; /* environ plus this command's NAME=VALUE words */
	bool untimed;
	/* --storm: one process per item, each with its own words ("{}" replaced) */
	size_t n_storm; /* 0: an ordinary command */
	char ***storm_argv;
	char ***storm_envp;
};

struct bench_case {
	const char *name;
	long runs; /* cycles to count; 0 = one per round */
	long reps; /* repetitions back to back per cycle (-r) */
	struct command *cmds;
	size_t n_cmds;
	double *samples; /* microseconds, one per counted repetition (with --reap: all done) */
	double *ret;	 /* with --reap: the same repetitions until the last command returned */
	size_t n_samples;
};

struct ratio {
	const char *spec;
	const char *num, *den; /* case names (copies) */
	char op;	       /* 0, '>' (>=) or '<' (<=) */
	double target;
};

struct bench {
	long rounds, warmup, timeout;
	bool strict, reap, print_samples;
	struct bench_case *cases;
	size_t n_cases;
	struct ratio *ratios;
	size_t n_ratios;
	int out_fd; /* memory file receiving the commands' stdout and stderr */
	int null_fd;
};

static volatile sig_atomic_t timed_out;

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
}

/*
 * SIGINT, SIGTERM, SIGHUP: kill the children (with --reap also those adopted) so that none
 * outlives the benchmark, then end as the signal would.  Async-signal-safe calls only.
 */
static void on_stop(int sig)
{
	char path[64] = "/proc/self/task/", buf[4096];
	size_t len = strlen(path), n = 0;
	char digits[12];
	for (int p = (int)getpid(); n == 0 || p > 0; p /= 10)
		digits[n++] = (char)('0' + p % 10);
	while (n > 0)
		path[len++] = digits[--n];
	memcpy(path + len, "/children", sizeof("/children"));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t got = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	for (ssize_t i = 0; i < got;) {
		pid_t pid = 0;
		while (i < got && buf[i] >= '0' && buf[i] <= '9')
			pid = pid * 10 + (buf[i++] - '0');
		if (pid > 0)
			kill(pid, SIGKILL);
		while (i < got && (buf[i] < '0' || buf[i] > '9'))
			i++;
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench [-n ROUNDS] [-w WARMUP] [-t SECONDS] [--reap] [--samples] [--strict] "
		"[--ratio A/B[>=X|<=X]]...\n"
		"             --case NAME [-n RUNS] [-r REPS] [--storm LIST] [VAR=VALUE]... "
		"PROGRAM [ARG]...\n"
		"                    [--then ...|--untimed ...]...\n"
		"             [--case ...]...\n"
		"(see the comment at the top of tests/bench/bench.c)\n");
	exit(2);
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p) {
		perror("bench: calloc");
		exit(2);
	}
	return p;
}

static void *xreallocarray(void *p, size_t n, size_t size)
{
	p = reallocarray(p, n, size);
	if (!p) {
		perror("bench: realloc");
		exit(2);
	}
	return p;
}

static long parse_long(const char *s, const char *what, long min)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min) {
		fprintf(stderr, "bench: %s must be an integer >= %ld, not '%s'\n", what, min, s);
		exit(2);
	}
	return v;
}

static bool is_assignment(const char *w)
{
	const char *eq = strchr(w, '=');
	if (!eq || eq == w)
		return false;
	for (const char *c = w; c < eq; c++)
		if (!(*c == '_' || (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
		      (c > w && *c >= '0' && *c <= '9')))
			return false;
	return true;
}

/* Resolve once, before timing, so that every cycle execs a fixed path. */
static char *resolve_program(const char *prog)
{
	if (strchr(prog, '/'))
		return strdup(prog);
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t len = strcspn(path, ":");
		char buf[PATH_MAX];
		if (len > 0 && len + strlen(prog) + 2 <= sizeof(buf)) {
			snprintf(buf, sizeof(buf), "%.*s/%s", (int)len, path, prog);
			if (access(buf, X_OK) == 0)
				return strdup(buf);
		}
		path += len;
		if (*path == ':')
			path++;
	}
	fprintf(stderr, "bench: program '%s' not found in PATH\n", prog);
	exit(2);
}

/* environ with each NAME=VALUE of words[0..n) added, replacing an inherited NAME. */
static char **build_env(char **words, size_t n)
{
	size_t n_env = 0;
	while (environ[n_env])
		n_env++;
	char **envp = xcalloc(n_env + n + 1, sizeof(*envp));
	size_t k = 0;
	for (size_t i = 0; i < n_env; i++) {
		size_t name_len = strcspn(environ[i], "=");
		bool replaced = false;
		for (size_t j = 0; j < n && !replaced; j++)
			replaced = strncmp(words[j], environ[i], name_len + 1) == 0;
		if (!replaced)
			envp[k++] = environ[i];
	}
	for (size_t j = 0; j < n; j++) {
		/* a later assignment of the same name wins, as in the shell */
		bool later = false;
		size_t name_len = strcspn(words[j], "=");
		for (size_t l = j + 1; l < n && !later; l++)
			later = strncmp(words[l], words[j], name_len + 1) == 0;
		if (!later)
			envp[k++] = words[j];
	}
	envp[k] = NULL;
	return envp;
}

static bool ends_command(const char *word)
{
	return !strcmp(word, "--then") || !strcmp(word, "--untimed") || !strcmp(word, "--case");
}

/* word with every "{}" replaced by item (a new string). */
static char *substitute(const char *word, const char *item)
{
	size_t n = 0, ilen = strlen(item);
	for (const char *w = strstr(word, "{}"); w; w = strstr(w + 2, "{}"))
		n++;
	char *out = xcalloc(strlen(word) + n * ilen + 1, 1), *o = out;
	for (const char *w = word;;) {
		const char *hit = strstr(w, "{}");
		size_t len = hit ? (size_t)(hit - w) : strlen(w);
		memcpy(o, w, len);
		o += len;
		if (!hit)
			break;
		memcpy(o, item, ilen);
		o += ilen;
		w = hit + 2;
	}
	*o = '\0';
	return out;
}

/* The items of a --storm LIST ("2-101", "1,5,7-9"), as decimal strings. */
static size_t parse_storm_list(const char *list, const char ***items)
{
	size_t n = 0;
	const char *p = list;
	*items = NULL;
	for (;;) {
		char *end;
		errno = 0;
		long a = strtol(p, &end, 10), b = a;
		if (errno || end == p || a < 0)
			goto bad;
		if (*end == '-') {
			p = end + 1;
			b = strtol(p, &end, 10);
			if (errno || end == p || b < a)
				goto bad;
		}
		if (b - a >= 100000 || n + (size_t)(b - a) >= 100000)
			goto bad;
		for (long v = a; v <= b; v++) {
			char buf[24];
			snprintf(buf, sizeof(buf), "%ld", v);
			*items = xreallocarray(*items, n + 1, sizeof(**items));
			(*items)[n++] = strdup(buf);
		}
		if (*end == '\0')
			return n;
		if (*end != ',')
			goto bad;
		p = end + 1;
	}
bad:
	fprintf(stderr, "bench: bad --storm list '%s' (want N, A-B or a comma list of those)\n",
		list);
	exit(2);
}

/* One command from argv[*i] up to the next --then/--untimed/--case or the end. */
static struct command parse_command(int argc, char **argv, int *i, bool untimed)
{
	struct command c;
	const char **items = NULL;
	memset(&c, 0, sizeof(c));
	if (*i + 1 < argc && !strcmp(argv[*i], "--storm")) {
		c.n_storm = parse_storm_list(argv[*i + 1], &items);
		*i += 2;
	}
	int start = *i, end = *i;
	while (end < argc && !ends_command(argv[end]))
		end++;
	int prog = start;
	while (prog < end && is_assignment(argv[prog]))
		prog++;
	if (prog == end) {
		fprintf(stderr, "bench: a command has no program (at '%s')\n",
			start < argc ? argv[start] : "end of arguments");
		exit(2);
	}
	if (c.n_storm && strstr(argv[prog], "{}")) {
		fprintf(stderr, "bench: the program of a --storm command cannot vary ('%s')\n",
			argv[prog]);
		exit(2);
	}
	c.untimed = untimed;
	c.path = resolve_program(argv[prog]);
	c.envp = build_env(argv + start, (size_t)(prog - start));
	c.argv = xcalloc((size_t)(end - prog + 1), sizeof(*c.argv));
	for (int k = prog; k < end; k++)
		c.argv[k - prog] = argv[k];
	if (c.n_storm) {
		/* Every process's words made now, so that nothing but fork and execve is timed. */
		size_t n_words = (size_t)(end - start);
		c.storm_argv = xcalloc(c.n_storm, sizeof(*c.storm_argv));
		c.storm_envp = xcalloc(c.n_storm, sizeof(*c.storm_envp));
		for (size_t k = 0; k < c.n_storm; k++) {
			char **words = xcalloc(n_words + 1, sizeof(*words));
			for (size_t w = 0; w < n_words; w++)
				words[w] = substitute(argv[start + (int)w], items[k]);
			c.storm_envp[k] = build_env(words, (size_t)(prog - start));
			c.storm_argv[k] = words + (prog - start);
		}
	}
	*i = end;
	return c;
}

static void parse_ratio(struct ratio *r, const char *spec)
{
	char *s = strdup(spec);
	char *slash = strchr(s, '/');
	char *op = strpbrk(s, "<>");
	r->spec = spec;
	r->op = 0;
	if (op) {
		if (op[1] != '=' || (op[0] != '<' && op[0] != '>'))
			goto bad;
		r->op = op[0];
		char *end;
		r->target = strtod(op + 2, &end);
		if (end == op + 2 || *end || !(r->target > 0))
			goto bad;
		*op = '\0';
	}
	if (!slash || slash == s || !slash[1] || (op && slash > op))
		goto bad;
	*slash = '\0';
	r->num = s;
	r->den = slash + 1;
	return;
bad:
	fprintf(stderr, "bench: bad --ratio '%s' (want A/B, A/B>=X or A/B<=X)\n", spec);
	exit(2);
}

/*
 * The sorted-or-not samples of NAME (a case, or with --reap NAME:ret), their count in *n; NULL
 * when there is no such case.
 */
static const double *find_samples(const struct bench *b, const char *name, size_t *n)
{
	size_t len = strcspn(name, ":");
	bool ret = name[len] != '\0';
	if (ret && (!b->reap || strcmp(name + len, ":ret")))
		return NULL;
	for (size_t k = 0; k < b->n_cases; k++)
		if (strlen(b->cases[k].name) == len && !strncmp(b->cases[k].name, name, len)) {
			if (n)
				*n = b->cases[k].n_samples;
			return ret ? b->cases[k].ret : b->cases[k].samples;
		}
	return NULL;
}

static void parse_args(struct bench *b, int argc, char **argv)
{
	int i = 1;
	b->rounds = 200;
	b->warmup = 3;
	b->timeout = 60;
	while (i < argc && strcmp(argv[i], "--case")) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			usage();
		if (!strcmp(a, "--strict") || !strcmp(a, "--reap") || !strcmp(a, "--samples")) {
			if (!strcmp(a, "--strict"))
				b->strict = true;
			else if (!strcmp(a, "--reap"))
				b->reap = true;
			else
				b->print_samples = true;
			i++;
			continue;
		}
		if (strcmp(a, "-n") && strcmp(a, "-w") && strcmp(a, "-t") && strcmp(a, "--ratio")) {
			fprintf(stderr, "bench: unknown option '%s'\n", a);
			usage();
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "bench: option '%s' needs a value\n", a);
			usage();
		}
		if (!strcmp(a, "-n"))
			b->rounds = parse_long(argv[i + 1], "-n ROUNDS", 1);
		else if (!strcmp(a, "-w"))
			b->warmup = parse_long(argv[i + 1], "-w WARMUP", 0);
		else if (!strcmp(a, "-t"))
			b->timeout = parse_long(argv[i + 1], "-t SECONDS", 1);
		else if (!strcmp(a, "--ratio")) {
			b->ratios = xreallocarray(b->ratios, b->n_ratios + 1, sizeof(*b->ratios));
			parse_ratio(&b->ratios[b->n_ratios++], argv[i + 1]);
		}
		i += 2;
	}
	while (i < argc) {
		/* argv[i] is "--case" */
		if (i + 1 >= argc)
			usage();
		b->cases = xreallocarray(b->cases, b->n_cases + 1, sizeof(*b->cases));
		struct bench_case *c = &b->cases[b->n_cases++];
		memset(c, 0, sizeof(*c));
		c->name = argv[i + 1];
		for (size_t k = 0; k + 1 < b->n_cases; k++)
			if (!strcmp(b->cases[k].name, c->name)) {
				fprintf(stderr, "bench: case '%s' given twice\n", c->name);
				exit(2);
			}
		if (strchr(c->name, ':')) {
			fprintf(stderr, "bench: a case name cannot contain ':' ('%s')\n", c->name);
			exit(2);
		}
		i += 2;
		c->reps = 1;
		while (i + 1 < argc && (!strcmp(argv[i], "-n") || !strcmp(argv[i], "-r"))) {
			if (!strcmp(argv[i], "-n"))
				c->runs = parse_long(argv[i + 1], "case -n RUNS", 1);
			else
				c->reps = parse_long(argv[i + 1], "case -r REPS", 1);
			i += 2;
		}
		/* The first command is timed: a cycle without one would measure nothing. */
		bool untimed = false;
		for (;;) {
			c->cmds = xreallocarray(c->cmds, c->n_cmds + 1, sizeof(*c->cmds));
			c->cmds[c->n_cmds++] = parse_command(argc, argv, &i, untimed);
			if (i < argc &&
			    (!strcmp(argv[i], "--then") || !strcmp(argv[i], "--untimed"))) {
				untimed = !strcmp(argv[i], "--untimed");
				i++;
				continue;
			}
			break;
		}
	}
	if (b->n_cases == 0) {
		fprintf(stderr, "bench: no --case given\n");
		usage();
	}
	for (size_t k = 0; k < b->n_cases; k++) {
		struct bench_case *c = &b->cases[k];
		if (c->runs == 0 || c->runs > b->rounds)
			c->runs = b->rounds;
		c->samples = xcalloc((size_t)(c->runs * c->reps), sizeof(*c->samples));
		c->ret = xcalloc((size_t)(c->runs * c->reps), sizeof(*c->ret));
	}
	for (size_t k = 0; k < b->n_ratios; k++) {
		const struct ratio *r = &b->ratios[k];
		const char *names[2] = {r->num, r->den};
		for (int n = 0; n < 2; n++) {
			if (!find_samples(b, names[n], NULL)) {
				fprintf(stderr, "bench: --ratio '%s' names no case '%s'\n", r->spec,
					names[n]);
				exit(2);
			}
		}
	}
}

static double elapsed_us(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e6 + (double)(b->tv_nsec - a->tv_nsec) / 1e3;
}

/* Copy what the failed cycle's commands wrote to our stderr, so the reason is visible. */
static void dump_output(int fd)
{
	char buf[4096];
	ssize_t n;
	off_t end = lseek(fd, 0, SEEK_CUR);
	if (end <= 0) {
		fprintf(stderr, "bench: (the commands wrote nothing)\n");
		return;
	}
	fprintf(stderr, "bench: output of the cycle's commands:\n");
	if (lseek(fd, 0, SEEK_SET) < 0)
		return;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write(STDERR_FILENO, buf, (size_t)n) < 0)
			break;
}

static void print_argv(FILE *f, char *const *argv)
{
	fprintf(f, "%s", argv[0]);
	for (char *const *a = argv + 1; *a; a++)
		fprintf(f, " %s", *a);
}

/* The end of a child: execve, or a message and exit 127.  Only async-signal-safe calls. */
static void exec_child(const struct bench *b, const char *path, char **argv, char **envp)
{
	if (dup2(b->null_fd, STDIN_FILENO) < 0 || dup2(b->out_fd, STDOUT_FILENO) < 0 ||
	    dup2(b->out_fd, STDERR_FILENO) < 0)
		_exit(126);
	execve(path, argv, envp);
	/* The errno by hand: strerror is not async-signal-safe.  ENOENT or ETXTBSY
	 * usually mean that a build replaced the program meanwhile. */
	char msg[48] = "bench: execve failed, errno ", digits[12];
	size_t len = strlen(msg), n = 0;
	for (int e = errno; n == 0 || e > 0; e /= 10)
		digits[n++] = (char)('0' + e % 10);
	while (n > 0)
		msg[len++] = digits[--n];
	msg[len++] = '\n';
	if (write(STDERR_FILENO, msg, len) < 0)
		_exit(127);
	_exit(127);
}

/* 0 for exit status 0, else a message naming the command and -1. */
static int judge_status(const struct command *cmd, char *const *argv, int status)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	fprintf(stderr, "bench: %s%scommand ", cmd->untimed ? "untimed " : "",
		cmd->n_storm ? "storm " : "");
	print_argv(stderr, argv);
	if (WIFEXITED(status))
		fprintf(stderr, " exited with status %d\n", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		fprintf(stderr, " was killed by signal %d (%s)\n", WTERMSIG(status),
			strsignal(WTERMSIG(status)));
	else
		fprintf(stderr, " ended with wait status %#x\n", status);
	return -1;
}

/* SIGKILL every child of the driver (with --reap: also what was reparented to it). */
static void kill_children(void)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	int pid;
	while (fscanf(f, "%d", &pid) == 1)
		kill(pid, SIGKILL);
	fclose(f);
}

/*
 * With --reap: wait until every process the cycle left behind, reparented to the driver, has
 * ended.  On the timeout, kill them (and what they leave) and return -1.
 */
static int wait_leftovers(void)
{
	bool killing = false;
	for (;;) {
		int status;
		if (waitpid(-1, &status, 0) > 0)
			continue;
		if (errno == ECHILD)
			return killing ? -1 : 0;
		if (errno != EINTR) {
			perror("bench: waitpid");
			return -1;
		}
		if (timed_out && !killing) {
			fprintf(stderr,
				"bench: timed out waiting for the processes the commands left "
				"behind; killing them\n");
			killing = true;
		}
		if (killing) {
			kill_children();
			alarm(1); /* until all are gone, killing what the killed leave behind */
		}
	}
}

/*
 * Run one command to completion.  Returns 0 on exit status 0, else prints why and returns -1.
 * Only async-signal-safe calls between fork and execve.
 */
static int run_command(const struct bench *b, const struct command *cmd)
{
	pid_t pid = fork();
	if (pid < 0) {
		perror("bench: fork");
		return -1;
	}
	if (pid == 0)
		exec_child(b, cmd->path, cmd->argv, cmd->envp);
	int status;
	for (;;) {
		pid_t r = waitpid(pid, &status, 0);
		if (r == pid)
			break;
		if (r < 0 && errno == EINTR) {
			if (timed_out) {
				kill(pid, SIGKILL);
				waitpid(pid, &status, 0);
				fprintf(stderr, "bench: timed out; killed ");
				print_argv(stderr, cmd->argv);
				fprintf(stderr, "\n");
				return -1;
			}
			continue;
		}
		perror("bench: waitpid");
		return -1;
	}
	return judge_status(cmd, cmd->argv, status);
}

/*
 * A --storm command: every process forked and parked at the gate, then all released at once.
 * *setup_us gets the time before the release (not part of the command's time).  Returns 0
 * when all exited 0, else -1 (after every one of them has ended).
 */
static int run_storm(const struct bench *b, const struct command *cmd, double *setup_us)
{
	struct timespec s0, s1;
	int ready[2], gate[2], rc = 0;
	size_t started = 0;
	pid_t *pids = xcalloc(cmd->n_storm, sizeof(*pids));

	clock_gettime(CLOCK_MONOTONIC, &s0);
	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(gate, O_CLOEXEC) < 0) {
		perror("bench: pipe2");
		free(pids);
		return -1;
	}
	for (; started < cmd->n_storm; started++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("bench: fork (storm)");
			rc = -1;
			break;
		}
		if (pid == 0) {
			char c;
			/* Only the driver may hold the gate's write end, or EOF never comes. */
			close(gate[1]);
			close(ready[0]);
			if (write(ready[1], "r", 1) != 1)
				_exit(126);
			while (read(gate[0], &c, 1) < 0 && errno == EINTR)
				;
			exec_child(b, cmd->path, cmd->storm_argv[started],
				   cmd->storm_envp[started]);
		}
		pids[started] = pid;
	}
	close(ready[1]);
	close(gate[0]);
	/* Every child at the gate before it opens: what is timed is the storm, not the forks. */
	for (size_t got = 0; rc == 0 && got < started;) {
		char buf[256];
		ssize_t r = read(ready[0], buf, sizeof(buf));
		if (r > 0)
			got += (size_t)r;
		else if (r == 0 || errno != EINTR || timed_out) {
			fprintf(stderr, "bench: a storm process died before the gate opened\n");
			rc = -1;
		}
	}
	close(ready[0]);
	bool killed = rc < 0;
	if (killed)
		for (size_t k = 0; k < started; k++)
			kill(pids[k], SIGKILL);
	clock_gettime(CLOCK_MONOTONIC, &s1);
	close(gate[1]);
	*setup_us = elapsed_us(&s0, &s1);

	for (size_t left = started; left > 0;) {
		int status;
		pid_t r = waitpid(-1, &status, 0);
		if (r < 0) {
			if (errno == EINTR && timed_out && !killed) {
				fprintf(stderr,
					"bench: timed out; killing the storm's processes\n");
				for (size_t k = 0; k < started; k++)
					if (pids[k] > 0)
						kill(pids[k], SIGKILL);
				killed = true;
				rc = -1;
			} else if (errno != EINTR) {
				perror("bench: waitpid (storm)");
				rc = -1;
				break;
			}
			continue;
		}
		/* One of the storm's, or (--reap) something an earlier one left behind: only
		 * reaped. */
		for (size_t k = 0; k < started; k++)
			if (pids[k] == r) {
				pids[k] = 0;
				left--;
				if (!killed && judge_status(cmd, cmd->storm_argv[k], status) < 0)
					rc = -1;
				break;
			}
	}
	free(pids);
	return rc;
}

/*
 * One repetition of a case's commands.  *timed gets their time without the untimed commands,
 * the storms' set-ups and the waits for leftovers, *settled those waits (with --reap: before
 * each untimed command, and at the end when last is set).  0, or -1 on failure.
 */
static int run_commands(const struct bench *b, const struct bench_case *c, bool last, double *timed,
			double *settled)
{
	struct timespec t0, t1, p0, p1;
	double paused = 0, settle = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t k = 0; k < c->n_cmds; k++) {
		const struct command *cmd = &c->cmds[k];
		if (cmd->untimed && b->reap) {
			clock_gettime(CLOCK_MONOTONIC, &p0);
			if (wait_leftovers() < 0)
				return -1;
			clock_gettime(CLOCK_MONOTONIC, &p1);
			settle += elapsed_us(&p0, &p1);
		}
		if (cmd->untimed)
			clock_gettime(CLOCK_MONOTONIC, &p0);
		if (cmd->n_storm) {
			double setup;
			int r = run_storm(b, cmd, &setup);
			paused += setup;
			if (r < 0)
				return -1;
		} else if (run_command(b, cmd) < 0)
			return -1;
		if (cmd->untimed) {
			clock_gettime(CLOCK_MONOTONIC, &p1);
			paused += elapsed_us(&p0, &p1);
		}
	}
	if (last && b->reap) {
		clock_gettime(CLOCK_MONOTONIC, &p0);
		if (wait_leftovers() < 0)
			return -1;
		clock_gettime(CLOCK_MONOTONIC, &p1);
		settle += elapsed_us(&p0, &p1);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	*timed = elapsed_us(&t0, &t1) - paused - settle;
	*settled = settle;
	return 0;
}

/* One cycle of a case (its -r repetitions); counted ones go to the samples.  0 or -1. */
static int run_cycle(struct bench *b, struct bench_case *c, bool counted)
{
	for (long rep = 0; rep < c->reps; rep++) {
		double timed, settled;
		/* forget the previous repetition's output; outside the timed window */
		if (ftruncate(b->out_fd, 0) < 0 || lseek(b->out_fd, 0, SEEK_SET) < 0) {
			perror("bench: resetting the output buffer");
			return -1;
		}
		timed_out = 0;
		alarm((unsigned)b->timeout);
		int r = run_commands(b, c, rep == c->reps - 1, &timed, &settled);
		alarm(0);
		if (r < 0) {
			if (b->reap) {
				/* nothing of the failed cycle outlives the driver */
				timed_out = 0;
				alarm((unsigned)b->timeout);
				wait_leftovers();
				alarm(0);
			}
			return -1;
		}
		if (counted) {
			c->samples[c->n_samples] = timed + settled;
			c->ret[c->n_samples++] = timed;
		}
	}
	return 0;
}

/* True when the case has a counted cycle in this round: runs spread evenly over rounds. */
static bool runs_in_round(const struct bench *b, const struct bench_case *c, long round)
{
	return (round + 1) * c->runs / b->rounds != round * c->runs / b->rounds;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(const double *s, size_t n)
{
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* Nearest-rank percentile of sorted samples. */
static double percentile(const double *s, size_t n, double p)
{
	size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return s[rank - 1];
}

static int fail_cycle(const struct bench *b, const struct bench_case *c, long round)
{
	if (round < 0)
		fprintf(stderr, "bench: case '%s' failed in warm-up round %ld; stopping\n", c->name,
			round + b->warmup + 1);
	else
		fprintf(stderr, "bench: case '%s' failed in round %ld of %ld; stopping\n", c->name,
			round + 1, b->rounds);
	dump_output(b->out_fd);
	return 1;
}

static int run_all(struct bench *b)
{
	for (long round = -b->warmup; round < b->rounds; round++)
		for (size_t k = 0; k < b->n_cases; k++) {
			struct bench_case *c = &b->cases[k];
			if (round >= 0 && !runs_in_round(b, c, round))
				continue;
			if (run_cycle(b, c, round >= 0) < 0)
				return fail_cycle(b, c, round);
		}
	return 0;
}

static void print_row(int w, const char *name, const char *suffix, const double *s, size_t n)
{
	printf("%s%-*s %6zu %12.1f %12.1f %12.1f %12.1f\n", name, w - (int)strlen(name), suffix, n,
	       median(s, n), s[0], percentile(s, n, 90), s[n - 1]);
}

static int report(struct bench *b)
{
	int missed = 0;
	int w = 4;
	for (size_t k = 0; k < b->n_cases; k++)
		if ((int)strlen(b->cases[k].name) + (b->reap ? 4 : 0) > w)
			w = (int)strlen(b->cases[k].name) + (b->reap ? 4 : 0);
	for (size_t k = 0; k < b->n_cases && b->print_samples; k++)
		for (size_t j = 0; j < b->cases[k].n_samples; j++) {
			printf("sample %s %.1f\n", b->cases[k].name, b->cases[k].samples[j]);
			if (b->reap)
				printf("sample %s:ret %.1f\n", b->cases[k].name,
				       b->cases[k].ret[j]);
		}
	if (b->reap)
		printf("(NAME: until every process a cycle started had ended; NAME:ret: until its "
		       "last command returned)\n");
	printf("%-*s %6s %12s %12s %12s %12s\n", w, "case", "cycles", "median_us", "min_us",
	       "p90_us", "max_us");
	for (size_t k = 0; k < b->n_cases; k++) {
		struct bench_case *c = &b->cases[k];
		qsort(c->samples, c->n_samples, sizeof(*c->samples), cmp_double);
		qsort(c->ret, c->n_samples, sizeof(*c->ret), cmp_double);
		print_row(w, c->name, "", c->samples, c->n_samples);
		if (b->reap)
			print_row(w, c->name, ":ret", c->ret, c->n_samples);
	}
	for (size_t k = 0; k < b->n_ratios; k++) {
		const struct ratio *r = &b->ratios[k];
		size_t n_num, n_den;
		const double *num = find_samples(b, r->num, &n_num);
		const double *den = find_samples(b, r->den, &n_den);
		double v = median(num, n_num) / median(den, n_den);
		printf("ratio %s/%s = %.2f", r->num, r->den, v);
		if (r->op) {
			bool pass = r->op == '>' ? v >= r->target : v <= r->target;
			printf("  (target %s %g: %s)", r->op == '>' ? ">=" : "<=", r->target,
			       pass ? "PASS" : "MISS");
			missed += !pass;
		}
		printf("\n");
	}
	fflush(stdout); /* the warning comes after the table, also when both go to one file */
	if (missed)
		fprintf(stderr,
			"bench: warning: %d target(s) missed (timings are noisy; rerun on an idle "
			"machine)\n",
			missed);
	return missed && b->strict ? 3 : 0;
}

int main(int argc, char **argv)
{
	struct bench b = {0};
	parse_args(&b, argc, argv);

	b.null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	b.out_fd = memfd_create("bench-output", MFD_CLOEXEC);
	if (b.null_fd < 0 || b.out_fd < 0) {
		perror("bench: opening /dev/null or the output buffer");
		return 2;
	}
	/* dup2 clears FD_CLOEXEC on the child's copies 0-2; nothing else leaks into children */
	struct sigaction sa = {0};
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: waitpid must return EINTR on the alarm */
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	if (b.reap && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
		perror("bench: prctl(PR_SET_CHILD_SUBREAPER)");
		return 2;
	}
	fflush(stdout);
	if (run_all(&b))
		return 1;
	return report(&b);
}
