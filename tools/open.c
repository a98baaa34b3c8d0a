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
 * The input is canonicalised to CRLF first, so a message saved with bare
 * LF line ends (an mbox, a Maildir file) still verifies.  Verdicts go to
 * stderr; the recovered message goes to stdout (decrypt) or --out, and
 * only when decryption and verification succeeded.  Key bytes are wiped.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "certstore.h"
#include "errmsg.h"
#include "mime.h"
#include "tool.h"

/* The file, CRLF-canonical.  0, or -1 with err. */
static int
load_canonical(const char *path, struct secbuf *out, char *err, size_t errlen)
{
	struct secbuf raw;
	struct mime_canon canon;
	char *buf;
	size_t n;

	secbuf_init(out);
	if (tool_read_file(path, &raw, err, errlen) != 0)
		return -1;
	buf = malloc(2 * raw.len + 1);
	if (buf == NULL) {
		secbuf_free(&raw);
		errmsg_set(err, errlen, "out of memory");
		return -1;
	}
	mime_canon_init(&canon);
	n = mime_canon_chunk(&canon, raw.data, raw.len, buf);
	out->data = buf;
	out->len = n;
	out->cap = 2 * raw.len + 1;
	buf[n] = '\0';
	secbuf_free(&raw);
	return 0;
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

/*
 * Verify a signed entity held in [data, data+len).  The signed content
 * goes to content (a memory BIO).  Returns TOOL_EXIT_OK, _FAIL (bad
 * signature or chain) or _NOTSMIME (not signed).
 */
static int
verify_entity(const char *what, const char *data, size_t len, const char *ca_file, BIO *content)
{
	BIO *in = BIO_new_mem_buf(data, (int)len), *bcont = NULL;
	CMS_ContentInfo *cms = NULL;
	X509_STORE *store = NULL;
	STACK_OF(X509) *signers = NULL;
	char why[256], who[512];
	int rc = TOOL_EXIT_FAIL;

	if (in == NULL || (cms = SMIME_read_CMS(in, &bcont)) == NULL) {
		fprintf(stderr, "%s: not an S/MIME message: %s\n", what,
		    ssl_reason(why, sizeof(why)));
		rc = TOOL_EXIT_NOTSMIME;
		goto cleanup;
	}
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
		fprintf(stderr, "%s: S/MIME but not signed (%s)%s\n", what,
		    OBJ_nid2sn(OBJ_obj2nid(CMS_get0_type(cms))),
		    OBJ_obj2nid(CMS_get0_type(cms)) == NID_pkcs7_enveloped
		        ? ": use smime-tool decrypt --key KEY.pem"
		        : "");
		rc = TOOL_EXIT_NOTSMIME;
		goto cleanup;
	}
	store = trust_store(ca_file);
	if (store == NULL) {
		fprintf(stderr, "cannot load the trusted certificates%s%s: %s\n",
		    ca_file ? " from " : "", ca_file ? ca_file : "", ssl_reason(why, sizeof(why)));
		goto cleanup;
	}
	if (!CMS_verify(cms, NULL, store, bcont, content, CMS_BINARY)) {
		fprintf(stderr, "Verification FAILED: %s\n", ssl_reason(why, sizeof(why)));
		goto cleanup;
	}
	signers = CMS_get0_signers(cms);
	if (signers != NULL && sk_X509_num(signers) > 0) {
		describe_cert(sk_X509_value(signers, 0), who, sizeof(who));
		fprintf(stderr, "Verification successful: signed by %s\n", who);
	} else {
		fprintf(stderr, "Verification successful\n");
	}
	rc = TOOL_EXIT_OK;
cleanup:
	sk_X509_free(signers);
	X509_STORE_free(store);
	CMS_ContentInfo_free(cms);
	BIO_free(bcont);
	BIO_free(in);
	return rc;
}

/* Outer headers of a message (minus Content-*, which the S/MIME layer owns) into out. */
static int
outer_headers(const struct secbuf *msg, struct secbuf *out)
{
	struct mime_headers h;
	char err[128];
	size_t off, i;
	int rc = -1;

	mime_headers_init(&h);
	if (mime_parse_headers(msg->data, msg->len, &h, &off, err, sizeof(err)) != 0)
		goto cleanup;
	for (i = 0; i < h.n; i++) {
		if (mime_is_content_header(h.v[i].name))
			continue;
		if (secbuf_puts(out, h.v[i].name) != 0 || secbuf_puts(out, ":") != 0 ||
		    secbuf_puts(out, h.v[i].value) != 0 || secbuf_puts(out, "\r\n") != 0)
			goto cleanup;
	}
	rc = 0;
cleanup:
	mime_headers_clear(&h);
	return rc;
}

