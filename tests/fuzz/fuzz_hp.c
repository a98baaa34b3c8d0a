/*
 * fuzz_hp.c - libFuzzer target: the RFC 9788 header-protection builder,
 * reached as the milter reaches it: smime_protect with header_protection
 * on, over a message whose header block and body come from the input.
 *
 * A throwaway CA, a signer and a recipient (EC P-256, quick to sign and
 * decrypt) are made in memory at start-up.  Input: a flags byte (encrypt,
 * hide-subject, opaque signature), then a message: header block, empty
 * line, body.  The outer headers are parsed with mime_parse_headers; the
 * inner header block is their Content-* fields (mime_content_block).
 *
 * Invariants checked, beyond "no crash":
 *   - the result verifies (signed) or decrypts (encrypted) with the test
 *     keys, and the signature covers the Cryptographic Payload exactly;
 *   - the payload's header block parses; it starts with the protected
 *     fields of the outer header (From, To, Cc, Subject, Date, Message-ID,
 *     Reply-To, In-Reply-To, References) in order with their values, then
 *     HP-Outer copies of them when encrypted ("[...]" for a hidden Subject)
 *     and none when only signed, then the Content-* fields;
 *   - the first Content-Type carries hp="cipher" (encrypted) or hp="clear";
 *   - the body after the payload's header block is the input body.
 */
#include "config.h"

#include <strings.h>

#include <openssl/cms.h>
#include <openssl/err.h>

#include "fuzz_common.h"
#include "mime.h"
#include "smime.h"
#include "testpki.h"

static struct testpki_id ca, signer_id, rcpt;
static struct keystore_identity signer;
static STACK_OF(X509) *recipients;
static X509_STORE *trust;

static const char *const protected_names[] = {
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "In-Reply-To",
    "References",
};
#define N_PROTECTED (sizeof(protected_names) / sizeof(protected_names[0]))

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	ca = testpki_issue("ec", "Fuzz CA", NULL, NULL, -1, 365, NULL, NULL);
	signer_id = testpki_issue("ec", "Alice", "alice@example.com", &ca, -1, 365,
	    "critical,digitalSignature,keyAgreement", "emailProtection");
	rcpt = testpki_issue("ec", "Bob", "bob@example.org", &ca, -1, 365,
	    "critical,digitalSignature,keyAgreement", "emailProtection");
	signer.key = signer_id.key;
	signer.cert = signer_id.cert;
	signer.chain = sk_X509_new_null();
	recipients = sk_X509_new_null();
	trust = X509_STORE_new();
	FUZZ_CHECK(signer.chain != NULL && recipients != NULL && trust != NULL &&
	        sk_X509_push(recipients, rcpt.cert) && X509_STORE_add_cert(trust, ca.cert),
	    "test PKI");
	return 0;
}

static int
collect(void *arg, const void *data, size_t len)
{
	fbuf_add(arg, data, len);
	return 0;
}

static const char *
canonical_name(const char *name)
{
	size_t i;

	for (i = 0; i < N_PROTECTED; i++)
		if (strcasecmp(name, protected_names[i]) == 0)
			return protected_names[i];
	return NULL;
}

/* base64 body of an application/pkcs7-mime result -> CMS. */
static CMS_ContentInfo *
cms_of(const struct fbuf *o)
{
	struct fbuf der = {0};
	const unsigned char *q;
	CMS_ContentInfo *cms;

	FUZZ_CHECK(fuzz_b64_decode(o->p, o->len, &der) == 0, "result is not base64");
	q = der.p;
	cms = d2i_CMS_ContentInfo(NULL, &q, (long)der.len);
	FUZZ_CHECK(cms != NULL, "result is not CMS");
	fbuf_free(&der);
	return cms;
}

static void
bio_drain(BIO *b, struct fbuf *out)
{
	char buf[4096];
	int n;

	while ((n = BIO_read(b, buf, sizeof(buf))) > 0)
		fbuf_add(out, buf, (size_t)n);
}

