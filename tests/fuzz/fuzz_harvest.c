/*
 * fuzz_harvest.c - libFuzzer target: harvesting, i.e. a signed message
 * from outside taken apart (MIME), its CMS signature verified and the
 * signer's certificate checked (harvest_signer_chain).
 *
 * At start-up a throwaway CA and a correspondent, alice@example.com,
 * signed by it are made in memory (EC P-256); the CA is the trust store.
 * Input: a flags byte, then, by mode (flags % 4):
 *   0  a whole message from outside, trust: the test CA;
 *   1  the same with harvest-trust any (no chain required);
 *   2  From value NUL extra header lines NUL content: the harness signs the
 *      content as alice now (detached multipart/signed, or opaque
 *      signed-data when flags & 4) and builds the message around it;
 *   3  as 2, then the built message is changed at positions the input's
 *      last bytes give (pairs of offset and new byte, after a NUL).
 * flags & 8 asks for dkim=pass from our authserv-id.
 *
 * Invariants checked, beyond "no crash":
 *   - nothing is harvested that nobody here signed: in mode 0 a message
 *     never yields a certificate (it could only come from the run's CA);
 *   - whatever is harvested names the From: address (X509_check_email, in the
 *     subjectAltName or the subject's emailAddress)
 *     and, with the CA as trust, is alice's certificate;
 *   - a message alice really signed, with her From: address, no DKIM
 *     requirement and content that does not hold the boundary, is
 *     harvested (mode 2), and one naming another From: address is not;
 *   - changing a byte of the signed content of a detached signature means
 *     nothing is harvested (mode 3).
 */
#include "config.h"

#include <strings.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "fuzz_common.h"
#include "harvest.h"
#include "mime.h"
#include "testpki.h"

#define BOUNDARY "----=_fuzz_harvest_b0undary"
#define AUTHSERV "mx.fuzz.example"
#define ALICE    "alice@example.com"

static struct testpki_id ca, alice;
static X509_STORE *trust;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	ca = testpki_issue("ec", "Fuzz CA", NULL, NULL, -1, 365, NULL, NULL);
	alice = testpki_issue("ec", "Alice", ALICE, &ca, -1, 365,
	    "critical,digitalSignature,keyAgreement", "emailProtection");
	trust = X509_STORE_new();
	FUZZ_CHECK(trust != NULL && X509_STORE_add_cert(trust, ca.cert), "test PKI");
	return 0;
}

static void
add_b64(struct fbuf *m, const unsigned char *der, size_t len)
{
	unsigned char line[80];
	size_t i;

	for (i = 0; i < len; i += 57) {
		int n = EVP_EncodeBlock(line, der + i, (int)(len - i < 57 ? len - i : 57));
		fbuf_add(m, line, (size_t)n);
		fbuf_adds(m, "\r\n");
	}
}

/* CMS SignedData by alice over content (detached or not), DER. */
static void
sign_content(const unsigned char *content, size_t len, int detached, struct fbuf *der)
{
	BIO *in = BIO_new_mem_buf(content, (int)len);
	CMS_ContentInfo *cms =
	    CMS_sign(alice.cert, alice.key, NULL, in, CMS_BINARY | (detached ? CMS_DETACHED : 0));
	unsigned char *p = NULL;
	int n;

	FUZZ_CHECK(cms != NULL, "CMS_sign");
	n = i2d_CMS_ContentInfo(cms, &p);
	FUZZ_CHECK(n > 0, "i2d_CMS_ContentInfo");
	fbuf_add(der, p, (size_t)n);
	OPENSSL_free(p);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
}

/*
 * Build the message of modes 2 and 3.  *cstart and *clen: where the signed
 * content lies in it (detached only).  0, or -1 when the parts do not fit.
 */
