/*
 * fuzz_inbound.c - libFuzzer target: the streaming reader of inbound
 * S/MIME, cmssplit_read (the content taken out of a CMS structure from
 * outside as it is read) and envelope_open (the decryption of the
 * content from its spool), against OpenSSL's own parser and decryption
 * of the whole structure in memory.
 *
 * Input: a mode byte, then
 *   mode & 3 == 0   the rest is the CMS structure itself;
 *   mode & 3 != 0   the rest is a list of (offset16, xor) changes applied to
 *                   a real message to bob made at start-up: 1 enveloped-data
 *                   (AES-CBC, DER), 2 the same as indefinite-length BER in
 *                   chunks, 3 authEnveloped-data (AES-GCM, BER);
 *   mode & 4        spools spill to their file after 16 bytes.
 * Invariants:
 *   - the structure as DER and as base64 text in CRLF lines (after a header
 *     line to skip) split the same: result, type, rebuilt structure, content;
 *   - a split that succeeds has a rebuilt structure and says how much content
 *     it wrote, no more than the input holds; one that fails has none;
 *   - when OpenSSL parses the whole input as enveloped-, authEnveloped- or
 *     signed-data with content, the split succeeds (unless chunks of the
 *     content are not OCTET STRINGs, which OpenSSL lets pass), the rebuilt
 *     structure parses as the same type, and the content is OpenSSL's;
 *   - then decryption from the spool (envelope_open) and of the whole
 *     structure in memory (envelope_decrypt) give the same answer and the
 *     same plaintext (but for a broken RSA encrypted key, which decrypts
 *     with a random key: see compare_decryption).
 */
#include "config.h"

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "cmssplit.h"
#include "envelope.h"
#include "fuzz_common.h"
#include "testpki.h"

static struct testpki_id ca, bob;
static struct keystore_identity key;
static struct fbuf real[3];

static const char entity[] = "Content-Type: text/plain\r\n\r\nfuzzed content\r\n";

static void
make_real(struct fbuf *out, int gcm, int stream)
{
	BIO *in = BIO_new_mem_buf(entity, sizeof(entity) - 1), *mem = BIO_new(BIO_s_mem());
	STACK_OF(X509) *to = sk_X509_new_null();
	CMS_ContentInfo *cms;
	char *data;
	long n;

	FUZZ_CHECK(in != NULL && mem != NULL && to != NULL && sk_X509_push(to, bob.cert),
	    "out of memory");
	cms = CMS_encrypt(to, in, gcm ? EVP_aes_128_gcm() : EVP_aes_256_cbc(),
	    CMS_BINARY | (stream ? CMS_STREAM : 0));
	FUZZ_CHECK(cms != NULL, "CMS_encrypt");
	FUZZ_CHECK((stream ? i2d_CMS_bio_stream(mem, cms, in, CMS_BINARY | CMS_STREAM)
	                   : i2d_CMS_bio(mem, cms)) == 1,
	    "i2d");
	n = BIO_get_mem_data(mem, &data);
	fbuf_add(out, data, (size_t)n);
	CMS_ContentInfo_free(cms);
	sk_X509_free(to);
	BIO_free(in);
	BIO_free(mem);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	ca = testpki_issue("rsa", "Fuzz CA", NULL, NULL, -1, 365, NULL, NULL);
	bob = testpki_issue("rsa", "Bob", "bob@example.com", &ca, -1, 365,
	    "critical,digitalSignature,keyEncipherment", "emailProtection");
	key.key = bob.key;
	key.cert = bob.cert;
	make_real(&real[0], 0, 0);
	make_real(&real[1], 0, 1);
	make_real(&real[2], 1, 1);
	return 0;
}

/* base64 of p in CRLF lines of 64, after a line to skip ("skip\r\n", 6 bytes). */
static void
base64_text(const unsigned char *p, size_t len, struct fbuf *out)
{
	unsigned char line[70];
	size_t i;

	fbuf_adds(out, "skip\r\n");
	for (i = 0; i < len; i += 48) {
		int n = EVP_EncodeBlock(line, p + i, (int)(len - i < 48 ? len - i : 48));
		fbuf_add(out, line, (size_t)n);
		fbuf_adds(out, "\r\n");
	}
}

