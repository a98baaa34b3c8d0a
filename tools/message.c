/*
 * message.c - smime-tool's view of one .eml file: read it, parse its
 * header block, collect the From: address and every To/Cc/Bcc recipient,
 * and build the outgoing message with the core library exactly as the
 * milter does:
 *
 *   inner entity = Content-* headers + empty line + CRLF body
 *                  -> smime_protect (sign, then encrypt to all recipients)
 *   outer message = original headers minus Content-* and Bcc
 *                   + MIME-Version (when absent)
 *                   + the new Content-Type / Content-Disposition /
 *                     Content-Transfer-Encoding
 *                   + the protected body; CRLF line ends throughout.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "certindex.h"
#include "errmsg.h"
#include "keystore.h"
#include "smime.h"
#include "spool.h"
#include "tool.h"

#define TOOL_MAX_FILE (256u * 1024 * 1024)
#define CANON_CHUNK   65536

int
tool_read_file(const char *path, struct secbuf *out, char *err, size_t errlen)
{
	char buf[65536];
	struct stat st;
	ssize_t n;
	int fd, rc = -1;

	secbuf_init(out);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		errmsg_set(err, errlen, "Unable to open file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		errmsg_set(err, errlen, "%s is not a regular file", path);
		goto cleanup;
	}
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			errmsg_set(err, errlen, "cannot read %s: %s", path, strerror(errno));
			goto cleanup;
		}
		if (out->len + (size_t)n > TOOL_MAX_FILE) {
			errmsg_set(err, errlen, "%s is larger than %u bytes", path, TOOL_MAX_FILE);
			goto cleanup;
		}
		if (secbuf_append(out, buf, (size_t)n) != 0) {
			errmsg_set(err, errlen, "out of memory reading %s", path);
			goto cleanup;
		}
	}
	if (out->data == NULL && secbuf_append(out, "", 0) != 0) {
		errmsg_set(err, errlen, "out of memory reading %s", path);
		goto cleanup;
	}
	rc = 0;
cleanup:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	if (rc != 0)
		secbuf_free(out);
	return rc;
}

/* ---- address lists ---- */

static int
rcpt_add(struct tool_rcpt **list, size_t *n, const char *addr, const char *name, size_t namelen)
{
	struct tool_rcpt *v;
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcasecmp((*list)[i].addr, addr) == 0)
			return 0;
	v = realloc(*list, (*n + 1) * sizeof(**list));
	if (v == NULL)
		return -1;
	*list = v;
	snprintf(v[*n].addr, sizeof(v[*n].addr), "%s", addr);
	v[*n].name = strndup(name, namelen);
	if (v[*n].name == NULL)
		return -1;
	(*n)++;
	return 0;
}

/* The display name of one mailbox: text before '<', trimmed, outer quotes dropped. */
static void
mailbox_name(const char *s, size_t len, const char **name, size_t *namelen)
{
	const char *lt = memchr(s, '<', len), *end;

	*name = s;
	*namelen = 0;
	if (lt == NULL)
		return;
	end = lt;
	while (s < end && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
		end--;
	if (end - s >= 2 && *s == '"' && end[-1] == '"') {
		s++;
		end--;
	}
	*name = s;
	*namelen = (size_t)(end - s);
}

/* One list element [s, s+len): an address, nothing (white space), or bad. */
static int
addrlist_element(const char *s, size_t len, struct tool_rcpt **list, size_t *n, int *bad)
{
	char addr[TOOL_ADDR_MAX], *copy;
	const char *name;
	size_t i, namelen;
	int rc = 0;

	for (i = 0; i < len && strchr(" \t\r\n", s[i]) != NULL; i++)
		;
	if (i == len)
		return 0;
	copy = strndup(s, len);
	if (copy == NULL)
		return -1;
	if (mime_extract_address(copy, addr, sizeof(addr)) != 0) {
		(*bad)++;
	} else {
		mailbox_name(s, len, &name, &namelen);
		rc = rcpt_add(list, n, addr, name, namelen);
	}
	free(copy);
	return rc;
}

int
addrlist_parse(const char *value, struct tool_rcpt **list, size_t *n, int *bad)
{
	const char *p, *start = value;
	int quoted = 0, depth = 0, angle = 0;

	for (p = value;; p++) {
		if (*p == '\0') {
			return addrlist_element(start, (size_t)(p - start), list, n, bad);
		} else if (quoted) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '"')
				quoted = 0;
		} else if (depth > 0) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')')
				depth--;
		} else if (*p == '"') {
			quoted = 1;
		} else if (*p == '(') {
			depth = 1;
		} else if (*p == '<') {
			angle = 1;
		} else if (*p == '>') {
			angle = 0;
		} else if (!angle && *p == ':') {
			start = p + 1; /* "group-name:" opens a group */
		} else if (!angle && (*p == ',' || *p == ';')) {
			if (addrlist_element(start, (size_t)(p - start), list, n, bad) != 0)
				return -1;
			start = p + 1;
		}
	}
}

