/* The vif-post.d hooks: administrators' bash snippets run after the main action. */
#include "hooks.h"
#include "paths.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int is_hook(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return d->d_name[0] != '.' && n > 5 && !strcmp(d->d_name + n - 5, ".hook");
}

/* environ with the vars put first, so that they win over inherited values of the same name. */
static char **hook_env(const struct hook_var *vars, size_t n_vars)
{
	size_t n_env = 0;
	while (environ[n_env])
		n_env++;
	char **env = calloc(n_env + n_vars + 1, sizeof(*env));
	if (!env)
		return NULL;
	size_t k = 0;
	for (; k < n_vars; k++) {
		if (asprintf(&env[k], "%s=%s", vars[k].name, vars[k].value ? vars[k].value : "") <
		    0) {
			while (k-- > 0)
				free(env[k]);
			free(env);
			return NULL;
		}
	}
	for (size_t i = 0; i < n_env; i++) {
		bool shadowed = false;
		for (size_t j = 0; j < n_vars; j++) {
			size_t l = strlen(vars[j].name);
			if (!strncmp(environ[i], vars[j].name, l) && environ[i][l] == '=')
				shadowed = true;
		}
		if (!shadowed)
			env[k++] = environ[i];
	}
	env[k] = NULL;
	return env;
}

static void run_one(struct log *log, const char *path, char **env)
{
	char *argv[] = {"bash", (char *)path, NULL};
	pid_t pid;
	int status, err;

	err = posix_spawn(&pid, "/bin/bash", NULL, NULL, argv, env);
	if (err) {
		log_msg(log, LOG_WARNING, "cannot run hook %s: %s", path, strerror(err));
		return;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		log_msg(log, LOG_WARNING, "hook %s failed (status %d)", path,
			WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	else
		log_msg(log, LOG_DEBUG, "hook %s done", path);
}

void hooks_run(struct log *log, const char *kind, const struct hook_var *vars, size_t n_vars)
{
	char dir[4096], path[4096 + 256];
	struct dirent **list = NULL;

	snprintf(dir, sizeof(dir), "%s/%s.d", path_script_dir(), kind);
	int n = scandir(dir, &list, is_hook, alphasort);
	if (n <= 0) {
		free(list);
		return;
	}
	char **env = hook_env(vars, n_vars);
	for (int i = 0; i < n; i++) {
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
		if (!env || stat(path, &st) < 0 || !S_ISREG(st.st_mode) || access(path, X_OK) < 0)
			goto next;
		if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))) {
			log_msg(
			    log, LOG_WARNING,
			    "skipping hook %s: it must be owned by root and not writable by group "
			    "or others",
			    path);
			goto next;
		}
		run_one(log, path, env);
	next:
		free(list[i]);
	}
	free(list);
	if (env) {
		for (size_t i = 0; i < n_vars; i++)
			free(env[i]);
		free(env);
	}
}