struct split {
	enum cmssplit_result rc;
	char reason[300];
	struct cmssplit s;
	spool *content;
	struct fbuf bytes;
};

static void
do_split(const unsigned char *p, size_t len, int base64, size_t bound, struct split *out)
{
	struct fbuf text = {0};
	char *reason = out->reason;
	spool *in;

	if (base64)
		base64_text(p, len, &text);
	in = base64 ? fuzz_spool_from(text.p, text.len, bound) : fuzz_spool_from(p, len, bound);
	out->content = spool_new(bound, NULL);
	FUZZ_CHECK(out->content != NULL, "spool_new");
	out->rc = cmssplit_read(in, base64 ? 6 : 0, base64, out->content, &out->s, reason,
	    sizeof(out->reason));
	FUZZ_CHECK(out->rc != CMSSPLIT_ERROR, "internal error: %s", reason);
	FUZZ_CHECK(out->rc == CMSSPLIT_OK || reason[0] != '\0', "a failure without a reason");
	FUZZ_CHECK((out->rc == CMSSPLIT_OK) == (out->s.head != NULL), "head and result disagree");
	FUZZ_CHECK(out->s.content_len == spool_size(out->content) && out->s.content_len <= len,
	    "content of %llu bytes from %zu", (unsigned long long)out->s.content_len, len);
	fuzz_spool_drain(out->content, &out->bytes);
	spool_free(in);
	fbuf_free(&text);
}

static void
split_free(struct split *x)
{
	cmssplit_free(&x->s);
	spool_free(x->content);
	fbuf_free(&x->bytes);
}

/* The in-memory decryption of p (len bytes) into out.  Its result. */
static enum envelope_result
decrypt_memory(const unsigned char *p, size_t len, struct fbuf *out)
{
	BIO *mb = BIO_new(BIO_s_mem());
	enum envelope_result rc;
	char reason[300], *data;
	long n;

	FUZZ_CHECK(mb != NULL, "out of memory");
	rc = envelope_decrypt(p, len, &key, 1, mb, NULL, reason, sizeof(reason));
	n = BIO_get_mem_data(mb, &data);
	fbuf_add(out, data, (size_t)n);
	BIO_free(mb);
	return rc;
}

/*
 * Decryption from the spool and in memory agree.  A broken RSA encrypted
 * key decrypts with a random key (the countermeasure against padding
 * oracles), different on each side: with AES-CBC its padding may then be
 * right on one side only, and with a mode without padding (a changed
 * algorithm OID) both succeed with different garbage.  So the plaintexts
 * are compared when two decryptions in memory agree, i.e. the real key
 * was recovered; the mac length is checked only on the streaming side.
 */
static void
compare_decryption(const unsigned char *p, size_t len, struct split *x, size_t bound)
{
	spool *a = spool_new(bound, NULL);
	BIO *ab = spool_bio_new(a);
	struct fbuf got = {0}, m1 = {0}, m2 = {0};
	enum envelope_result ra, rm;
	char reason[300];

	FUZZ_CHECK(a != NULL && ab != NULL, "out of memory");
	ra = envelope_open(&x->s, x->content, &key, 1, ab, NULL, reason, sizeof(reason));
	rm = decrypt_memory(p, len, &m1);
	FUZZ_CHECK(ra != ENVELOPE_ERROR, "internal error");
	FUZZ_CHECK(ra == rm || (ra == ENVELOPE_CORRUPT && x->s.maclen < 12) ||
	        (x->s.nid == NID_pkcs7_enveloped && (ra == ENVELOPE_OK || ra == ENVELOPE_CORRUPT) &&
	            (rm == ENVELOPE_OK || rm == ENVELOPE_CORRUPT)),
	    "spool: %s, memory: %s", envelope_result_name(ra), envelope_result_name(rm));
	if (ra == ENVELOPE_OK && rm == ENVELOPE_OK && decrypt_memory(p, len, &m2) == ENVELOPE_OK &&
	    m1.len == m2.len && (m1.len == 0 || memcmp(m1.p, m2.p, m1.len) == 0)) {
		fuzz_spool_drain(a, &got);
		FUZZ_CHECK(got.len == m1.len && (got.len == 0 || memcmp(got.p, m1.p, got.len) == 0),
		    "different plaintext");
	}
	fbuf_free(&got);
	fbuf_free(&m1);
	fbuf_free(&m2);
	BIO_free(ab);
	spool_free(a);
}