/* The multipart/signed entity in m: verify it and return its first part in payload. */
static void
open_detached(const unsigned char *m, size_t len, const char *boundary, struct fbuf *payload)
{
	char delim[128];
	const unsigned char *start, *end, *sigh, *sigb, *sige;
	struct fbuf sig = {0};
	CMS_ContentInfo *cms;
	const unsigned char *q;
	BIO *content;

	snprintf(delim, sizeof(delim), "--%s\r\n", boundary);
	start = fuzz_memmem(m, len, delim, strlen(delim));
	FUZZ_CHECK(start != NULL, "no first boundary");
	start += strlen(delim);
	snprintf(delim, sizeof(delim), "\r\n--%s\r\n", boundary);
	end = fuzz_memmem(start, len - (size_t)(start - m), delim, strlen(delim));
	FUZZ_CHECK(end != NULL, "no second boundary");
	sigh = end + strlen(delim);
	sigb = fuzz_memmem(sigh, len - (size_t)(sigh - m), "\r\n\r\n", 4);
	FUZZ_CHECK(sigb != NULL, "signature part without its header");
	sigb += 4;
	snprintf(delim, sizeof(delim), "\r\n--%s--", boundary);
	sige = fuzz_memmem(sigb, len - (size_t)(sigb - m), delim, strlen(delim));
	FUZZ_CHECK(sige != NULL, "no close delimiter");
	FUZZ_CHECK(fuzz_b64_decode(sigb, (size_t)(sige - sigb), &sig) == 0, "signature not base64");
	q = sig.p;
	cms = d2i_CMS_ContentInfo(NULL, &q, (long)sig.len);
	FUZZ_CHECK(cms != NULL, "signature is not CMS");
	content = BIO_new_mem_buf(start, (int)(end - start));
	FUZZ_CHECK(CMS_verify(cms, NULL, trust, content, NULL, CMS_BINARY | CMS_DETACHED) == 1,
	    "the detached signature does not verify over the payload");
	fbuf_add(payload, start, (size_t)(end - start));
	BIO_free(content);
	CMS_ContentInfo_free(cms);
	fbuf_free(&sig);
}

/* Signed-data (opaque) CMS: verify and return the content. */
static void
open_opaque(CMS_ContentInfo *cms, struct fbuf *payload)
{
	BIO *out = BIO_new(BIO_s_mem());

	FUZZ_CHECK(CMS_verify(cms, NULL, trust, NULL, out, CMS_BINARY) == 1,
	    "the opaque signature does not verify");
	bio_drain(out, payload);
	BIO_free(out);
}

/* The payload's header block against the outer headers, and its body against body. */
static void
check_payload(const struct fbuf *pl, const struct mime_headers *outer, int cipher, int hide,
    const unsigned char *body, size_t blen)
{
	struct mime_headers in;
	const struct mime_header *ct;
	size_t off = 0, i, k = 0;
	char err[128], hp[32];

	mime_headers_init(&in);
	FUZZ_CHECK(mime_parse_headers((const char *)pl->p, pl->len, &in, &off, err, sizeof(err)) ==
	        0,
	    "payload header block does not parse: %s", err);
	for (i = 0; i < outer->n; i++) {
		const char *name = canonical_name(outer->v[i].name);
		if (name == NULL)
			continue;
		FUZZ_CHECK(k < in.n && strcmp(in.v[k].name, name) == 0,
		    "protected field %s missing", name);
		FUZZ_CHECK(strcmp(in.v[k].value +
		                   (in.v[k].value[0] == ' ' && outer->v[i].value[0] != ' ' &&
		                       outer->v[i].value[0] != '\t'),
		               outer->v[i].value) == 0,
		    "protected field %s changed", name);
		k++;
	}
	for (i = 0; cipher && i < outer->n; i++) {
		const char *name = canonical_name(outer->v[i].name);
		char want[64];
		if (name == NULL)
			continue;
		FUZZ_CHECK(k < in.n && strcasecmp(in.v[k].name, "HP-Outer") == 0,
		    "HP-Outer missing");
		snprintf(want, sizeof(want), " %s:", name);
		FUZZ_CHECK(strncmp(in.v[k].value, want, strlen(want)) == 0, "HP-Outer for %s: %s",
		    name, in.v[k].value);
		if (hide && strcmp(name, "Subject") == 0)
			FUZZ_CHECK(strcmp(in.v[k].value, " Subject: [...]") == 0,
			    "hidden Subject shown");
		k++;
	}
	for (; k < in.n; k++)
		FUZZ_CHECK(mime_is_content_header(in.v[k].name), "%s after the protected fields",
		    in.v[k].name);
	ct = mime_headers_find(&in, "Content-Type");
	FUZZ_CHECK(ct != NULL, "payload without a Content-Type");
	FUZZ_CHECK(mime_param(ct->value, "hp", hp, sizeof(hp)) == 0 &&
	        strcmp(hp, cipher ? "cipher" : "clear") == 0,
	    "hp parameter wrong: %s", ct->value);
	FUZZ_CHECK(pl->len - off == blen && (blen == 0 || memcmp(pl->p + off, body, blen) == 0),
	    "payload body differs from the message body");
	mime_headers_clear(&in);
}

