/*
 * main.c - smime-tool: the command line.
 *
 *   smime-tool send FILE.eml [--sign | --sign-detached] [--encrypt]
 *                            [--send-smtp | --send-api [--track]] [--key-dir D] [--cert-dir D]
 *                            [--ca-file CA] [--out F]
 *   smime-tool FILE.eml ...                  (the original sparkpostSMIME form)
 *   smime-tool verify FILE [--ca-file CA] [--out F]
 *   smime-tool decrypt FILE --key KEY.pem [--cert CERT] [--ca-file CA] [--out F]
 *   smime-tool certs list|check|expiring|import ...   (certs.c)
 *
 * The original spellings --sign_detached, --send_smtp and --send_api are
 * accepted.  Protection is the core library's (smime_protect), so what
 * this writes is what smime-milter writes for the same message.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "log.h"
#include "tool.h"

struct tool_args {
	const char *file;
	int sign, detached, encrypt, smtp, api, track;
	const char *key_dir, *cert_dir, *out, *key, *cert, *ca_file;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: smime-tool send FILE.eml [--sign | --sign-detached] [--encrypt]\n"
	    "                  [--send-smtp | --send-api [--track]] [--key-dir DIR] [--cert-dir DIR]\n"
	    "                  [--ca-file CA] [--out FILE]\n"
	    "       smime-tool FILE.eml [options as for send]\n"
	    "       smime-tool verify FILE [--ca-file CA] [--out FILE]\n"
	    "       smime-tool decrypt FILE --key KEY.pem [--cert CERT] [--ca-file CA] [--out FILE]\n"
	    "       smime-tool certs list|check|expiring|import ...   (smime-tool certs --help)\n"
	    "       smime-tool -V | --version     print the versions of smime-tool and OpenSSL\n"
	    "       smime-tool -h | --help        print this help\n"
	    "SMTP: SMTP_HOST SMTP_PORT SMTP_USER SMTP_PASSWORD SMTP_TLS SMTP_CA_FILE\n"
	    "API:  SPARKPOST_HOST SPARKPOST_API_KEY SPARKPOST_CA_FILE\n"
	    "See smime-tool(1).\n");
}

/* Parse argv[first..]; which options are allowed depends on cmd. */
static int
parse_args(const char *cmd, int argc, char **argv, int first, struct tool_args *a)
{
	static const char *const valued[] = {"--key-dir", "--cert-dir", "--out", "--key", "--cert",
	    "--ca-file"};
	int send = strcmp(cmd, "send") == 0, i, r, opaque = 0;
	size_t k;

	memset(a, 0, sizeof(*a));
	a->key_dir = ".";
	a->cert_dir = ".";
	for (i = first; i < argc; i++) {
		const char *s = argv[i];
		const char **slot[] = {&a->key_dir, &a->cert_dir, &a->out, &a->key, &a->cert,
		    &a->ca_file};
		if (send && strcmp(s, "--sign") == 0) {
			a->sign = opaque = 1;
			continue;
		}
		if (send && strcmp(s, "--track") == 0) {
			a->track = 1;
			continue;
		}
		if (send &&
		    (strcmp(s, "--sign-detached") == 0 || strcmp(s, "--sign_detached") == 0)) {
			a->sign = 1;
			a->detached = 1;
			continue;
		}
		if (send && strcmp(s, "--encrypt") == 0) {
			a->encrypt = 1;
			continue;
		}
		if (send && (strcmp(s, "--send-smtp") == 0 || strcmp(s, "--send_smtp") == 0)) {
			a->smtp = 1;
			continue;
		}
		if (send && (strcmp(s, "--send-api") == 0 || strcmp(s, "--send_api") == 0)) {
			a->api = 1;
			continue;
		}
		for (k = 0, r = 0; k < sizeof(valued) / sizeof(valued[0]) && r == 0; k++) {
			int allowed = send               ? k < 3 || k == 5
			    : strcmp(cmd, "verify") == 0 ? (k == 2 || k == 5)
			                                 : k >= 2;
			if (allowed)
				r = tool_opt_value(argc, argv, &i, valued[k], slot[k]);
		}
		if (r < 0)
			return -1;
		if (r > 0)
			continue;
		if (s[0] == '-' && s[1] != '\0') {
			fprintf(stderr, "smime-tool %s: unknown option %s\n", cmd, s);
			return -1;
		}
		if (a->file != NULL) {
			fprintf(stderr, "smime-tool %s: one file at a time (%s and %s)\n", cmd,
			    a->file, s);
			return -1;
		}
		a->file = s;
	}
	if (a->file == NULL) {
		fprintf(stderr, "smime-tool %s: no file given\n", cmd);
		return -1;
	}
	if (a->smtp && a->api) {
		fprintf(stderr, "smime-tool send: --send-smtp and --send-api exclude each other\n");
		return -1;
	}
	if (opaque && a->detached) {
		fprintf(stderr, "smime-tool send: --sign and --sign-detached exclude each other\n");
		return -1;
	}
	if (a->track && !a->api) {
		fprintf(stderr,
		    "smime-tool send: --track is for --send-api (the API's engagement tracking)\n");
		return -1;
	}
	if (strcmp(cmd, "decrypt") == 0 && a->key == NULL) {
		fprintf(stderr, "smime-tool decrypt: --key KEY.pem is required\n");
		return -1;
	}
	return 0;
}

