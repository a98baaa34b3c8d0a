/*
 * certs.h - the parts of "smime-tool certs" shared by certs.c (list,
 * check, expiring, the command line) and certs_import.c (import).
 *
 * Everything goes through the core library's certificate index
 * (certindex.h) and harvesting (harvest.h), so that what these commands
 * report is what smime-milter does with the same directories and files.
 */
#ifndef SMIME_TOOL_CERTS_H
#define SMIME_TOOL_CERTS_H

#include <stddef.h>
#include <openssl/x509.h>

#include "certindex.h"

/* Exit code of certs check/list/expiring/import when the index or a file cannot be read. */
#define CERTS_EXIT_ERROR 3

struct certs_args {
	const char *sub;         /* list, check, import, expiring */
	const char *arg;         /* ADDRESS, FILE or DAYS */
	const char *cert_dir;    /* default "." */
	const char *harvest_dir; /* NULL: none */
	const char *ca_file, *crl_file;
	int trust_any;         /* --trust any */
	const char *conf_file; /* expiring -c: the milter's configuration; NULL: none */
	int dirs_given;        /* --cert-dir, --harvest-dir, --ca-file or --crl-file given */
};

/* A certificate name on one line: "O=Example, CN=Bob, emailAddress=bob@example.com". */
void certs_name(const X509_NAME *name, char *out, size_t outlen);

/* A certificate time as "YYYY-MM-DD" (with_time 0) or "YYYY-MM-DDTHH:MM:SSZ". */

/* The serial number in hexadecimal, as openssl x509 -serial prints it. */
void certs_serial(X509 *cert, char *out, size_t outlen);

/*
 * The index the milter would build: cert-dir and harvest-dir (when
 * with_dirs), ca-file, crl-file.  NULL with err filled.
 */
certindex *certs_open_index(const struct certs_args *a, int with_dirs, char *err, size_t errlen);

/* "certs import": returns an exit code (0 stored, 1 nothing imported, 2, 3). */
int certs_import(const struct certs_args *a);

#endif
