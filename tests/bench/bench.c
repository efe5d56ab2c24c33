/* bench: times sequences of commands, several cases interleaved, and prints medians and ratios. */

/*
 * Usage:
 *   bench [-n ROUNDS] [-w WARMUP] [-t SECONDS] [--strict] [--ratio SPEC]... CASE...
 *
 *   CASE  := --case NAME [-n RUNS] COMMAND [--then COMMAND | --untimed COMMAND]...
 *   COMMAND := [NAME=VALUE]... PROGRAM [ARG]...
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
 * --case, --then and --untimed cannot be arguments of a command.
 *
 * Every command must exit 0: otherwise (or after -t SECONDS, default 60, for one cycle)
 * the benchmark stops, names the case, round and command, prints what the cycle wrote,
 * and exits 1.  Results: one line per case with the number of counted cycles, median, min,
 * p90 and max in microseconds; then one line per --ratio.  A missed target is reported as
 * MISS but only makes the exit status non-zero (3) with --strict: machines are noisy.
 * Usage errors exit 2.
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
};

struct bench_case {
	const char *name;
	long runs; /* cycles to count; 0 = one per round */
	struct command *cmds;
	size_t n_cmds;
	double *samples; /* microseconds, one per counted cycle */
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
	bool strict;
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

static void usage(void)
{
	fprintf(stderr, "usage: bench [-n ROUNDS] [-w WARMUP] [-t SECONDS] [--strict] [--ratio "
			"A/B[>=X|<=X]]...\n"
			"             --case NAME [-n RUNS] [VAR=VALUE]... PROGRAM [ARG]...\n"
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

/* One command from argv[*i] up to the next --then/--untimed/--case or the end. */
static struct command parse_command(int argc, char **argv, int *i, bool untimed)
{
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
	struct command c;
	c.untimed = untimed;
	c.path = resolve_program(argv[prog]);
	c.envp = build_env(argv + start, (size_t)(prog - start));
	c.argv = xcalloc((size_t)(end - prog + 1), sizeof(*c.argv));
	for (int k = prog; k < end; k++)
		c.argv[k - prog] = argv[k];
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
		if (!strcmp(a, "--strict")) {
			b->strict = true;
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
		i += 2;
		if (i + 1 < argc && !strcmp(argv[i], "-n")) {
			c->runs = parse_long(argv[i + 1], "case -n RUNS", 1);
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
		c->samples = xcalloc((size_t)c->runs, sizeof(*c->samples));
	}
	for (size_t k = 0; k < b->n_ratios; k++) {
		const struct ratio *r = &b->ratios[k];
		const char *names[2] = {r->num, r->den};
		for (int n = 0; n < 2; n++) {
			bool found = false;
			for (size_t j = 0; j < b->n_cases && !found; j++)
				found = !strcmp(b->cases[j].name, names[n]);
			if (!found) {
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

static void print_argv(FILE *f, const struct command *cmd)
{
	fprintf(f, "%s", cmd->path);
	for (char **a = cmd->argv + 1; *a; a++)
		fprintf(f, " %s", *a);
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
	if (pid == 0) {
		if (dup2(b->null_fd, STDIN_FILENO) < 0 || dup2(b->out_fd, STDOUT_FILENO) < 0 ||
		    dup2(b->out_fd, STDERR_FILENO) < 0)
			_exit(126);
		execve(cmd->path, cmd->argv, cmd->envp);
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
				print_argv(stderr, cmd);
				fprintf(stderr, "\n");
				return -1;
			}
			continue;
		}
		perror("bench: waitpid");
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	fprintf(stderr, "bench: %scommand ", cmd->untimed ? "untimed " : "");
	print_argv(stderr, cmd);
	if (WIFEXITED(status))
		fprintf(stderr, " exited with status %d\n", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		fprintf(stderr, " was killed by signal %d (%s)\n", WTERMSIG(status),
			strsignal(WTERMSIG(status)));
	else
		fprintf(stderr, " ended with wait status %#x\n", status);
	return -1;
}

/*
 * One cycle of a case; its duration in microseconds without its untimed commands, or a
 * negative value on failure.
 */
static double run_cycle(const struct bench *b, const struct bench_case *c)
{
	struct timespec t0, t1, p0, p1;
	double paused = 0;
	/* forget the previous cycle's output; outside the timed window */
	if (ftruncate(b->out_fd, 0) < 0 || lseek(b->out_fd, 0, SEEK_SET) < 0) {
		perror("bench: resetting the output buffer");
		return -1;
	}
	timed_out = 0;
	alarm((unsigned)b->timeout);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t k = 0; k < c->n_cmds; k++) {
		const struct command *cmd = &c->cmds[k];
		if (cmd->untimed)
			clock_gettime(CLOCK_MONOTONIC, &p0);
		if (run_command(b, cmd) < 0) {
			alarm(0);
			return -1;
		}
		if (cmd->untimed) {
			clock_gettime(CLOCK_MONOTONIC, &p1);
			paused += elapsed_us(&p0, &p1);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	alarm(0);
	return elapsed_us(&t0, &t1) - paused;
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

static const struct bench_case *find_case(const struct bench *b, const char *name)
{
	for (size_t k = 0; k < b->n_cases; k++)
		if (!strcmp(b->cases[k].name, name))
			return &b->cases[k];
	return NULL;
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
			double us = run_cycle(b, c);
			if (us < 0)
				return fail_cycle(b, c, round);
			if (round >= 0)
				c->samples[c->n_samples++] = us;
		}
	return 0;
}

static int report(struct bench *b)
{
	int missed = 0;
	int w = 4;
	for (size_t k = 0; k < b->n_cases; k++)
		if ((int)strlen(b->cases[k].name) > w)
			w = (int)strlen(b->cases[k].name);
	printf("%-*s %6s %12s %12s %12s %12s\n", w, "case", "cycles", "median_us", "min_us",
	       "p90_us", "max_us");
	for (size_t k = 0; k < b->n_cases; k++) {
		struct bench_case *c = &b->cases[k];
		qsort(c->samples, c->n_samples, sizeof(*c->samples), cmp_double);
		printf("%-*s %6zu %12.1f %12.1f %12.1f %12.1f\n", w, c->name, c->n_samples,
		       median(c->samples, c->n_samples), c->samples[0],
		       percentile(c->samples, c->n_samples, 90), c->samples[c->n_samples - 1]);
	}
	for (size_t k = 0; k < b->n_ratios; k++) {
		const struct ratio *r = &b->ratios[k];
		const struct bench_case *num = find_case(b, r->num), *den = find_case(b, r->den);
		double v =
		    median(num->samples, num->n_samples) / median(den->samples, den->n_samples);
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

	fflush(stdout);
	if (run_all(&b))
		return 1;
	return report(&b);
}
