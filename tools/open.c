/*
 * open.c - "smime-tool verify" and "smime-tool decrypt": what an
 * administrator runs to check a delivered message.
 *
 * verify   a signed message (multipart/signed, or application/pkcs7-mime
 *          signed-data): check the signature and the signer's chain.
 * decrypt  an enveloped message with a recipient's key; when the content
 *          inside is signed, verify it as well.  The result is the original
 *          message: the outer headers (minus the S/MIME Content-* ones)
 *          followed by the recovered entity.
 *
 * The same code as the milter's receiving side does the work, streaming:
 * the message goes into a spool (canonicalised to CRLF first, so a message
 * saved with bare LF line ends still verifies), cmssplit and envelope_open
 * decrypt it, sigverify_spool checks signatures with CMS_verify reading the
 * signed content from a spool.  Memory does not grow with the message.
 * Verdicts go to stderr; the recovered message goes to stdout (decrypt) or
 * --out, and only when decryption and verification succeeded.  Plaintext
 * lives in spools (encrypted on disk, wiped in memory); key bytes are wiped.
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

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "certstore.h"
#include "cmssplit.h"
#include "envelope.h"
#include "errmsg.h"
#include "inbound.h"
#include "keystore_identity.h"
#include "mime.h"
#include "sigverify.h"
#include "spool.h"
#include "tool.h"

/* Where the recovered content is: len bytes of sp from off on. */
struct range {
	spool *sp;
	uint64_t off, len;
};

/* The file, CRLF-canonical, into a new spool.  NULL with err. */
static spool *
load_canonical(const char *path, char *err, size_t errlen)
{
	static char in[65536], out[2 * sizeof(in)];
	struct mime_canon canon;
	struct stat st;
	spool *sp = NULL;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		errmsg_set(err, errlen, "Unable to open file %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		errmsg_set(err, errlen, "%s is not a regular file", path);
		goto fail;
	}
	if ((sp = spool_new(SPOOL_DEFAULT_MEMORY, NULL)) == NULL) {
		errmsg_set(err, errlen, "out of memory");
		goto fail;
	}
	mime_canon_init(&canon);
	while ((n = read(fd, in, sizeof(in))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			errmsg_set(err, errlen, "cannot read %s: %s", path, strerror(errno));
			goto fail;
		}
		if (spool_write(sp, out, mime_canon_chunk(&canon, in, (size_t)n, out), err,
		        errlen) != 0)
			goto fail;
	}
	close(fd);
	OPENSSL_cleanse(in, sizeof(in));
	OPENSSL_cleanse(out, sizeof(out));
	return sp;
fail:
	close(fd);
	spool_free(sp);
	OPENSSL_cleanse(in, sizeof(in));
	OPENSSL_cleanse(out, sizeof(out));
	return NULL;
}

