/*
 * smtp.c - inject one message over SMTP with libcurl, configured as the
 * original sparkpostSMIME tool was, by environment:
 *
 *   SMTP_HOST      required (host name, IPv4 or IPv6 address)
 *   SMTP_PORT      default 25
 *   SMTP_USER, SMTP_PASSWORD   AUTH credentials (optional)
 *   SMTP_TLS       auto (default): STARTTLS when offered, required when
 *                  credentials are set; require: always required;
 *                  off: never STARTTLS
 *   SMTP_CA_FILE   CA certificates to verify the server against
 *
 * libcurl runs the whole dialogue; its protocol trace (debug callback) is
 * only inspected, never printed, to know whether STARTTLS was used, when
 * the session was ready (MAIL FROM) and which command the server refused.
 * AUTH lines are never kept.  The password is copied once, handed to
 * libcurl and wiped.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "tool.h"

enum smtp_tls {
	SMTP_TLS_AUTO,
	SMTP_TLS_REQUIRE,
	SMTP_TLS_OFF
};

struct smtp_session {
	const char *label; /* file name, for "Sending ..." */
	const struct tool_message *msg;
	const char *host;
	long port;
	const char *user;
	size_t pwlen;
	int tls;   /* STARTTLS was sent */
	int ready; /* MAIL FROM was sent */
	double t_start;
	char last_cmd[16]; /* EHLO, AUTH, MAIL, RCPT, DATA */
	char last_rcpt[TOOL_ADDR_MAX];
	char error_reply[512]; /* the first 4xx/5xx reply, printable */
	char error_cmd[16];    /* the command it answered */
	char error_rcpt[TOOL_ADDR_MAX];
	const char *data; /* message being uploaded */
	size_t len, off;
};

