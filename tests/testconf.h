/*
 * testconf.h - configuration files of unit tests: written into the test's
 * directory (testdir.h) with "@D" standing for that directory, and loaded
 * with conf_load.  In tests/libtestpki.la; abort()s on failure.
 */
#ifndef SMIME_TESTCONF_H
#define SMIME_TESTCONF_H

#include "conf.h"

/*
 * Write head then text (either may be NULL) to dir/name, every "@D" in
 * them replaced by dir, mode 0600.  Returns the path (testdir_path's
 * static buffer).
 */
const char *testconf_write(const char *dir, const char *name, const char *head, const char *text);

/* A conf_report_fn: the message on a line of stderr. */
void testconf_report(void *arg, const char *msg);

/*
 * testconf_write, then conf_load with every message on stderr: the
 * configuration (caller unrefs), which must load without an error.
 */
struct conf *testconf_load(const char *dir, const char *name, const char *head, const char *text);

#endif