/* OpenSSL's queued errors, as text: "reason (detail); reason ...". */
static const char *
ssl_reason(char *buf, size_t len)
{
	const char *data;
	unsigned long e;
	size_t o = 0;
	int flags;

	buf[0] = '\0';
	while (o + 1 < len && (e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		const char *r = ERR_reason_error_string(e);
		if (r != NULL && strstr(buf, r) != NULL)
			continue; /* the same reason again, once per recipient tried */
		o += (size_t)snprintf(buf + o, len - o, "%s%s%s%s%s", o > 0 ? "; " : "",
		    r != NULL ? r : "unknown error", (flags & ERR_TXT_STRING) && *data ? " (" : "",
		    (flags & ERR_TXT_STRING) ? data : "",
		    (flags & ERR_TXT_STRING) && *data ? ")" : "");
	}
	if (buf[0] == '\0')
		snprintf(buf, len, "unknown error");
	ERR_clear_error();
	return buf;
}

static X509_STORE *
trust_store(const char *ca_file)
{
	X509_STORE *st = X509_STORE_new();

	if (st == NULL)
		return NULL;
	if (ca_file != NULL ? !X509_STORE_load_file(st, ca_file)
	                    : !X509_STORE_set_default_paths(st)) {
		X509_STORE_free(st);
		return NULL;
	}
	X509_STORE_set_purpose(st, X509_PURPOSE_SMIME_SIGN);
	return st;
}

/* "alice@example.com (CN=...)" of a signer certificate. */
static void
describe_cert(X509 *cert, char *out, size_t outlen)
{
	STACK_OF(OPENSSL_STRING) *emails = X509_get1_email(cert);
	char subject[256];

	X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
	snprintf(out, outlen, "%s (%s)",
	    emails != NULL && sk_OPENSSL_STRING_num(emails) > 0 ? sk_OPENSSL_STRING_value(emails, 0)
	                                                        : "no e-mail address",
	    subject);
	X509_email_free(emails);
}

/* The media type of h's Content-Type, lower case ("" when there is none). */
static void
content_type(const struct mime_headers *h, char *type, size_t len, char *st, size_t stlen)
{
	const struct mime_header *ct = mime_headers_find(h, "Content-Type");

	type[0] = st[0] = '\0';
	if (ct != NULL && mime_type(ct->value, type, len) != 0)
		type[0] = '\0';
	if (ct == NULL || mime_param(ct->value, "smime-type", st, stlen) != 0)
		st[0] = '\0';
}

/*
 * Verify the signed entity whose header is h and whose body is sp's bytes
 * from off on.  The signed content's place goes to *got (an opaque
 * signature's content into the new spool content).  Returns TOOL_EXIT_OK,
 * _FAIL (bad signature or chain) or _NOTSMIME (not signed).
 */
static int
verify_entity(const char *what, const struct mime_headers *h, spool *sp, uint64_t off,
    const char *ca_file, spool *content, struct range *got)
{
	const struct mime_header *ct = mime_headers_find(h, "Content-Type");
	struct sigverify_result sv;
	X509_STORE *store = NULL;
	char type[128], st[64], why[256], who[512];
	int rc = TOOL_EXIT_FAIL;

	memset(&sv, 0, sizeof(sv));
	content_type(h, type, sizeof(type), st, sizeof(st));
	if (strcmp(type, "multipart/signed") != 0 && strcmp(type, "application/pkcs7-mime") != 0 &&
	    strcmp(type, "application/x-pkcs7-mime") != 0) {
		fprintf(stderr, "%s: not an S/MIME message: Content-Type is %s\n", what,
		    type[0] != '\0' ? type : "missing");
		return TOOL_EXIT_NOTSMIME;
	}
	if (strcasecmp(st, "enveloped-data") == 0 || strcasecmp(st, "authEnveloped-data") == 0) {
		fprintf(stderr,
		    "%s: S/MIME but not signed (%s): use smime-tool decrypt --key KEY.pem\n", what,
		    st);
		return TOOL_EXIT_NOTSMIME;
	}
	store = trust_store(ca_file);
	if (store == NULL) {
		fprintf(stderr, "cannot load the trusted certificates%s%s: %s\n",
		    ca_file ? " from " : "", ca_file ? ca_file : "", ssl_reason(why, sizeof(why)));
		return TOOL_EXIT_FAIL;
	}
	switch (sigverify_spool(ct->value, sp, off, store, NULL, content, &sv)) {
	case SIGVERIFY_GOOD:
		if (sv.chain_error != X509_V_OK) {
			fprintf(stderr, "Verification FAILED: %s\n", sv.reason);
			break;
		}
		describe_cert(sv.signer, who, sizeof(who));
		fprintf(stderr, "Verification successful: signed by %s\n", who);
		if (strcmp(type, "multipart/signed") == 0)
			*got = (struct range){sp, off + sv.part_off, sv.part_len};
		else
			*got = (struct range){content, 0, spool_size(content)};
		rc = TOOL_EXIT_OK;
		break;
	case SIGVERIFY_MALFORMED:
		if (strcmp(sv.reason, "signature is not CMS SignedData") == 0) {
			fprintf(stderr,
			    "%s: S/MIME but not signed: use smime-tool decrypt --key KEY.pem\n",
			    what);
			rc = TOOL_EXIT_NOTSMIME;
			break;
		}
		/* fall through */
	case SIGVERIFY_BAD: fprintf(stderr, "Verification FAILED: %s\n", sv.reason); break;
	default: fprintf(stderr, "%s: %s\n", what, sv.reason);
	}
	sigverify_result_free(&sv);
	X509_STORE_free(store);
	return rc;
}

/* Outer headers of a message (minus Content-*, which the S/MIME layer owns) into out. */
static int
outer_headers(const struct mime_headers *h, struct secbuf *out)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		if (mime_is_content_header(h->v[i].name))
			continue;
		if (secbuf_puts(out, h->v[i].name) != 0 || secbuf_puts(out, ":") != 0 ||
		    secbuf_puts(out, h->v[i].value) != 0 || secbuf_puts(out, "\r\n") != 0)
			return -1;
	}
	return 0;
}

