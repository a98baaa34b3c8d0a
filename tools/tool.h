/*
 * tool.h - the parts of smime-tool: message loading and protection
 * (message.c), SMTP injection (smtp.c), SparkPost API injection (api.c),
 * verify/decrypt (open.c), and the certificate store commands (certs.c,
 * certs_import.c).  main.c parses the command line.
 *
 * Every function that can fail returns -1 (or a TOOL_EXIT_* code where
 * noted) and describes why in err[errlen].  Byte buffers are the core
 * library's struct secbuf (secbuf.h): they may hold plaintext, so they are
 * wiped when they grow and when freed.
 */
#ifndef SMIME_TOOL_H
#define SMIME_TOOL_H

#include <stddef.h>

#include "mime.h"
#include "secbuf.h"

#define TOOL_ADDR_MAX 256

/* Exit codes of smime-tool. */
#define TOOL_EXIT_OK        0
#define TOOL_EXIT_FAIL      1 /* send refused, signature bad, file or key missing */
#define TOOL_EXIT_USAGE     2 /* bad command line */
#define TOOL_EXIT_NODECRYPT 3 /* decrypt: not for this key, or damaged */
#define TOOL_EXIT_NOTSMIME  4 /* verify/decrypt: the message is not S/MIME of that kind */

/* Read a whole file (at most 256 MiB).  0, or -1 with err naming it. */
int tool_read_file(const char *path, struct secbuf *out, char *err, size_t errlen);

/* A recipient: address and display name as the headers gave them. */
struct tool_rcpt {
	char addr[TOOL_ADDR_MAX];
	char *name; /* owned, may be empty, never NULL */
};

/* One .eml file, parsed. */
struct tool_message {
	const char *path;            /* borrowed: the file name, for messages */
	struct secbuf raw;           /* the file's bytes */
	struct mime_headers headers; /* every header, in order */
	size_t body_off;             /* first body byte in raw */
	char from[TOOL_ADDR_MAX];    /* From: address, "" when none or unusable */
	struct tool_rcpt *rcpts;     /* To, Cc and Bcc, without duplicates */
	size_t nrcpt;
};

/*
 * Load and parse path.  A header block that is not RFC 5322 is an error;
 * a missing From: or no recipients is not (the caller decides).
 */
int message_load(const char *path, struct tool_message *m, char *err, size_t errlen);
void message_free(struct tool_message *m);

/* The unfolded value of the first header called name, trimmed; NULL when absent.  Caller frees. */
char *message_header_text(const struct tool_message *m, const char *name);

/*
 * Parse an address-list header value (groups, quoted names, comments) and
 * append every address to *list (no duplicates).  Elements that hold no
 * usable address are counted in *bad.  0, or -1 (out of memory).
 */
int addrlist_parse(const char *value, struct tool_rcpt **list, size_t *n, int *bad);

struct protect_request {
	int sign;             /* add a signature */
	int opaque;           /* as signed-data (--sign), else multipart/signed (--sign-detached) */
	int encrypt;          /* enveloped to every recipient */
	const char *key_dir;  /* From: address's <addr>.pem (+ .crt) */
	const char *cert_dir; /* recipient certificates, indexed as the milter's cert-dir */
	const char *ca_file;  /* signer and recipient certificates must chain to these CAs;
	                            NULL: no chain check */
};

/*
 * Build the outgoing message: the original headers minus Content-* and
 * Bcc, MIME-Version when absent, and the S/MIME entity from
 * smime_protect (the milter's output).  Recipient certificates are
 * chosen with certindex_find over cert_dir and ca_file, as the milter
 * chooses them.  Without sign and encrypt the message is passed on as it
 * is (CRLF, Bcc removed).  Errors name the key, the certificate or the
 * directory at fault.
 */
int message_protect(const struct tool_message *m, const struct protect_request *req,
    struct secbuf *out, char *err, size_t errlen);

/* SMTP injection, configured by SMTP_* environment variables.  Returns a TOOL_EXIT_* code. */
int smtp_send(const char *label, const struct tool_message *m, const struct secbuf *msg);

/*
 * SparkPost transmissions API injection (SPARKPOST_*).  track: open and
 * click tracking on (never for signed mail: the caller refuses that).
 * Returns a TOOL_EXIT_* code.
 */
int api_send(const char *label, const struct tool_message *m, const struct secbuf *msg, int track);

/* Seconds since an arbitrary point, monotonic. */
double tool_now(void);

/*
 * "--name VALUE" or "--name=VALUE" at argv[*i]; advances *i past the value.
 * 1 matched, 0 not this option, -1 value missing (reported on stderr).
 */
int tool_opt_value(int argc, char **argv, int *i, const char *name, const char **value);

/* "certs" subcommands: argv[0] is list, check, expiring or import.  Returns an exit code. */
int certs_main(int argc, char **argv);

/* "verify" and "decrypt" subcommands; return TOOL_EXIT_* codes. */
int open_verify(const char *path, const char *ca_file, const char *out_path);
int open_decrypt(const char *path, const char *key_path, const char *cert_path, const char *ca_file,
    const char *out_path);

#endif
