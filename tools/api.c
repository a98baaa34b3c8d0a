/*
 * api.c - inject one message through a SparkPost-compatible transmissions
 * API: POST https://HOST/api/v1/transmissions with the whole message as
 * content.email_rfc822 and the To/Cc/Bcc addresses as recipients.
 *
 *   SPARKPOST_HOST      default api.sparkpost.com; "https://" optional,
 *                       may carry a port (host:port); plain http refused
 *   SPARKPOST_API_KEY   required; sent as the Authorization header
 *   SPARKPOST_CA_FILE   CA certificates to verify the server against
 *
 * Open and click tracking are switched off and the transmission is marked
 * transactional, as the original tool did: tracking would rewrite a body
 * that is signed.  --track switches both on, for unsigned mail only.  The API's answer is printed verbatim on failure.  The
 * key is wiped from every buffer we hold once the request is done.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "errmsg.h"
#include "tool.h"

#define API_REPLY_MAX (1024 * 1024)

/* Append s[0..len) as the inside of a JSON string; -1 when s is not UTF-8. */
static int
json_escape(struct secbuf *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	char esc[8];

	while (p < end) {
		const unsigned char *run = p;
		while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
			p++;
		if (p > run && secbuf_append(out, run, (size_t)(p - run)) != 0)
			return -1;
		if (p == end)
			break;
		if (*p >= 0x80) {
			size_t n = (*p & 0xe0) == 0xc0 ? 2
			    : (*p & 0xf0) == 0xe0      ? 3
			    : (*p & 0xf8) == 0xf0      ? 4
			                               : 0,
			       i;
			if (n == 0 || (size_t)(end - p) < n || *p == 0xc0 || *p == 0xc1 ||
			    *p > 0xf4)
				return -1;
			for (i = 1; i < n; i++)
				if ((p[i] & 0xc0) != 0x80)
					return -1;
			if (secbuf_append(out, p, n) != 0)
				return -1;
			p += n;
			continue;
		}
		switch (*p) {
		case '"': snprintf(esc, sizeof(esc), "\\\""); break;
		case '\\': snprintf(esc, sizeof(esc), "\\\\"); break;
		case '\r': snprintf(esc, sizeof(esc), "\\r"); break;
		case '\n': snprintf(esc, sizeof(esc), "\\n"); break;
		case '\t': snprintf(esc, sizeof(esc), "\\t"); break;
		default: snprintf(esc, sizeof(esc), "\\u%04x", *p); break;
		}
		if (secbuf_puts(out, esc) != 0)
			return -1;
		p++;
	}
	return 0;
}

static int
json_string(struct secbuf *out, const char *s, size_t len)
{
	if (secbuf_puts(out, "\"") != 0 || json_escape(out, s, len) != 0 ||
	    secbuf_puts(out, "\"") != 0)
		return -1;
	return 0;
}

/* The transmission request.  0, or -1 with err filled. */
static int
api_body(const struct tool_message *m, const struct secbuf *msg, int track, struct secbuf *out,
    char *err, size_t errlen)
{
	const char *tracking = track
	    ? "{\"options\":{\"open_tracking\":true,\"click_tracking\":true,"
	    : "{\"options\":{\"open_tracking\":false,\"click_tracking\":false,";
	size_t i;

	if (secbuf_puts(out, tracking) != 0 ||
	    secbuf_puts(out,
	        "\"transactional\":true},\"campaign_id\":\"smime-tool\",\"recipients\":[") != 0)
		goto nomem;
	for (i = 0; i < m->nrcpt; i++) {
		if (secbuf_puts(out,
		        i > 0 ? ",{\"address\":{\"email\":" : "{\"address\":{\"email\":") != 0 ||
		    json_string(out, m->rcpts[i].addr, strlen(m->rcpts[i].addr)) != 0)
			goto nomem;
		if (m->rcpts[i].name[0] != '\0' &&
		    (secbuf_puts(out, ",\"name\":") != 0 ||
		        json_string(out, m->rcpts[i].name, strlen(m->rcpts[i].name)) != 0)) {
			errmsg_set(err, errlen, "the name of recipient %s is not UTF-8",
			    m->rcpts[i].addr);
			return -1;
		}
		if (secbuf_puts(out, "}}") != 0)
			goto nomem;
	}
	if (secbuf_puts(out, "],\"content\":{\"email_rfc822\":") != 0)
		goto nomem;
	if (json_string(out, msg->data, msg->len) != 0) {
		errmsg_set(err, errlen,
		    "the message is not UTF-8 text: the API takes it only as a JSON string");
		return -1;
	}
	if (secbuf_puts(out, "}}") != 0)
		goto nomem;
	return 0;
nomem:
	errmsg_set(err, errlen, "out of memory");
	return -1;
}

static size_t
api_reply(char *data, size_t size, size_t nitems, void *arg)
{
	struct secbuf *b = arg;
	size_t len = size * nitems;

	if (b->len + len > API_REPLY_MAX || secbuf_append(b, data, len) != 0)
		return 0;
	return len;
}