/* head, then the content in r, to out_path (NULL: stdout). */
static int
write_out(const char *out_path, const struct mime_headers *h, const struct range *r)
{
	struct secbuf head = SECBUF_INIT;
	FILE *f = out_path != NULL ? fopen(out_path, "wb") : stdout;
	BIO *in = spool_bio_reader(r->sp, r->off, r->len);
	char buf[65536];
	int n = 0, ok;

	if (f == NULL) {
		perror(out_path);
		BIO_free(in);
		return -1;
	}
	ok = in != NULL && outer_headers(h, &head) == 0 &&
	    (head.len == 0 || fwrite(head.data, 1, head.len, f) == head.len);
	while (ok && (n = BIO_read(in, buf, sizeof(buf))) > 0)
		ok = fwrite(buf, 1, (size_t)n, f) == (size_t)n;
	ok = ok && n == 0;
	if (out_path != NULL)
		ok = fclose(f) == 0 && ok;
	else
		ok = fflush(f) == 0 && ok;
	if (!ok)
		fprintf(stderr, "cannot write %s%s%s\n", out_path ? out_path : "the output",
		    in != NULL && spool_bio_error(in)[0] ? ": " : "",
		    in ? spool_bio_error(in) : "");
	OPENSSL_cleanse(buf, sizeof(buf));
	secbuf_free(&head);
	BIO_free(in);
	return ok ? 0 : -1;
}