/* ---- loading ---- */

char *
message_header_text(const struct tool_message *m, const char *name)
{
	const struct mime_header *h = mime_headers_find(&m->headers, name);
	const char *s;
	char *out;
	size_t o = 0;

	if (h == NULL)
		return NULL;
	out = malloc(strlen(h->value) + 1);
	if (out == NULL)
		return NULL;
	for (s = h->value; *s == ' ' || *s == '\t'; s++)
		;
	for (; *s != '\0'; s++) {
		if (*s == '\r' || *s == '\n')
			continue;
		out[o++] = *s == '\t' ? ' ' : *s;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
	return out;
}

int
message_load(const char *path, struct tool_message *m, char *err, size_t errlen)
{
	static const char *const rcpt_headers[] = {"To", "Cc", "Bcc"};
	const struct mime_header *from;
	const char *start;
	size_t i, k, skip = 0, off;
	char perr[256];
	int bad = 0;

	memset(m, 0, sizeof(*m));
	m->path = path;
	mime_headers_init(&m->headers);
	if (tool_read_file(path, &m->raw, err, errlen) != 0)
		return -1;
	/* an mbox "From " separator line is not part of the message */
	if (m->raw.len > 5 && memcmp(m->raw.data, "From ", 5) == 0) {
		const char *nl = memchr(m->raw.data, '\n', m->raw.len);
		skip = nl != NULL ? (size_t)(nl - m->raw.data) + 1 : m->raw.len;
	}
	start = m->raw.data + skip;
	if (mime_parse_headers(start, m->raw.len - skip, &m->headers, &off, perr, sizeof(perr)) !=
	    0) {
		errmsg_set(err, errlen, "%s: not an RFC 5322 message: %s", path, perr);
		goto fail;
	}
	m->body_off = skip + off;
	if (memchr(start, '\0', off) != NULL) {
		errmsg_set(err, errlen, "%s: NUL byte in the header block", path);
		goto fail;
	}
	if (m->headers.n == 0) {
		errmsg_set(err, errlen, "%s: no header block: not an RFC 5322 message", path);
		goto fail;
	}
	from = mime_headers_find(&m->headers, "From");
	if (from == NULL || mime_extract_address(from->value, m->from, sizeof(m->from)) != 0)
		m->from[0] = '\0';
	for (k = 0; k < sizeof(rcpt_headers) / sizeof(rcpt_headers[0]); k++) {
		for (i = 0; i < m->headers.n; i++) {
			const struct mime_header *h = &m->headers.v[i];
			if (strcasecmp(h->name, rcpt_headers[k]) != 0)
				continue;
			if (addrlist_parse(h->value, &m->rcpts, &m->nrcpt, &bad) != 0) {
				errmsg_set(err, errlen, "out of memory");
				goto fail;
			}
			if (bad > 0) {
				errmsg_set(err, errlen,
				    "%s: an address in %s:%.200s cannot be used", path, h->name,
				    h->value);
				goto fail;
			}
		}
	}
	return 0;
fail:
	message_free(m);
	return -1;
}

void
message_free(struct tool_message *m)
{
	size_t i;

	secbuf_free(&m->raw);
	mime_headers_clear(&m->headers);
	for (i = 0; i < m->nrcpt; i++)
		free(m->rcpts[i].name);
	free(m->rcpts);
	m->rcpts = NULL;
	m->nrcpt = 0;
}

/* ---- keys and certificates, with the original tool's messages ---- */

static const char *
dir_words(const char *dir, char *buf, size_t len)
{
	if (strcmp(dir, ".") == 0)
		return "current directory";
	snprintf(buf, len, "directory %s", dir);
	return buf;
}

static int
file_missing(const char *dir, const char *addr, const char *ext)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s%s", dir, addr, ext);
	return stat(path, &st) != 0 && errno == ENOENT;
}