static int
write_out(const char *out_path, const struct secbuf *head, BIO *content)
{
	FILE *f = out_path != NULL ? fopen(out_path, "wb") : stdout;
	char *data;
	long len = BIO_get_mem_data(content, &data);
	int ok;

	if (f == NULL) {
		perror(out_path);
		return -1;
	}
	ok = (head->len == 0 || fwrite(head->data, 1, head->len, f) == head->len) &&
	    (len <= 0 || fwrite(data, 1, (size_t)len, f) == (size_t)len);
	if (out_path != NULL)
		ok = fclose(f) == 0 && ok;
	else
		ok = fflush(f) == 0 && ok;
	if (!ok)
		fprintf(stderr, "cannot write %s\n", out_path ? out_path : "the output");
	return ok ? 0 : -1;
}

int
open_verify(const char *path, const char *ca_file, const char *out_path)
{
	struct secbuf msg, head;
	BIO *content = BIO_new(BIO_s_secmem());
	char err[512];
	int rc;

	secbuf_init(&head);
	if (content == NULL || load_canonical(path, &msg, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", content ? err : "out of memory");
		BIO_free(content);
		return TOOL_EXIT_FAIL;
	}
	rc = verify_entity(path, msg.data, msg.len, ca_file, content);
	if (rc == TOOL_EXIT_OK && out_path != NULL &&
	    (outer_headers(&msg, &head) != 0 || write_out(out_path, &head, content) != 0))
		rc = TOOL_EXIT_FAIL;
	secbuf_free(&msg);
	secbuf_free(&head);
	BIO_free(content);
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

int
open_decrypt(const char *path, const char *key_path, const char *cert_path, const char *ca_file,
    const char *out_path)
{
	struct secbuf msg, head;
	CMS_ContentInfo *cms = NULL;
	BIO *in = NULL, *plain = BIO_new(BIO_s_secmem()), *content = BIO_new(BIO_s_secmem());
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char err[512], *pdata;
	long plen;
	int rc = TOOL_EXIT_FAIL, nid, flags = CMS_BINARY;

	secbuf_init(&head);
	secbuf_init(&msg);
	if (plain == NULL || content == NULL) {
		fprintf(stderr, "out of memory\n");
		goto cleanup;
	}
	if (load_canonical(path, &msg, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		goto cleanup;
	}
	if (load_key(key_path, cert_path, &key, &cert) != 0)
		goto cleanup;
	in = BIO_new_mem_buf(msg.data, (int)msg.len);
	if (in == NULL || (cms = SMIME_read_CMS(in, NULL)) == NULL) {
		fprintf(stderr, "%s: not an S/MIME message: %s\n", path,
		    ssl_reason(err, sizeof(err)));
		rc = TOOL_EXIT_NOTSMIME;
		goto cleanup;
	}
	nid = OBJ_obj2nid(CMS_get0_type(cms));
	if (nid != NID_pkcs7_enveloped && nid != NID_id_smime_ct_authEnvelopedData) {
		fprintf(stderr, "%s: S/MIME but not encrypted (%s)%s\n", path, OBJ_nid2sn(nid),
		    nid == NID_pkcs7_signed ? ": use smime-tool verify" : "");
		rc = TOOL_EXIT_NOTSMIME;
		goto cleanup;
	}
	/* without a certificate every recipient is tried; report a miss instead of garbage */
	if (cert == NULL)
		flags |= CMS_DEBUG_DECRYPT;
	if (!CMS_decrypt(cms, key, cert, NULL, plain, flags)) {
		fprintf(stderr, "%s: cannot decrypt with %s: %s\n", path, key_path,
		    ssl_reason(err, sizeof(err)));
		rc = TOOL_EXIT_NODECRYPT;
		goto cleanup;
	}
	fprintf(stderr, "Decryption successful with %s\n", key_path);
	plen = BIO_get_mem_data(plain, &pdata);
	{
		/* signed inside?  Look at the decrypted entity's Content-Type. */
		struct mime_headers ih;
		const struct mime_header *ct;
		size_t off;
		int is_signed = 0;

		mime_headers_init(&ih);
		if (mime_parse_headers(pdata, (size_t)plen, &ih, &off, err, sizeof(err)) == 0 &&
		    (ct = mime_headers_find(&ih, "Content-Type")) != NULL)
			is_signed = mime_is_protected_type(ct->value);
		mime_headers_clear(&ih);
		if (is_signed) {
			rc = verify_entity("decrypted content", pdata, (size_t)plen, ca_file,
			    content);
		} else {
			fprintf(stderr, "The content is not signed\n");
			if (BIO_write(content, pdata, (int)plen) != (int)plen)
				goto cleanup;
			rc = TOOL_EXIT_OK;
		}
	}
	if (rc != TOOL_EXIT_OK)
		goto cleanup; /* nothing is written unless it all checks out */
	if (outer_headers(&msg, &head) != 0 || write_out(out_path, &head, content) != 0)
		rc = TOOL_EXIT_FAIL;
cleanup:
	EVP_PKEY_free(key);
	X509_free(cert);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	BIO_free(plain);
	BIO_free(content);
	secbuf_free(&msg);
	secbuf_free(&head);
	return rc;
}