/* The message in path: its spool and headers.  0, or -1 (said on stderr). */
static int
load_message(const char *path, spool **sp, struct mime_headers *h, uint64_t *body_off)
{
	char err[512];

	mime_headers_init(h);
	*sp = load_canonical(path, err, sizeof(err));
	if (*sp == NULL) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	if (inbound_read_headers(*sp, 0, UINT64_MAX, h, body_off, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: not a message: %s\n", path, err);
		return -1;
	}
	return 0;
}

int
open_verify(const char *path, const char *ca_file, const char *out_path)
{
	struct mime_headers h;
	struct range got;
	spool *msg = NULL, *content = spool_new(SPOOL_DEFAULT_MEMORY, NULL);
	uint64_t off;
	int rc = TOOL_EXIT_FAIL;

	if (content == NULL) {
		fprintf(stderr, "out of memory\n");
		return rc;
	}
	if (load_message(path, &msg, &h, &off) == 0) {
		rc = verify_entity(path, &h, msg, off, ca_file, content, &got);
		if (rc == TOOL_EXIT_OK && out_path != NULL && write_out(out_path, &h, &got) != 0)
			rc = TOOL_EXIT_FAIL;
	}
	mime_headers_clear(&h);
	spool_free(msg);
	spool_free(content);
	return rc;
}

/* Private key (and the certificate matching it, when the file has one). */
static int
load_key(const char *key_path, const char *cert_path, EVP_PKEY **key, X509 **cert)
{
	struct secbuf raw;
	char err[512];
	BIO *b = NULL;
	X509 *c;

	*key = NULL;
	*cert = NULL;
	if (tool_read_file(key_path, &raw, err, sizeof(err)) != 0) {
		fprintf(stderr, "Private key file %s: %s - stopping\n", key_path, err);
		return -1;
	}
	b = BIO_new_mem_buf(raw.data, (int)raw.len);
	if (b != NULL)
		*key = PEM_read_bio_PrivateKey(b, NULL, NULL, (void *)"");
	if (*key == NULL) {
		fprintf(stderr, "%s holds no readable (unencrypted PEM) private key - stopping\n",
		    key_path);
		goto fail;
	}
	if (cert_path != NULL) {
		*cert = certstore_load_file(cert_path, err, sizeof(err));
		if (*cert == NULL) {
			fprintf(stderr, "%s - stopping\n", err);
			goto fail;
		}
	} else {
		(void)BIO_reset(b);
		while ((c = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
			if (*cert == NULL && X509_check_private_key(c, *key))
				*cert = c;
			else
				X509_free(c);
		}
	}
	ERR_clear_error();
	BIO_free(b);
	secbuf_free(&raw);
	return 0;
fail:
	ERR_clear_error();
	EVP_PKEY_free(*key);
	*key = NULL;
	BIO_free(b);
	secbuf_free(&raw);
	return -1;
}

/*
 * The pkcs7-mime body of the message (h, sp from off) decrypted with id
 * into plain.  TOOL_EXIT_OK, or the exit code (said on stderr).
 */
static int
decrypt_body(const char *path, const char *key_path, const struct mime_headers *h, spool *sp,
    uint64_t off, const struct keystore_identity *id, spool *plain)
{
	struct cmssplit s;
	spool *cipher = spool_new(SPOOL_DEFAULT_MEMORY, NULL);
	BIO *out = spool_bio_new(plain);
	char type[128], st[64], reason[600];
	int rc = TOOL_EXIT_NOTSMIME;

	memset(&s, 0, sizeof(s));
	content_type(h, type, sizeof(type), st, sizeof(st));
	if (cipher == NULL || out == NULL) {
		fprintf(stderr, "out of memory\n");
		rc = TOOL_EXIT_FAIL;
	} else if (strcmp(type, "multipart/signed") == 0) {
		fprintf(stderr, "%s: S/MIME but not encrypted (%s): use smime-tool verify\n", path,
		    OBJ_nid2sn(NID_pkcs7_signed));
	} else if (strcmp(type, "application/pkcs7-mime") != 0 &&
	    strcmp(type, "application/x-pkcs7-mime") != 0) {
		fprintf(stderr, "%s: not an S/MIME message: Content-Type is %s\n", path,
		    type[0] != '\0' ? type : "missing");
	} else {
		switch (cmssplit_read(sp, off, 1, cipher, &s, reason, sizeof(reason))) {
		case CMSSPLIT_OK: break;
		case CMSSPLIT_ERROR: rc = TOOL_EXIT_FAIL; /* fall through */
		default:
			fprintf(stderr, "%s: not an S/MIME message: %s\n", path, reason);
			goto cleanup;
		}
		if (s.nid == NID_pkcs7_signed) {
			fprintf(stderr,
			    "%s: S/MIME but not encrypted (%s): use smime-tool verify\n", path,
			    OBJ_nid2sn(s.nid));
			goto cleanup;
		}
		switch (envelope_open(&s, cipher, id, 1, out, NULL, reason, sizeof(reason))) {
		case ENVELOPE_OK:
			fprintf(stderr, "Decryption successful with %s\n", key_path);
			rc = TOOL_EXIT_OK;
			break;
		case ENVELOPE_ERROR:
			fprintf(stderr, "%s: %s\n", path, reason);
			rc = TOOL_EXIT_FAIL;
			break;
		default:
			fprintf(stderr, "%s: cannot decrypt with %s: %s\n", path, key_path, reason);
			rc = TOOL_EXIT_NODECRYPT;
		}
	}
cleanup:
	BIO_free(out);
	cmssplit_free(&s);
	spool_free(cipher);
	return rc;
}

int
open_decrypt(const char *path, const char *key_path, const char *cert_path, const char *ca_file,
    const char *out_path)
{
	struct keystore_identity id;
	struct mime_headers h, ih;
	struct range got;
	spool *msg = NULL, *plain = spool_new(SPOOL_DEFAULT_MEMORY, NULL),
	      *content = spool_new(SPOOL_DEFAULT_MEMORY, NULL);
	const struct mime_header *ct;
	char err[512];
	uint64_t off, ioff;
	int rc = TOOL_EXIT_FAIL;

	memset(&id, 0, sizeof(id));
	mime_headers_init(&h);
	mime_headers_init(&ih);
	if (plain == NULL || content == NULL) {
		fprintf(stderr, "out of memory\n");
		goto cleanup;
	}
	if (load_message(path, &msg, &h, &off) != 0 ||
	    load_key(key_path, cert_path, &id.key, &id.cert) != 0)
		goto cleanup;
	rc = decrypt_body(path, key_path, &h, msg, off, &id, plain);
	if (rc != TOOL_EXIT_OK)
		goto cleanup;
	/* signed inside?  Look at the decrypted entity's Content-Type. */
	if (inbound_read_headers(plain, 0, UINT64_MAX, &ih, &ioff, err, sizeof(err)) == 0 &&
	    (ct = mime_headers_find(&ih, "Content-Type")) != NULL &&
	    mime_is_protected_type(ct->value)) {
		rc = verify_entity("decrypted content", &ih, plain, ioff, ca_file, content, &got);
	} else {
		fprintf(stderr, "The content is not signed\n");
		got = (struct range){plain, 0, spool_size(plain)};
	}
	if (rc == TOOL_EXIT_OK && write_out(out_path, &h, &got) != 0)
		rc = TOOL_EXIT_FAIL; /* nothing is written unless it all checks out */
cleanup:
	EVP_PKEY_free(id.key);
	X509_free(id.cert);
	mime_headers_clear(&h);
	mime_headers_clear(&ih);
	spool_free(msg);
	spool_free(plain);
	spool_free(content);
	return rc;
}