/* Header values the payload can carry: folded lines only, no 8-bit trickery needed. */
static int
usable_headers(const struct mime_headers *h)
{
	size_t i;
	const char *v;

	for (i = 0; i < h->n; i++)
		for (v = h->v[i].value; *v != '\0'; v++)
			if (*v == '\r' && v[2] != ' ' && v[2] != '\t')
				return 0;
	return h->n < 64;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smime_options opt = {0};
	struct smime_result res;
	struct mime_headers outer;
	struct fbuf out = {0}, payload = {0};
	char err[256], boundary[128], *head = NULL;
	size_t off = 0, headlen = 0;
	spool *body = NULL;
	int flags, rc;

	if (size < 1 || size > 64 * 1024)
		return 0;
	flags = data[0];
	mime_headers_init(&outer);
	if (mime_parse_headers((const char *)data + 1, size - 1, &outer, &off, err, sizeof(err)) !=
	        0 ||
	    !usable_headers(&outer))
		goto cleanup;
	FUZZ_CHECK(mime_content_block(&outer, 1, &head, &headlen) == 0, "content block");
	body = fuzz_spool_from(data + 1 + off, size - 1 - off, 8192);
	opt.sign = !(flags & 1) || (flags & 2);
	opt.encrypt = flags & 1;
	opt.hide_subject = (flags & 4) != 0;
	opt.sign_format = flags & 8 ? SMIME_SIGN_OPAQUE : SMIME_SIGN_DETACHED;
	opt.header_protection = 1;
	opt.outer = &outer;
	{
		struct smime_request req = {.opt = opt,
		    .signer = &signer,
		    .recipients = recipients,
		    .head = head,
		    .headlen = headlen,
		    .body = body,
		    .out = collect,
		    .out_arg = &out};
		rc = smime_protect(&req, err, sizeof(err));
		res = req.result;
	}
	FUZZ_CHECK(rc == 0, "smime_protect: %s", err);
	if (opt.encrypt) {
		CMS_ContentInfo *cms = cms_of(&out);
		BIO *dec = BIO_new(BIO_s_mem());
		struct fbuf inner = {0};
		FUZZ_CHECK(CMS_decrypt(cms, rcpt.key, rcpt.cert, NULL, dec, CMS_BINARY) == 1,
		    "does not decrypt");
		bio_drain(dec, &inner);
		if (!opt.sign) {
			fbuf_add(&payload, inner.p, inner.len);
		} else if (opt.sign_format == SMIME_SIGN_OPAQUE) {
			const unsigned char *b = fuzz_memmem(inner.p, inner.len, "\r\n\r\n", 4);
			struct fbuf o2 = {0};
			CMS_ContentInfo *sd;
			FUZZ_CHECK(b != NULL, "opaque entity without its header");
			fbuf_add(&o2, b + 4, inner.len - (size_t)(b + 4 - inner.p));
			sd = cms_of(&o2);
			open_opaque(sd, &payload);
			CMS_ContentInfo_free(sd);
			fbuf_free(&o2);
		} else {
			FUZZ_CHECK(mime_param((const char *)inner.p, "boundary", boundary,
			               sizeof(boundary)) == 0,
			    "signed entity without a boundary");
			open_detached(inner.p, inner.len, boundary, &payload);
		}
		fbuf_free(&inner);
		BIO_free(dec);
		CMS_ContentInfo_free(cms);
	} else if (opt.sign_format == SMIME_SIGN_OPAQUE) {
		CMS_ContentInfo *cms = cms_of(&out);
		open_opaque(cms, &payload);
		CMS_ContentInfo_free(cms);
	} else {
		FUZZ_CHECK(mime_param(res.content_type, "boundary", boundary, sizeof(boundary)) ==
		        0,
		    "multipart/signed without a boundary: %s", res.content_type);
		open_detached(out.p, out.len, boundary, &payload);
	}
	check_payload(&payload, &outer, opt.encrypt, opt.hide_subject, data + 1 + off,
	    size - 1 - off);
cleanup:
	ERR_clear_error();
	spool_free(body);
	free(head);
	fbuf_free(&out);
	fbuf_free(&payload);
	mime_headers_clear(&outer);
	return 0;
}
