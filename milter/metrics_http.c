/*
 * metrics_http.c - the metrics endpoint: libmicrohttpd on metrics-listen
 * serves GET /metrics in the Prometheus text format (metrics.h), with the
 * gauges of the configuration in force (certificates indexed, messages in
 * flight, signing certificate expiry).  Anything else is 404; methods
 * other than GET and HEAD are 405.  The listener belongs to the milter
 * process: a reload keeps it (a changed metrics-listen takes effect when
 * the daemon is started again).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "certindex.h"
#include "log.h"
#include "metrics.h"
#include "milter.h"

static struct MHD_Daemon *httpd;

/* The gauges of the configuration in force, after the counters. */
static void
write_gauges(FILE *f)
{
	struct conf *c = milter_get_conf();
	const char *name = "smime_milter_certificates_indexed";

	metrics_write_gauge(f, name,
	    "Address and certificate pairs in the recipient certificate index (cert-dir, "
	    "harvest-dir).");
	metrics_write_sample(f, name, NULL,
	    c != NULL && c->certs != NULL ? (double)certindex_count(c->certs) : 0);
	name = "smime_milter_messages_in_flight";
	metrics_write_gauge(f, name, "Messages between MAIL FROM and their end.");
	metrics_write_sample(f, name, NULL, (double)milter_inflight_count());
	milter_signers_write_metrics(f);
	conf_unref(c);
}

static struct MHD_Response *
text_response(const char *text)
{
	return MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result
answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **state)
{
	struct MHD_Response *resp;
	enum MHD_Result rc;
	unsigned status = MHD_HTTP_OK;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)cls;
	(void)version;
	(void)upload;
	(void)upload_size;
	(void)state;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		resp = text_response("only GET\n");
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
	} else if (strcmp(url, "/metrics") != 0) {
		resp = text_response("not found: the metrics are at /metrics\n");
		status = MHD_HTTP_NOT_FOUND;
	} else {
		f = open_memstream(&buf, &len);
		if (f == NULL)
			return MHD_NO;
		(void)metrics_write(f);
		write_gauges(f);
		if (fclose(f) != 0) {
			free(buf);
			return MHD_NO;
		}
		resp = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	}
	if (resp == NULL)
		return MHD_NO;
	(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    status == MHD_HTTP_OK ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain");
	rc = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return rc;
}

int
milter_metrics_start(const struct conf *c, char *err, size_t errlen)
{
	/* poll(), not select(): descriptors above FD_SETSIZE with many MTA connections open */
	unsigned flags = MHD_is_feature_supported(MHD_FEATURE_POLL) == MHD_YES
	    ? MHD_USE_POLL_INTERNAL_THREAD
	    : MHD_USE_INTERNAL_POLLING_THREAD;

	if (c->metrics_listen == NULL)
		return 0;
	if (c->metrics_addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	httpd = MHD_start_daemon(flags, 0, NULL, NULL, answer, NULL, MHD_OPTION_SOCK_ADDR,
	    (const struct sockaddr *)&c->metrics_addr, MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
	if (httpd == NULL) {
		snprintf(err, errlen, "metrics-listen %s: cannot listen there", c->metrics_listen);
		return -1;
	}
	return 0;
}

void
milter_metrics_stop(void)
{
	if (httpd != NULL)
		MHD_stop_daemon(httpd);
	httpd = NULL;
}