static int
build(const uint8_t *data, size_t size, int opaque, struct fbuf *m, size_t *cstart, size_t *clen)
{
	const uint8_t *from, *rest, *extra, *content;
	size_t fromlen, restlen, extralen, contentlen;
	struct fbuf der = {0};

	fuzz_split(data, size, "\0", &from, &fromlen, &rest, &restlen);
	fuzz_split(rest, restlen, "\0", &extra, &extralen, &content, &contentlen);
	if (memchr(from, '\n', fromlen) != NULL || memchr(from, '\r', fromlen) != NULL ||
	    fuzz_memmem(content, contentlen, BOUNDARY, strlen(BOUNDARY)) != NULL ||
	    fuzz_memmem(extra, extralen, "\r\n\r\n", 4) != NULL)
		return -1;
	fbuf_adds(m, "From: ");
	fbuf_add(m, from, fromlen);
	fbuf_adds(m, "\r\n");
	fbuf_add(m, extra, extralen);
	if (extralen > 0 && (extralen < 2 || memcmp(extra + extralen - 2, "\r\n", 2) != 0))
		fbuf_adds(m, "\r\n");
	if (opaque) {
		fbuf_adds(m,
		    "Content-Type: application/pkcs7-mime; smime-type=signed-data;"
		    " name=\"smime.p7m\"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
		sign_content(content, contentlen, 0, &der);
		add_b64(m, der.p, der.len);
		*cstart = *clen = 0;
	} else {
		fbuf_adds(m,
		    "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\";"
		    " micalg=sha-256; boundary=\"" BOUNDARY "\"\r\n\r\n"
		    "This is a signed message.\r\n--" BOUNDARY "\r\n");
		*cstart = m->len;
		*clen = contentlen;
		fbuf_add(m, content, contentlen);
		fbuf_adds(m,
		    "\r\n--" BOUNDARY "\r\nContent-Type: application/pkcs7-signature;"
		    " name=\"smime.p7s\"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
		sign_content(content, contentlen, 1, &der);
		add_b64(m, der.p, der.len);
		fbuf_adds(m, "\r\n--" BOUNDARY "--\r\n");
	}
	fbuf_free(&der);
	return 0;
}

/* Apply the (offset, byte) pairs after the last NUL; nonzero when a content byte changed. */
static int
mutate(const uint8_t *data, size_t size, struct fbuf *m, size_t cstart, size_t clen)
{
	const uint8_t *nul = data + size, *p;
	int hit = 0;

	while (nul > data && nul[-1] != '\0')
		nul--;
	if (nul == data)
		return 0;
	for (p = nul; p + 3 <= data + size; p += 3) {
		size_t off = ((size_t)p[0] << 8 | p[1]) % (m->len ? m->len : 1);
		if (m->len == 0 || m->p[off] == p[2])
			continue;
		m->p[off] = p[2];
		if (off >= cstart && off < cstart + clen)
			hit = 1;
	}
	return hit;
}

/* The message's own headers: alice's From: address and our Content-Type the only one. */
static int
expected_alice(const struct mime_headers *h, const char *addr)
{
	size_t i, n = 0;

	for (i = 0; i < h->n; i++)
		n += strcasecmp(h->v[i].name, "Content-Type") == 0;
	return strcmp(addr, ALICE) == 0 && n == 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct harvest_options o = {trust, 0, AUTHSERV, 1024 * 1024};
	struct fbuf built = {0};
	struct mime_headers h;
	const unsigned char *msg;
	size_t len, off = 0, cstart = 0, clen = 0;
	char addr[320], from_addr[320] = "", reason[512], err[128];
	X509 *signer = NULL;
	STACK_OF(X509) *chain = NULL;
	spool *body = NULL;
	int flags, mode, rc, hit = 0;

	if (size < 1 || size > 128 * 1024)
		return 0;
	flags = data[0];
	mode = flags % 4;
	o.require_dkim = (flags & 8) != 0;
	if (mode == 1)
		o.trust = NULL;
	if (mode >= 2) {
		if (build(data + 1, size - 1, (flags & 4) != 0, &built, &cstart, &clen) != 0)
			goto cleanup;
		if (mode == 3)
			hit = mutate(data + 1, size - 1, &built, cstart, clen);
		msg = built.p;
		len = built.len;
	} else {
		msg = data + 1;
		len = size - 1;
	}
	mime_headers_init(&h);
	if (mime_parse_headers((const char *)msg, len, &h, &off, err, sizeof(err)) != 0) {
		mime_headers_clear(&h);
		goto cleanup;
	}
	{
		const struct mime_header *f = mime_headers_find(&h, "From");
		if (f == NULL || mime_extract_address(f->value, from_addr, sizeof(from_addr)) != 0)
			from_addr[0] = '\0';
	}
	body = fuzz_spool_from(msg + off, len - off, 16384);
	rc = harvest_signer(&h, body, &o, &signer, &chain, addr, sizeof(addr), reason,
	    sizeof(reason));
	FUZZ_CHECK(rc >= -1 && rc <= 1, "return %d", rc);
	if (rc == 1) {
		FUZZ_CHECK(signer != NULL && chain != NULL, "harvested without a certificate");
		FUZZ_CHECK(mode != 0, "harvested a certificate nobody here signed: %s", addr);
		FUZZ_CHECK(strcmp(addr, from_addr) == 0, "harvested for %s, From: says %s", addr,
		    from_addr);
		/* subjectAltName or the subject's emailAddress, as certindex_names_address reads them */
		FUZZ_CHECK(X509_check_email(signer, addr, strlen(addr),
		               X509_CHECK_FLAG_ALWAYS_CHECK_SUBJECT) == 1,
		    "harvested certificate does not name %s", addr);
		if (o.trust != NULL)
			FUZZ_CHECK(X509_cmp(signer, alice.cert) == 0,
			    "harvested someone other than alice");
		FUZZ_CHECK(!hit, "harvested although the signed content was changed");
	} else {
		FUZZ_CHECK(signer == NULL, "a certificate without success");
		FUZZ_CHECK(reason[0] != '\0', "no reason given");
		FUZZ_CHECK(!(mode == 2 && !o.require_dkim && expected_alice(&h, from_addr)),
		    "alice's signed message not harvested: %s", reason);
	}
	mime_headers_clear(&h);
cleanup:
	X509_free(signer);
	sk_X509_pop_free(chain, X509_free);
	spool_free(body);
	fbuf_free(&built);
	ERR_clear_error();
	return 0;
}
