/* The vif-post.d hooks: administrators' bash snippets run after the main action. */
#ifndef XNH_HOOKS_H
#define XNH_HOOKS_H

#include "log.h"

#include <stddef.h>

struct hook_var {
	const char *name;
	const char *value; /* NULL is passed as empty */
};

/*
 * Run every executable $XEN_SCRIPT_DIR/<kind>.d/NAME.hook in name order with bash, with the
 * vars added to the environment.  Hooks not owned by root or writable by group or others are
 * skipped with a warning.  A hook's failure is logged, not fatal: the scripts ignored it too.
 */
void hooks_run(struct log *log, const char *kind, const struct hook_var *vars, size_t n_vars);

#endif