/*
 * The index smime-tool chooses certificates through, as the milter does:
 * --cert-dir (when encrypting) with --ca-file.  *ci stays NULL when
 * neither is needed.  0, or -1 with err naming the directory or CA file.
 */
static int
open_index(const struct protect_request *req, certindex **ci, char *err, size_t errlen)
{
	const char *dirs[] = {req->encrypt ? req->cert_dir : NULL, NULL};
	struct certindex_options o = {req->ca_file, NULL};
	char why[512];

	*ci = NULL;
	if (!req->encrypt && req->ca_file == NULL)
		return 0;
	*ci = certindex_open(dirs, &o, why, sizeof(why));
	if (*ci == NULL) {
		errmsg_set(err, errlen, "%s - stopping", why);
		return -1;
	}
	return 0;
}

/* The signer's certificate must be valid, allow signing, name From: and (with ca_file) chain. */
static int
check_signer(const struct tool_message *m, const char *dir, certindex *ci,
    const struct keystore_identity *id, char *err, size_t errlen)
{
	char why[512];

	if (certindex_validate_signer(ci, id->cert, id->chain, m->from, why, sizeof(why)) == 0)
		return 0;
	errmsg_set(err, errlen, "Sender key for %s cannot be used: %s/%s.pem: %s - stopping",
	    m->from, dir, m->from, why);
	return -1;
}

static int
load_signer(const struct tool_message *m, const struct protect_request *req, certindex *ci,
    struct keystore_identity *id, char *err, size_t errlen)
{
	char words[4200], kerr[512];
	const char *dir = req->key_dir;
	struct keystore_request kq = {.dir = dir, .addr = m->from};

	if (m->from[0] == '\0') {
		errmsg_set(err, errlen, "%s: no usable From: address to sign for - stopping",
		    m->path);
		return -1;
	}
	switch (keystore_load(&kq, id, kerr, sizeof(kerr))) {
	case KEYSTORE_FOUND: return check_signer(m, dir, ci, id, err, errlen);
	case KEYSTORE_MISSING:
		errmsg_set(err, errlen, "Sender private key file %s.pem not found in %s - stopping",
		    m->from, dir_words(dir, words, sizeof(words)));
		return -1;
	default:
		if (file_missing(dir, m->from, ".crt") &&
		    strstr(kerr, "has no certificate") != NULL)
			errmsg_set(err, errlen,
			    "Sender public cert file %s.crt not found in %s - stopping", m->from,
			    dir_words(dir, words, sizeof(words)));
		else
			errmsg_set(err, errlen, "Sender key for %s cannot be used: %s - stopping",
			    m->from, kerr);
		return -1;
	}
}

