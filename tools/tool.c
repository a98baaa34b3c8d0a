/*
 * tool.c - small helpers of smime-tool's commands: a monotonic clock for
 * "OK - in N seconds" and the "--name VALUE" / "--name=VALUE" option
 * reader.  See tool.h.  Kept apart from main.c so that the commands do not
 * depend on the command line's file.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tool.h"

double
tool_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
tool_opt_value(int argc, char **argv, int *i, const char *name, const char **value)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return 0;
	if (argv[*i][n] == '=') {
		*value = argv[*i] + n + 1;
		return 1;
	}
	if (argv[*i][n] != '\0')
		return 0;
	if (*i + 1 >= argc) {
		fprintf(stderr, "smime-tool: %s needs a value\n", name);
		return -1;
	}
	*value = argv[++*i];
	return 1;
}