/* "https://" + host[:port] without a trailing slash; NULL for http:// or garbage. */
static char *
api_base(const char *host)
{
	const char *h = host;
	char *out;
	size_t len;

	if (strncasecmp(h, "http://", 7) == 0)
		return NULL;
	if (strncasecmp(h, "https://", 8) == 0)
		h += 8;
	len = strlen(h);
	while (len > 0 && h[len - 1] == '/')
		len--;
	if (len == 0 || strcspn(h, " \t\r\n/?#@") < len)
		return NULL;
	out = malloc(len + 9);
	if (out != NULL)
		snprintf(out, len + 9, "https://%.*s", (int)len, h);
	return out;
}

/* "total_accepted_recipients":N in the reply, or -1. */
static long
api_accepted(const struct secbuf *reply)
{
	const char *p = reply->data ? strstr(reply->data, "\"total_accepted_recipients\"") : NULL;

	if (p == NULL)
		return -1;
	p += strlen("\"total_accepted_recipients\"");
	while (*p == ' ' || *p == ':')
		p++;
	return strtol(p, NULL, 10);
}

int
api_send(const char *label, const struct tool_message *m, const struct secbuf *msg, int track)
{
	const char *host = getenv("SPARKPOST_HOST"), *key = getenv("SPARKPOST_API_KEY");
	const char *ca = getenv("SPARKPOST_CA_FILE");
	struct secbuf body, reply, auth;
	struct curl_slist *headers = NULL, *n;
	char url[1024], err[256], errbuf[CURL_ERROR_SIZE];
	char *base = NULL, *from = NULL, *to = NULL;
	CURL *curl = NULL;
	CURLcode rc;
	long status = 0, accepted;
	double t0;
	int ret = TOOL_EXIT_FAIL;

	secbuf_init(&body);
	secbuf_init(&reply);
	secbuf_init(&auth);
	errbuf[0] = '\0';
	if (key == NULL || *key == '\0') {
		fprintf(stderr, "Environment var SPARKPOST_API_KEY not set - stopping\n");
		return TOOL_EXIT_FAIL;
	}
	if (strpbrk(key, "\r\n") != NULL) {
		fprintf(stderr,
		    "Environment var SPARKPOST_API_KEY holds a line break - stopping\n");
		return TOOL_EXIT_FAIL;
	}
	if (host == NULL || *host == '\0')
		host = "api.sparkpost.com";
	base = api_base(host);
	if (base == NULL) {
		fprintf(stderr,
		    "Environment var SPARKPOST_HOST must be an https host[:port], not %s - stopping\n",
		    host);
		return TOOL_EXIT_FAIL;
	}
	if (m->nrcpt == 0) {
		fprintf(stderr, "%s: no recipients in To, Cc or Bcc - stopping\n", label);
		goto cleanup;
	}
	if (api_body(m, msg, track, &body, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s - stopping\n", label, err);
		goto cleanup;
	}
	snprintf(url, sizeof(url), "%s/api/v1/transmissions", base);
	if (secbuf_puts(&auth, "Authorization: ") != 0 || secbuf_puts(&auth, key) != 0 ||
	    (n = curl_slist_append(headers, auth.data)) == NULL ||
	    (headers = n, n = curl_slist_append(headers, "Content-Type: application/json")) ==
	        NULL ||
	    (headers = n, n = curl_slist_append(headers, "Accept: application/json")) == NULL) {
		fprintf(stderr, "out of memory\n");
		goto cleanup;
	}
	headers = n;
	curl = curl_easy_init();
	if (curl == NULL) {
		fprintf(stderr, "cannot start libcurl - stopping\n");
		goto cleanup;
	}
	curl_easy_setopt(curl, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
#else
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, api_reply);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 600L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "smime-tool/" PACKAGE_VERSION);
	if (ca != NULL && *ca != '\0')
		curl_easy_setopt(curl, CURLOPT_CAINFO, ca);

	from = message_header_text(m, "From");
	to = message_header_text(m, "To");
	printf("Opened connection to %s\n", base);
	printf("Sending %s From: %s To: %s\n", label, from ? from : "", to ? to : "");
	fflush(stdout);
	t0 = tool_now();
	rc = curl_easy_perform(curl);
	if (rc != CURLE_OK) {
		fprintf(stderr, "API request to %s failed: %s%s%s\n", url, curl_easy_strerror(rc),
		    errbuf[0] ? ": " : "", errbuf);
		goto cleanup;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		fprintf(stderr, "error code %ld : %s\n", status, reply.data ? reply.data : "");
		goto cleanup;
	}
	accepted = api_accepted(&reply);
	if (accepted != (long)m->nrcpt) {
		fprintf(stderr, "%s\n", reply.data ? reply.data : "");
		goto cleanup;
	}
	printf("OK - in %.3f seconds\n", tool_now() - t0);
	ret = TOOL_EXIT_OK;
cleanup:
	for (n = headers; n != NULL; n = n->next)
		OPENSSL_cleanse(n->data, strlen(n->data));
	curl_easy_cleanup(curl);
	curl_slist_free_all(headers);
	secbuf_free(&auth);
	secbuf_free(&body);
	secbuf_free(&reply);
	free(base);
	free(from);
	free(to);
	return ret;
}