/* Every recipient's certificate, chosen by certindex_find (file name or subjectAltName). */
static int
load_recipients(const struct tool_message *m, const char *dir, certindex *ci, STACK_OF(X509) *certs,
    char *err, size_t errlen)
{
	char words[4200], why[512];
	size_t i;
	X509 *cert;

	if (m->nrcpt == 0) {
		errmsg_set(err, errlen,
		    "%s: no recipients in To, Cc or Bcc to encrypt to - stopping", m->path);
		return -1;
	}
	for (i = 0; i < m->nrcpt; i++) {
		const char *addr = m->rcpts[i].addr;
		switch (certindex_find(ci, addr, &cert, why, sizeof(why))) {
		case CERTSTORE_FOUND:
			if (!sk_X509_push(certs, cert)) {
				X509_free(cert);
				errmsg_set(err, errlen, "out of memory");
				return -1;
			}
			break;
		case CERTSTORE_MISSING:
			errmsg_set(err, errlen,
			    "Recipient public cert file %s.crt not found in %s - stopping", addr,
			    dir_words(dir, words, sizeof(words)));
			return -1;
		case CERTSTORE_UNUSABLE:
			errmsg_set(err, errlen,
			    "Recipient cert for %s in %s cannot be used: %s - stopping", addr,
			    dir_words(dir, words, sizeof(words)), why);
			return -1;
		default:
			errmsg_set(err, errlen,
			    "Recipient cert for %s cannot be looked up: %s - stopping", addr, why);
			return -1;
		}
	}
	return 0;
}

/* ---- building the outgoing message ---- */

static int
collect(void *arg, const void *data, size_t len)
{
	return secbuf_append(arg, data, len);
}

/* The body of m, CRLF-canonical, into a new spool. */
static spool *
body_spool(const struct tool_message *m, char *err, size_t errlen)
{
	struct mime_canon canon;
	char *buf = malloc(2 * CANON_CHUNK);
	size_t off = m->body_off, n;
	spool *sp = spool_new(SPOOL_DEFAULT_MEMORY, NULL);

	if (buf == NULL || sp == NULL) {
		errmsg_set(err, errlen, "out of memory");
		goto fail;
	}
	mime_canon_init(&canon);
	while (off < m->raw.len) {
		size_t take = m->raw.len - off < CANON_CHUNK ? m->raw.len - off : CANON_CHUNK;
		n = mime_canon_chunk(&canon, m->raw.data + off, take, buf);
		if (spool_write(sp, buf, n, err, errlen) != 0)
			goto fail;
		off += take;
	}
	OPENSSL_cleanse(buf, 2 * CANON_CHUNK);
	free(buf);
	return sp;
fail:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, 2 * CANON_CHUNK);
		free(buf);
	}
	spool_free(sp);
	return NULL;
}

/* Original headers, minus Bcc and (when protecting) Content-*. */
static int
outer_headers(const struct tool_message *m, int protecting, struct secbuf *out)
{
	size_t i;
	int has_mime_version = 0;

	for (i = 0; i < m->headers.n; i++) {
		const struct mime_header *h = &m->headers.v[i];
		if (strcasecmp(h->name, "Bcc") == 0)
			continue;
		if (protecting && mime_is_content_header(h->name))
			continue;
		if (strcasecmp(h->name, "MIME-Version") == 0)
			has_mime_version = 1;
		if (secbuf_puts(out, h->name) != 0 || secbuf_puts(out, ":") != 0 ||
		    secbuf_puts(out, h->value) != 0 || secbuf_puts(out, "\r\n") != 0)
			return -1;
	}
	if (protecting && !has_mime_version && secbuf_puts(out, "MIME-Version: 1.0\r\n") != 0)
		return -1;
	return 0;
}

static int
add_header(struct secbuf *out, const char *name, const char *value)
{
	if (value[0] == '\0')
		return 0;
	if (secbuf_puts(out, name) != 0 || secbuf_puts(out, ": ") != 0 ||
	    secbuf_puts(out, value) != 0 || secbuf_puts(out, "\r\n") != 0)
		return -1;
	return 0;
}

/* The message passed on as it is (no signature, no encryption): CRLF body after out's headers. */
static int
copy_body(spool *sp, struct secbuf *out, char *err, size_t errlen)
{
	char buf[65536];
	ssize_t n;

	if (secbuf_puts(out, "\r\n") != 0 || spool_rewind(sp, err, errlen) != 0)
		return -1;
	while ((n = spool_read(sp, buf, sizeof(buf), err, errlen)) > 0)
		if (secbuf_append(out, buf, (size_t)n) != 0)
			break;
	OPENSSL_cleanse(buf, sizeof(buf));
	if (n > 0)
		errmsg_set(err, errlen, "out of memory");
	return n == 0 ? 0 : -1;
}