static int
write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
save_output(const char *path, const struct secbuf *msg)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || write_all(fd, msg->data, msg->len) != 0 || close(fd) != 0) {
		fprintf(stderr, "cannot write %s: %s - stopping\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
cmd_send(const struct tool_args *a)
{
	struct tool_message m;
	struct protect_request req;
	struct secbuf out;
	char err[1024];
	int rc = TOOL_EXIT_FAIL;

	secbuf_init(&out);
	if (a->track && a->sign) {
		/* tracking rewrites links and adds a pixel: it would break the signature */
		fprintf(stderr,
		    "Invalid combination of arguments - cannot track signed messages\n");
		return TOOL_EXIT_FAIL;
	}
	if (message_load(a->file, &m, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s - stopping\n", err);
		return TOOL_EXIT_FAIL;
	}
	memset(&req, 0, sizeof(req));
	req.sign = a->sign;
	req.opaque =
	    a->sign && !a->detached; /* the original tool: --sign opaque, --sign_detached */
	req.encrypt = a->encrypt;
	req.key_dir = a->key_dir;
	req.cert_dir = a->cert_dir;
	req.ca_file = a->ca_file;
	if (message_protect(&m, &req, &out, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		goto cleanup;
	}
	if (a->out != NULL && save_output(a->out, &out) != 0)
		goto cleanup;
	if (a->smtp)
		rc = smtp_send(a->file, &m, &out);
	else if (a->api)
		rc = api_send(a->file, &m, &out, a->track);
	else if (a->out == NULL && write_all(STDOUT_FILENO, out.data, out.len) != 0)
		fprintf(stderr, "cannot write the message to stdout: %s\n", strerror(errno));
	else
		rc = TOOL_EXIT_OK;
cleanup:
	secbuf_free(&out);
	message_free(&m);
	return rc;
}

int
main(int argc, char **argv)
{
	struct tool_args a;
	const char *cmd;
	int first = 2, rc;

	signal(SIGPIPE, SIG_IGN);
	log_open("smime-tool", LOG_TO_STDERR, LOG_MAIL);
	if (argc < 2) {
		usage(stderr);
		return TOOL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return TOOL_EXIT_OK;
	}
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("smime-tool %s (%s)\n", PACKAGE_VERSION, OpenSSL_version(OPENSSL_VERSION));
		return TOOL_EXIT_OK;
	}
	if (strcmp(argv[1], "certs") == 0)
		return certs_main(argc - 2, argv + 2);
	cmd = argv[1];
	if (strcmp(cmd, "send") != 0 && strcmp(cmd, "verify") != 0 && strcmp(cmd, "decrypt") != 0) {
		cmd = "send"; /* the original form: smime-tool FILE.eml --sign --encrypt ... */
		first = 1;
	}
	if (parse_args(cmd, argc, argv, first, &a) != 0) {
		usage(stderr);
		return TOOL_EXIT_USAGE;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "smime-tool: cannot initialise libcurl\n");
		return TOOL_EXIT_FAIL;
	}
	if (strcmp(cmd, "verify") == 0)
		rc = open_verify(a.file, a.ca_file, a.out);
	else if (strcmp(cmd, "decrypt") == 0)
		rc = open_decrypt(a.file, a.key, a.cert, a.ca_file, a.out);
	else
		rc = cmd_send(&a);
	curl_global_cleanup();
	return rc;
}