/* OpenSSL's parse of the whole structure against the split. */
static void
compare_openssl(const unsigned char *p, size_t len, struct split *x, size_t bound)
{
	const unsigned char *q = p;
	CMS_ContentInfo *whole =
	                    len <= 0x7fffffff ? d2i_CMS_ContentInfo(NULL, &q, (long)len) : NULL,
	                *head;
	ASN1_OCTET_STRING **pos;
	int nid;

	ERR_clear_error();
	if (whole == NULL)
		return;
	nid = OBJ_obj2nid(CMS_get0_type(whole));
	pos = CMS_get0_content(whole);
	if ((nid != NID_pkcs7_enveloped && nid != NID_id_smime_ct_authEnvelopedData &&
	        nid != NID_pkcs7_signed) ||
	    pos == NULL || *pos == NULL) {
		CMS_ContentInfo_free(whole);
		ERR_clear_error();
		return;
	}
	/* OpenSSL takes chunks of a constructed string under any tag; X.690 and we do not */
	if (x->rc == CMSSPLIT_CORRUPT &&
	    strstr(x->reason, "a chunk of the content is not an OCTET STRING") != NULL) {
		CMS_ContentInfo_free(whole);
		ERR_clear_error();
		return;
	}
	FUZZ_CHECK(x->rc == CMSSPLIT_OK, "OpenSSL parses a %s that does not split: %s",
	    OBJ_nid2sn(nid), x->reason);
	q = x->s.head;
	head = d2i_CMS_ContentInfo(NULL, &q, (long)x->s.headlen);
	FUZZ_CHECK(head != NULL && OBJ_obj2nid(CMS_get0_type(head)) == nid,
	    "the rebuilt structure does not parse as %s", OBJ_nid2sn(nid));
	FUZZ_CHECK(x->s.has_content && (size_t)ASN1_STRING_length(*pos) == x->bytes.len &&
	        (x->bytes.len == 0 ||
	            memcmp(ASN1_STRING_get0_data(*pos), x->bytes.p, x->bytes.len) == 0),
	    "the content differs from OpenSSL's");
	CMS_ContentInfo_free(head);
	CMS_ContentInfo_free(whole);
	ERR_clear_error();
	if (nid != NID_pkcs7_signed)
		compare_decryption(p, len, x, bound);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fbuf msg = {0};
	struct split d, b;
	size_t bound, i;
	int mode;

	if (size < 1)
		return 0;
	mode = data[0];
	bound = mode & 4 ? 16 : 1 << 20;
	if ((mode & 3) == 0) {
		fbuf_add(&msg, data + 1, size - 1);
	} else {
		const struct fbuf *r = &real[(mode & 3) - 1];
		fbuf_add(&msg, r->p, r->len);
		for (i = 1; i + 2 < size; i += 3)
			msg.p[((size_t)data[i] << 8 | data[i + 1]) % msg.len] ^= data[i + 2];
	}
	memset(&d, 0, sizeof(d));
	memset(&b, 0, sizeof(b));
	do_split(msg.p, msg.len, 0, bound, &d);
	do_split(msg.p, msg.len, 1, bound, &b);
	FUZZ_CHECK(d.rc == b.rc && d.s.nid == b.s.nid, "DER %d, base64 %d", d.rc, b.rc);
	FUZZ_CHECK(d.s.headlen == b.s.headlen &&
	        (d.s.headlen == 0 || memcmp(d.s.head, b.s.head, d.s.headlen) == 0) &&
	        d.bytes.len == b.bytes.len &&
	        (d.bytes.len == 0 || memcmp(d.bytes.p, b.bytes.p, d.bytes.len) == 0),
	    "DER and base64 split differently");
	compare_openssl(msg.p, msg.len, &d, bound);
	split_free(&d);
	split_free(&b);
	fbuf_free(&msg);
	ERR_clear_error();
	return 0;
}