/* The S/MIME entity of m into out (after its headers) with smime_protect. */
static int
protect_body(const struct tool_message *m, const struct protect_request *req,
    const struct keystore_identity *signer, STACK_OF(X509) *certs, spool *sp, struct secbuf *out,
    char *err, size_t errlen)
{
	struct smime_request sr;
	struct smime_result *res = &sr.result;
	struct secbuf body;
	char *head = NULL;
	size_t headlen = 0;
	int rc = -1;

	secbuf_init(&body);
	if (mime_content_block(&m->headers, 0, &head, &headlen) != 0) {
		errmsg_set(err, errlen, "out of memory");
		return -1;
	}
	memset(&sr, 0, sizeof(sr));
	sr.opt.sign = req->sign;
	sr.opt.sign_format = req->opaque ? SMIME_SIGN_OPAQUE : SMIME_SIGN_DETACHED;
	sr.opt.encrypt = req->encrypt;
	sr.opt.transport_7bit =
	    1; /* sign-only: 8-bit parts re-encoded before signing, as for transport */
	sr.signer = signer;
	sr.recipients = certs;
	sr.head = head;
	sr.headlen = headlen;
	sr.body = sp;
	sr.out = collect;
	sr.out_arg = &body;
	if (smime_protect(&sr, err, errlen) != 0)
		goto cleanup;
	if (add_header(out, "Content-Type", res->content_type) != 0 ||
	    add_header(out, "Content-Disposition", res->disposition) != 0 ||
	    add_header(out, "Content-Transfer-Encoding", res->transfer_encoding) != 0 ||
	    secbuf_puts(out, "\r\n") != 0 || secbuf_append(out, body.data, body.len) != 0) {
		errmsg_set(err, errlen, "out of memory");
		goto cleanup;
	}
	rc = 0;
cleanup:
	OPENSSL_cleanse(head, headlen);
	free(head);
	secbuf_free(&body);
	return rc;
}

int
message_protect(const struct tool_message *m, const struct protect_request *req, struct secbuf *out,
    char *err, size_t errlen)
{
	struct keystore_identity signer;
	STACK_OF(X509) *certs = NULL;
	const struct mime_header *ct;
	certindex *ci = NULL;
	spool *sp = NULL;
	int rc = -1, protecting = req->sign || req->encrypt;

	memset(&signer, 0, sizeof(signer));
	secbuf_init(out);
	ct = mime_headers_find(&m->headers, "Content-Type");
	if (protecting && ct != NULL && mime_is_protected_type(ct->value)) {
		errmsg_set(err, errlen,
		    "%s is already S/MIME or PGP/MIME: not protecting it again - stopping",
		    m->path);
		goto cleanup;
	}
	if (protecting && open_index(req, &ci, err, errlen) != 0)
		goto cleanup;
	if (req->sign && load_signer(m, req, ci, &signer, err, errlen) != 0)
		goto cleanup;
	if (req->encrypt) {
		certs = sk_X509_new_null();
		if (certs == NULL) {
			errmsg_set(err, errlen, "out of memory");
			goto cleanup;
		}
		if (load_recipients(m, req->cert_dir, ci, certs, err, errlen) != 0)
			goto cleanup;
	}
	sp = body_spool(m, err, errlen);
	if (sp == NULL)
		goto cleanup;
	if (outer_headers(m, protecting, out) != 0) {
		errmsg_set(err, errlen, "out of memory");
		goto cleanup;
	}
	if (!protecting)
		rc = copy_body(sp, out, err, errlen);
	else
		rc = protect_body(m, req, &signer, certs, sp, out, err, errlen);
cleanup:
	if (rc != 0)
		secbuf_free(out);
	spool_free(sp);
	sk_X509_pop_free(certs, X509_free);
	certindex_free(ci);
	keystore_identity_free(&signer);
	return rc;
}