static void
copy_printable(char *dst, size_t dstlen, const char *src, size_t len)
{
	size_t o = 0, i;

	for (i = 0; i < len && o + 1 < dstlen; i++) {
		unsigned char ch = (unsigned char)src[i];
		if (ch == '\r' || ch == '\n')
			break;
		dst[o++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
	}
	dst[o] = '\0';
}

static int
starts_with(const char *data, size_t len, const char *word)
{
	size_t n = strlen(word);
	return len >= n && strncasecmp(data, word, n) == 0;
}

static void
session_ready(struct smtp_session *s)
{
	char *from = message_header_text(s->msg, "From");
	char *to = message_header_text(s->msg, "To");
	size_t i;

	printf("Opened SMTP connection (%s) to %s, port %ld, user=\"%s\", password=\"",
	    s->tls ? "STARTTLS" : "plain", s->host, s->port, s->user ? s->user : "");
	for (i = 0; i < s->pwlen; i++)
		putchar('*');
	printf("\"\n");
	printf("Sending %s From: %s To: %s\n", s->label, from ? from : "", to ? to : "");
	fflush(stdout);
	free(from);
	free(to);
	s->ready = 1;
	s->t_start = tool_now();
}

/* libcurl's protocol trace: commands out, replies in.  Nothing is printed from here but the banner. */
static int
smtp_trace(CURL *curl, curl_infotype type, char *data, size_t len, void *arg)
{
	struct smtp_session *s = arg;

	(void)curl;
	if (type == CURLINFO_HEADER_IN) {
		if (s->error_reply[0] == '\0' && len >= 3 && (data[0] == '4' || data[0] == '5') &&
		    isdigit((unsigned char)data[1]) && isdigit((unsigned char)data[2])) {
			copy_printable(s->error_reply, sizeof(s->error_reply), data, len);
			memcpy(s->error_cmd, s->last_cmd, sizeof(s->error_cmd));
			memcpy(s->error_rcpt, s->last_rcpt, sizeof(s->error_rcpt));
		}
	} else if (type == CURLINFO_HEADER_OUT) {
		if (starts_with(data, len, "STARTTLS")) {
			s->tls = 1;
			snprintf(s->last_cmd, sizeof(s->last_cmd), "STARTTLS");
		} else if (starts_with(data, len, "EHLO") || starts_with(data, len, "HELO")) {
			snprintf(s->last_cmd, sizeof(s->last_cmd), "EHLO");
		} else if (starts_with(data, len, "AUTH")) {
			snprintf(s->last_cmd, sizeof(s->last_cmd), "AUTH");
		} else if (starts_with(data, len, "MAIL FROM:")) {
			snprintf(s->last_cmd, sizeof(s->last_cmd), "MAIL");
			if (!s->ready)
				session_ready(s);
		} else if (starts_with(data, len, "RCPT TO:")) {
			const char *lt = memchr(data, '<', len), *gt;
			snprintf(s->last_cmd, sizeof(s->last_cmd), "RCPT");
			s->last_rcpt[0] = '\0';
			if (lt != NULL && (gt = memchr(lt, '>', len - (size_t)(lt - data))) != NULL)
				copy_printable(s->last_rcpt, sizeof(s->last_rcpt), lt + 1,
				    (size_t)(gt - lt - 1));
		} else if (starts_with(data, len, "DATA")) {
			snprintf(s->last_cmd, sizeof(s->last_cmd), "DATA");
		}
	}
	return 0;
}

static size_t
smtp_read(char *buf, size_t size, size_t nitems, void *arg)
{
	struct smtp_session *s = arg;
	size_t room = size * nitems, take = s->len - s->off;

	if (take > room)
		take = room;
	memcpy(buf, s->data + s->off, take);
	s->off += take;
	return take;
}

/* Print why the server or the connection failed; the recipient or step concerned included. */
static void
smtp_report(const struct smtp_session *s, CURLcode rc, const char *errbuf, enum smtp_tls tls)
{
	const char *reply = s->error_reply, *cmd = s->error_cmd;

	if (rc == CURLE_USE_SSL_FAILED) {
		fprintf(stderr, "SMTP server %s port %ld does not offer STARTTLS: %s - stopping\n",
		    s->host, s->port,
		    tls == SMTP_TLS_REQUIRE
		        ? "SMTP_TLS=require"
		        : "credentials are never sent in clear (SMTP_TLS=off allows plain)");
	} else if (reply[0] == '\0') {
		fprintf(stderr, "SMTP to %s port %ld failed: %s%s%s\n", s->host, s->port,
		    curl_easy_strerror(rc), errbuf[0] ? ": " : "", errbuf);
	} else if (strcmp(cmd, "RCPT") == 0) {
		fprintf(stderr, "%s - recipient <%s> refused\n", reply, s->error_rcpt);
	} else if (strcmp(cmd, "AUTH") == 0) {
		fprintf(stderr, "%s - AUTH as user \"%s\" refused\n", reply,
		    s->user ? s->user : "");
	} else if (strcmp(cmd, "MAIL") == 0) {
		fprintf(stderr, "%s - sender <%s> refused\n", reply, s->msg->from);
	} else if (strcmp(cmd, "DATA") == 0) {
		fprintf(stderr, "%s - message refused\n", reply);
	} else {
		fprintf(stderr, "%s - SMTP server %s port %ld refused %s\n", reply, s->host,
		    s->port, cmd[0] ? cmd : "the connection");
	}
}

static int
smtp_config(long *port, enum smtp_tls *tls)
{
	const char *v = getenv("SMTP_PORT");
	char *end;

	*port = 25;
	if (v != NULL && *v != '\0') {
		*port = strtol(v, &end, 10);
		if (*end != '\0' || *port < 1 || *port > 65535) {
			fprintf(stderr,
			    "Environment var SMTP_PORT is not a port number: %s - stopping\n", v);
			return -1;
		}
	}
	v = getenv("SMTP_TLS");
	*tls = SMTP_TLS_AUTO;
	if (v == NULL || *v == '\0' || strcasecmp(v, "auto") == 0)
		return 0;
	if (strcasecmp(v, "off") == 0 || strcasecmp(v, "no") == 0)
		*tls = SMTP_TLS_OFF;
	else if (strcasecmp(v, "require") == 0 || strcasecmp(v, "on") == 0 ||
	    strcasecmp(v, "yes") == 0)
		*tls = SMTP_TLS_REQUIRE;
	else {
		fprintf(stderr,
		    "Environment var SMTP_TLS must be auto, require or off, not %s - stopping\n",
		    v);
		return -1;
	}
	return 0;
}

int
smtp_send(const char *label, const struct tool_message *m, const struct secbuf *msg)
{
	struct smtp_session s;
	struct curl_slist *rcpts = NULL;
	char url[512], from[TOOL_ADDR_MAX + 2], rcpt[TOOL_ADDR_MAX + 2], errbuf[CURL_ERROR_SIZE];
	char *password = NULL;
	const char *host = getenv("SMTP_HOST"), *pw = getenv("SMTP_PASSWORD");
	const char *ca = getenv("SMTP_CA_FILE");
	enum smtp_tls tls;
	CURL *curl = NULL;
	CURLcode rc;
	long port;
	size_t i;
	int ret = TOOL_EXIT_FAIL;

	memset(&s, 0, sizeof(s));
	errbuf[0] = '\0';
	if (host == NULL || *host == '\0') {
		fprintf(stderr, "Environment var SMTP_HOST not set - stopping\n");
		return TOOL_EXIT_FAIL;
	}
	if (smtp_config(&port, &tls) != 0)
		return TOOL_EXIT_FAIL;
	if (m->from[0] == '\0') {
		fprintf(stderr, "%s: no usable From: address for the SMTP envelope - stopping\n",
		    label);
		return TOOL_EXIT_FAIL;
	}
	if (m->nrcpt == 0) {
		fprintf(stderr, "%s: no recipients in To, Cc or Bcc - stopping\n", label);
		return TOOL_EXIT_FAIL;
	}
	s.label = label;
	s.msg = m;
	s.host = host;
	s.port = port;
	s.user = getenv("SMTP_USER");
	if (s.user != NULL && *s.user == '\0')
		s.user = NULL;
	s.data = msg->data;
	s.len = msg->len;
	if ((size_t)snprintf(url, sizeof(url),
	        strchr(host, ':') != NULL && host[0] != '[' ? "smtp://[%s]:%ld" : "smtp://%s:%ld",
	        host, port) >= sizeof(url)) {
		fprintf(stderr, "Environment var SMTP_HOST is too long - stopping\n");
		return TOOL_EXIT_FAIL;
	}
	snprintf(from, sizeof(from), "<%s>", m->from);

	curl = curl_easy_init();
	if (curl == NULL) {
		fprintf(stderr, "cannot start libcurl - stopping\n");
		return TOOL_EXIT_FAIL;
	}
	for (i = 0; i < m->nrcpt; i++) {
		struct curl_slist *n;
		snprintf(rcpt, sizeof(rcpt), "<%s>", m->rcpts[i].addr);
		n = curl_slist_append(rcpts, rcpt);
		if (n == NULL) {
			fprintf(stderr, "out of memory\n");
			goto cleanup;
		}
		rcpts = n;
	}
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpts);
	curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(curl, CURLOPT_READFUNCTION, smtp_read);
	curl_easy_setopt(curl, CURLOPT_READDATA, &s);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 600L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_VERBOSE, 1L);
	curl_easy_setopt(curl, CURLOPT_DEBUGFUNCTION, smtp_trace);
	curl_easy_setopt(curl, CURLOPT_DEBUGDATA, &s);
	if (tls == SMTP_TLS_OFF)
		curl_easy_setopt(curl, CURLOPT_USE_SSL, (long)CURLUSESSL_NONE);
	else if (tls == SMTP_TLS_REQUIRE || s.user != NULL)
		curl_easy_setopt(curl, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	else
		curl_easy_setopt(curl, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
	if (ca != NULL && *ca != '\0')
		curl_easy_setopt(curl, CURLOPT_CAINFO, ca);
	if (s.user != NULL) {
		password = strdup(pw != NULL ? pw : "");
		if (password == NULL) {
			fprintf(stderr, "out of memory\n");
			goto cleanup;
		}
		s.pwlen = strlen(password);
		curl_easy_setopt(curl, CURLOPT_USERNAME, s.user);
		curl_easy_setopt(curl, CURLOPT_PASSWORD, password); /* libcurl keeps its own copy */
		OPENSSL_cleanse(password, s.pwlen);
	}

	rc = curl_easy_perform(curl);
	if (rc != CURLE_OK) {
		smtp_report(&s, rc, errbuf, tls);
		goto cleanup;
	}
	printf("OK - in %.3f seconds\n", tool_now() - s.t_start);
	ret = TOOL_EXIT_OK;
cleanup:
	/* libcurl frees (but does not wipe) its copy of the password */
	curl_easy_cleanup(curl);
	curl_slist_free_all(rcpts);
	free(password);
	return ret;
}
