/*
 * check_inbound.c - unit tests of the receiving side (inbound, envelope,
 * sigverify) over messages made at test time with OpenSSL's CMS API:
 * decryption for RSA (PKCS#1 v1.5, OAEP) and EC recipients with AES-CBC
 * and AES-GCM, byte-exact recovery of the entity, messages for someone
 * else, corrupt and with an unknown algorithm; the RFC 7281 verdicts of
 * good, tampered, untrusted, revoked and mismatched signatures, detached
 * and opaque, also inside an encrypted message; unwrapping; protected
 * header fields; the Authentication-Results value and the recognition of
 * forged ones.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "conf.h"
#include "inbound.h"
#include "mime.h"
#include "spool.h"
#include "testpki.h"

static const char *KU = "critical,digitalSignature,keyEncipherment";
static struct testpki_id ca, otherca, alice, bob, carol, stranger, revoked, zoe;
static X509_STORE *trust;
static STACK_OF(X509_CRL) *crls;
static struct keystore_identity keys[3];

static const char entity[] = "Content-Type: text/plain; charset=utf-8\r\n"
                             "Content-Transfer-Encoding: 8bit\r\n\r\n"
                             "Hello Bob,\r\n\r\nt\xc3\xa9st line\r\n.\r\nlast line\r\n";

static void
setup(void)
{
	ca = testpki_issue("rsa", "Inbound CA", NULL, NULL, -1, 365, NULL, NULL);
	otherca = testpki_issue("rsa", "Other CA", NULL, NULL, -1, 365, NULL, NULL);
	alice =
	    testpki_issue("rsa", "Alice", "alice@example.com", &ca, -1, 365, KU, "emailProtection");
	bob = testpki_issue("rsa", "Bob", "bob@example.com", &ca, -1, 365, KU, "emailProtection");
	carol = testpki_issue("ec", "Carol", "carol@example.com", &ca, -1, 365,
	    "critical,digitalSignature,keyAgreement", NULL);
	zoe = testpki_issue("rsa", "Zoe \"Z\" Q", "zoe@outside.example", &ca, -1, 365, KU, NULL);
	stranger = testpki_issue("rsa", "Str", "str@outside.example", &otherca, -1, 30, KU, NULL);
	revoked = testpki_issue("rsa", "Rev", "rev@outside.example", &ca, -1, 30, KU, NULL);
	trust = X509_STORE_new();
	X509_STORE_add_cert(trust, ca.cert);
	crls = sk_X509_CRL_new_null();
	sk_X509_CRL_push(crls, testpki_crl(&ca, revoked.cert));
	/* the keys we hold: bob's own, and carol's (EC) */
	keys[0].key = bob.key;
	keys[0].cert = bob.cert;
	keys[1].key = carol.key;
	keys[1].cert = carol.cert;
}

static void
teardown(void)
{
	X509_STORE_free(trust);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
}

/* base64 of der, 64-column CRLF lines. */
static char *
b64(const unsigned char *der, size_t len)
{
	BIO *mem = BIO_new(BIO_s_mem()), *b = BIO_new(BIO_f_base64());
	char *data, *out;
	long n;
	size_t i, o = 0;

	BIO_push(b, mem);
	BIO_write(b, der, (int)len);
	(void)BIO_flush(b);
	n = BIO_get_mem_data(mem, &data);
	out = malloc((size_t)n * 2 + 1);
	for (i = 0; i < (size_t)n; i++) {
		if (data[i] == '\n')
			out[o++] = '\r';
		out[o++] = data[i];
	}
	out[o] = '\0';
	BIO_free_all(b);
	return out;
}

static unsigned char *
cms_der(CMS_ContentInfo *cms, size_t *len)
{
	unsigned char *der = NULL;
	int n = i2d_CMS_ContentInfo(cms, &der);

	ck_assert_int_gt(n, 0);
	*len = (size_t)n;
	return der;
}

/* EnvelopedData of content for the certificates, with cipher; oaep for RSA recipients. */
static unsigned char *
encrypt(const char *content, size_t clen, X509 *const *to, const EVP_CIPHER *cipher, int oaep,
    size_t *len)
{
	BIO *in = BIO_new_mem_buf(content, (int)clen);
	CMS_ContentInfo *cms = CMS_encrypt(NULL, NULL, cipher, CMS_BINARY | CMS_PARTIAL);
	unsigned char *der;

	for (; *to != NULL; to++) {
		CMS_RecipientInfo *ri = CMS_add1_recipient_cert(cms, *to, CMS_KEY_PARAM);
		EVP_PKEY_CTX *pctx = CMS_RecipientInfo_get0_pkey_ctx(ri);
		if (EVP_PKEY_is_a(X509_get0_pubkey(*to), "EC"))
			EVP_PKEY_CTX_set_ecdh_kdf_md(pctx, EVP_sha256());
		else if (oaep)
			EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING);
	}
	ck_assert_int_eq(CMS_final(cms, in, NULL, CMS_BINARY), 1);
	der = cms_der(cms, len);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	return der;
}

/* SignedData of content by id (detached or not), with ca's certificate along. */
static unsigned char *
sign(const char *content, size_t clen, const struct testpki_id *id, int detached, size_t *len)
{
	BIO *in = BIO_new_mem_buf(content, (int)clen);
	CMS_ContentInfo *cms =
	    CMS_sign(id->cert, id->key, NULL, in, CMS_BINARY | (detached ? CMS_DETACHED : 0));
	unsigned char *der;

	ck_assert_ptr_nonnull(cms);
	der = cms_der(cms, len);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	return der;
}

/* A multipart/signed entity (header and body) over content; tamper flips a byte after signing. */
static char *
detached_entity(const char *content, const struct testpki_id *id, int tamper)
{
	size_t siglen, n;
	unsigned char *sig = sign(content, strlen(content), id, 1, &siglen);
	char *s64 = b64(sig, siglen), *out;

	n = strlen(content) + strlen(s64) + 400;
	out = malloc(n);
	snprintf(out, n,
	    "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\";\r\n"
	    " micalg=sha-256; boundary=\"sig-b\"\r\n\r\n--sig-b\r\n%s\r\n--sig-b\r\n"
	    "Content-Type: application/pkcs7-signature; name=smime.p7s\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--sig-b--\r\n",
	    content, s64);
	if (tamper)
		out[strstr(out, "--sig-b\r\n") - out + 9 + strlen(content) - 5] ^= 1;
	free(sig);
	free(s64);
	return out;
}

struct msg {
	struct mime_headers h;
	spool *body;
};

/* A message from `from` whose Content-* fields and body are those of the entity ent. */
static void
msg_from_entity(struct msg *m, const char *from, const char *subject, const char *ent)
{
	struct mime_headers eh;
	char err[128];
	size_t off, i;

	mime_headers_init(&m->h);
	mime_headers_add(&m->h, "From", from);
	mime_headers_add(&m->h, "To", " bob@example.com");
	mime_headers_add(&m->h, "Subject", subject);
	mime_headers_init(&eh);
	ck_assert_int_eq(mime_parse_headers(ent, strlen(ent), &eh, &off, err, sizeof(err)), 0);
	for (i = 0; i < eh.n; i++)
		mime_headers_add(&m->h, eh.v[i].name, eh.v[i].value);
	mime_headers_clear(&eh);
	m->body = spool_new(4096, NULL); /* small: the spool spills to its encrypted file */
	ck_assert_int_eq(spool_write(m->body, ent + off, strlen(ent) - off, err, sizeof(err)), 0);
}

/* An enveloped-data (or authEnveloped-data) message from der. */
static void
msg_pkcs7(struct msg *m, const char *from, const char *smime_type, const unsigned char *der,
    size_t len)
{
	char *s64 = b64(der, len), *ent = malloc(strlen(s64) + 300);

	sprintf(ent,
	    "Content-Type: application/pkcs7-mime; smime-type=%s;\r\n name=\"smime.p7m\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n%s",
	    smime_type, s64);
	msg_from_entity(m, from, " [...]", ent);
	free(ent);
	free(s64);
}

static void
msg_free(struct msg *m)
{
	mime_headers_clear(&m->h);
	spool_free(m->body);
}

static void
options(struct inbound_options *o, int decrypt, int verify, int unwrap)
{
	memset(o, 0, sizeof(*o));
	o->decrypt = decrypt;
	o->verify = verify;
	o->unwrap_opaque = unwrap;
	o->keys = keys;
	o->nkeys = 2;
	o->trust = trust;
	o->crls = crls;
	o->spool_memory = 4096;
}

/* The new content of r (Content-* fields + body) as one string.  Caller frees. */
static char *
new_content(struct inbound_result *r)
{
	char *out = malloc(1024 * 1024), err[128];
	size_t o = 0, i, skip = (size_t)r->body_off;
	ssize_t n;

	ck_assert_int_eq(r->changed, 1);
	for (i = 0; i < r->content.n; i++)
		o += (size_t)sprintf(out + o, "%s:%s\r\n", r->content.v[i].name,
		    r->content.v[i].value);
	o += (size_t)sprintf(out + o, "\r\n");
	ck_assert_int_eq(spool_rewind(r->body, err, sizeof(err)), 0);
	while ((n = spool_read(r->body, out + o, 65536, err, sizeof(err))) > 0) {
		size_t drop = skip < (size_t)n ? skip : (size_t)n;
		memmove(out + o, out + o + drop, (size_t)n - drop);
		skip -= drop;
		o += (size_t)n - drop;
	}
	out[o] = '\0';
	return out;
}

static int
starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void
run(struct msg *m, const struct inbound_options *o, struct inbound_result *r)
{
	char err[256];

	ck_assert_msg(inbound_process(&m->h, m->body, o, r, err, sizeof(err)) == 0, "%s", err);
}

/* Decrypted for each key type and cipher: the entity comes back byte for byte. */
START_TEST(test_decrypt_algorithms)
{
	static const struct {
		int to_carol, oaep, gcm;
	} cases[] = {{0, 0, 0}, {0, 1, 0}, {0, 0, 1}, {1, 0, 0}, {1, 0, 1}};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		X509 *const to[] = {alice.cert, cases[i].to_carol ? carol.cert : bob.cert, NULL};
		struct inbound_options o;
		struct inbound_result r;
		struct msg m;
		size_t len;
		unsigned char *der = encrypt(entity, sizeof(entity) - 1, to,
		    cases[i].gcm ? EVP_aes_128_gcm() : EVP_aes_256_cbc(), cases[i].oaep, &len);
		char *got;

		msg_pkcs7(&m, " Zoe <zoe@outside.example>",
		    cases[i].gcm ? "authEnveloped-data" : "enveloped-data", der, len);
		options(&o, 1, 1, 0);
		run(&m, &o, &r);
		ck_assert_int_eq(r.encrypted, 1);
		ck_assert_msg(r.decryption == ENVELOPE_OK, "case %zu: %s", i, r.reason);
		ck_assert_int_eq(r.key, cases[i].to_carol ? 1 : 0);
		ck_assert_int_eq(r.auth_enveloped, cases[i].gcm);
		ck_assert_int_eq(r.smime, INBOUND_SMIME_NONE);
		got = new_content(&r);
		ck_assert_str_eq(got, entity);
		free(got);
		inbound_result_free(&r);
		msg_free(&m);
		free(der);
	}
}
END_TEST

/* Encrypted for others, corrupt, unknown algorithm, too large: reported, nothing changed. */
START_TEST(test_undecryptable)
{
	X509 *const to_alice[] = {alice.cert, NULL}, *const to_bob[] = {bob.cert, NULL};
	static const unsigned char aes256cbc[] = {0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
	    0x04, 0x01, 0x2a};
	struct inbound_options o;
	struct inbound_result r;
	struct msg m;
	size_t len, i;
	unsigned char *der;

	options(&o, 1, 1, 0);
	der = encrypt(entity, sizeof(entity) - 1, to_alice, EVP_aes_256_cbc(), 0, &len);
	msg_pkcs7(&m, " zoe@outside.example", "enveloped-data", der, len);
	run(&m, &o, &r);
	ck_assert_int_eq(r.decryption, ENVELOPE_NO_KEY);
	ck_assert_int_eq(r.changed, 0);
	ck_assert_msg(strstr(r.reason, "encrypted for 1 recipient, none a key we hold (serial ") !=
	        NULL,
	    "%s", r.reason);
	inbound_result_free(&r);
	msg_free(&m);
	free(der);

	/* truncated */
	der = encrypt(entity, sizeof(entity) - 1, to_bob, EVP_aes_256_cbc(), 0, &len);
	msg_pkcs7(&m, " zoe@outside.example", "enveloped-data", der, len / 2);
	run(&m, &o, &r);
	ck_assert_int_eq(r.encrypted, 1);
	ck_assert_int_eq(r.decryption, ENVELOPE_CORRUPT);
	ck_assert_int_eq(r.changed, 0);
	inbound_result_free(&r);
	msg_free(&m);

	/* the content encryption algorithm is not one anybody knows */
	for (i = 0; i + sizeof(aes256cbc) <= len; i++)
		if (memcmp(der + i, aes256cbc, sizeof(aes256cbc)) == 0)
			break;
	ck_assert_uint_lt(i + sizeof(aes256cbc), len);
	der[i + sizeof(aes256cbc) - 1] = 0x7f;
	msg_pkcs7(&m, " zoe@outside.example", "enveloped-data", der, len);
	run(&m, &o, &r);
	ck_assert_msg(r.decryption == ENVELOPE_UNSUPPORTED, "%d %s", r.decryption, r.reason);
	inbound_result_free(&r);
	msg_free(&m);

	/* not base64 at all */
	msg_from_entity(&m, " zoe@outside.example", " x",
	    "Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n\r\n*** not base64\r\n");
	run(&m, &o, &r);
	ck_assert_int_eq(r.decryption, ENVELOPE_CORRUPT);
	inbound_result_free(&r);
	msg_free(&m);

	/* too large for the bound */
	der[i + sizeof(aes256cbc) - 1] = 0x2a;
	msg_pkcs7(&m, " zoe@outside.example", "enveloped-data", der, len);
	o.max_size = 100;
	run(&m, &o, &r);
	ck_assert_int_eq(r.decryption, ENVELOPE_UNSUPPORTED);
	ck_assert_msg(strncmp(r.reason, "too large to decrypt", 20) == 0, "%s", r.reason);
	inbound_result_free(&r);
	msg_free(&m);
	free(der);
}
END_TEST

/* Detached signatures at the top: pass, fail, neutral, and what the header says. */
START_TEST(test_verify_detached)
{
	struct inbound_options o;
	struct inbound_result r;
	struct msg m;
	char *ent, ar[2048];

	options(&o, 1, 1, 0);
	ent = detached_entity(entity, &zoe, 0);
	msg_from_entity(&m, " Zoe <zoe@outside.example>", " hi", ent);
	run(&m, &o, &r);
	ck_assert_msg(r.smime == INBOUND_SMIME_PASS, "%s", r.reason);
	ck_assert_int_eq(r.changed, 0);
	ck_assert_str_eq(r.identifier, "zoe@outside.example");
	ck_assert_ptr_nonnull(r.signer);
	ck_assert_int_eq(inbound_ar_value("mx.example.com", &r, ar, sizeof(ar)), 0);
	ck_assert_msg(starts(ar,
	                  "mx.example.com;\r\n\tsmime=pass\r\n\tbody.smime-identifier="
	                  "zoe@outside.example\r\n\tbody.smime-serial="),
	    "%s", ar);
	/* RFC 7281 3.2.2: the signed part is the message's body, IMAP's TEXT */
	ck_assert_msg(strlen(ar) > 39 &&
	        strcmp(ar + strlen(ar) - 39, "=\"CN=Inbound CA\"\r\n\tbody.smime-part=TEXT") == 0,
	    "%s", ar);
	ck_assert_str_eq(r.part, "TEXT");
	inbound_result_free(&r);
	msg_free(&m);

	/* From: somebody else */
	msg_from_entity(&m, " alice@example.com", " hi", ent);
	run(&m, &o, &r);
	ck_assert_int_eq(r.smime, INBOUND_SMIME_FAIL);
	ck_assert_str_eq(r.reason,
	    "signer certificate does not name the From: address alice@example.com");
	ck_assert_int_eq(inbound_ar_value("mx", &r, ar, sizeof(ar)), 0);
	ck_assert_msg(starts(ar, "mx;\r\n\tsmime=fail reason=\"signer certificate does not name"),
	    "%s", ar);
	ck_assert_msg(strstr(ar, "body.smime-identifier=zoe@outside.example") != NULL, "%s", ar);
	inbound_result_free(&r);
	msg_free(&m);
	free(ent);

	/* tampered content */
	ent = detached_entity(entity, &zoe, 1);
	msg_from_entity(&m, " zoe@outside.example", " hi", ent);
	run(&m, &o, &r);
	ck_assert_msg(r.smime == INBOUND_SMIME_FAIL, "%d %s", r.smime, r.reason);
	ck_assert_msg(strncmp(r.reason, "signature does not verify", 25) == 0, "%s", r.reason);
	inbound_result_free(&r);
	msg_free(&m);
	free(ent);

	/* a signer from a CA we do not trust: not authenticated, neutral */
	ent = detached_entity(entity, &stranger, 0);
	msg_from_entity(&m, " str@outside.example", " hi", ent);
	run(&m, &o, &r);
	ck_assert_int_eq(r.smime, INBOUND_SMIME_NEUTRAL);
	ck_assert_msg(strstr(r.reason, "does not chain to a trusted CA") != NULL, "%s", r.reason);
	inbound_result_free(&r);
	msg_free(&m);
	free(ent);

	/* revoked: fail; the CA's CRL missing: temperror */
	ent = detached_entity(entity, &revoked, 0);
	msg_from_entity(&m, " rev@outside.example", " hi", ent);
	run(&m, &o, &r);
	ck_assert_msg(r.smime == INBOUND_SMIME_FAIL, "%d %s", r.smime, r.reason);
	ck_assert_str_eq(r.reason, "signer certificate: certificate revoked");
	inbound_result_free(&r);
	o.crls = sk_X509_CRL_new_null();
	run(&m, &o, &r);
	ck_assert_int_eq(r.smime, INBOUND_SMIME_TEMPERROR);
	inbound_result_free(&r);
	sk_X509_CRL_free((STACK_OF(X509_CRL) *)o.crls);
	o.crls = crls;
	msg_free(&m);
	free(ent);

	/* no From: to compare with */
	ent = detached_entity(entity, &zoe, 0);
	msg_from_entity(&m, " undisclosed", " hi", ent);
	run(&m, &o, &r);
	ck_assert_int_eq(r.smime, INBOUND_SMIME_PERMERROR);
	inbound_result_free(&r);
	msg_free(&m);
	free(ent);

	/* a signature part that is not a signature */
	msg_from_entity(&m, " zoe@outside.example", " hi",
	    "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=b\r\n"
	    "\r\n--b\r\n\r\nhi\r\n--b\r\nContent-Type: application/pkcs7-signature\r\n\r\nAAAA\r\n"
	    "--b--\r\n");
	run(&m, &o, &r);
	ck_assert_int_eq(r.smime, INBOUND_SMIME_NEUTRAL);
	ck_assert_ptr_null(r.signer);
	ck_assert_int_eq(inbound_ar_value("mx", &r, ar, sizeof(ar)), 0);
	ck_assert_msg(starts(ar, "mx;\r\n\tsmime=neutral reason="), "%s", ar);
	ck_assert_ptr_null(strstr(ar, "body.smime-serial"));
	inbound_result_free(&r);
	msg_free(&m);
}
END_TEST

/* Signed, then encrypted, with RFC 9788 protected header fields: the whole path. */
START_TEST(test_signed_and_encrypted)
{
	static const char payload[] =
	    "From: Zoe <zoe@outside.example>\r\n"
	    "Subject: the real subject\r\n"
	    "HP-Outer: Subject: [...]\r\n"
	    "Content-Type: text/plain; charset=us-ascii; hp=\"cipher\"\r\n"
	    "\r\nprotected hello\r\n";
	X509 *const to[] = {bob.cert, NULL};
	char *signed_ent = detached_entity(payload, &zoe, 0), *got, names[200];
	struct inbound_options o;
	struct inbound_result r;
	struct msg m;
	size_t len;
	unsigned char *der =
	    encrypt(signed_ent, strlen(signed_ent), to, EVP_aes_256_cbc(), 0, &len);

	msg_pkcs7(&m, " Zoe <zoe@outside.example>", "enveloped-data", der, len);
	options(&o, 1, 1, 0);
	run(&m, &o, &r);
	ck_assert_int_eq(r.decryption, ENVELOPE_OK);
	ck_assert_msg(r.smime == INBOUND_SMIME_PASS, "%s", r.reason);
	got = new_content(&r);
	ck_assert_str_eq(got, signed_ent); /* the multipart/signed as the sender encrypted it */
	free(got);
	ck_assert_ptr_nonnull(inbound_protected_subject(&m.h, &r));
	ck_assert_str_eq(inbound_protected_subject(&m.h, &r), " the real subject");
	inbound_protected_names(&r, names, sizeof(names));
	ck_assert_str_eq(names, "From, Subject, HP-Outer");
	inbound_result_free(&r);

	/* decrypt only: the same entity, no verdict */
	options(&o, 1, 0, 0);
	run(&m, &o, &r);
	ck_assert_int_eq(r.smime, INBOUND_SMIME_NONE);
	got = new_content(&r);
	ck_assert_str_eq(got, signed_ent);
	free(got);
	inbound_result_free(&r);

	/* verify only: an encrypted message is left alone */
	options(&o, 0, 1, 0);
	run(&m, &o, &r);
	ck_assert_int_eq(r.encrypted, 1);
	ck_assert_int_eq(r.changed, 0);
	ck_assert_int_eq(r.smime, INBOUND_SMIME_NONE);
	inbound_result_free(&r);
	msg_free(&m);
	free(der);
	free(signed_ent);
}
END_TEST

/* Opaque signed-data: verified; with unwrap the content takes its place. */
START_TEST(test_opaque_unwrap)
{
	struct inbound_options o;
	struct inbound_result r;
	struct msg m;
	size_t len;
	unsigned char *der = sign(entity, sizeof(entity) - 1, &zoe, 0, &len);
	char *got;

	msg_pkcs7(&m, " zoe@outside.example", "signed-data", der, len);
	options(&o, 1, 1, 0);
	run(&m, &o, &r);
	ck_assert_msg(r.smime == INBOUND_SMIME_PASS, "%s", r.reason);
	ck_assert_int_eq(r.opaque, 1);
	ck_assert_int_eq(r.changed, 0);
	inbound_result_free(&r);
	options(&o, 1, 1, 1);
	run(&m, &o, &r);
	ck_assert_int_eq(r.smime, INBOUND_SMIME_PASS);
	ck_assert_int_eq(r.unwrapped, 1);
	got = new_content(&r);
	ck_assert_str_eq(got, entity);
	free(got);
	inbound_result_free(&r);
	msg_free(&m);
	/* a bad one is unwrapped too, and says fail */
	der[len - 40] ^= 0x55;
	msg_pkcs7(&m, " zoe@outside.example", "signed-data", der, len);
	run(&m, &o, &r);
	ck_assert_msg(r.smime == INBOUND_SMIME_FAIL || r.smime == INBOUND_SMIME_NEUTRAL, "%d %s",
	    r.smime, r.reason);
	ck_assert_int_ne(r.smime, INBOUND_SMIME_PASS);
	inbound_result_free(&r);
	msg_free(&m);
	free(der);
}
END_TEST

START_TEST(test_forged_results)
{
	ck_assert_int_eq(inbound_ar_claims_smime(" mx.example.com; smime=pass", "mx.example.com"),
	    1);
	ck_assert_int_eq(inbound_ar_claims_smime(" MX.Example.COM 1; dkim=pass header.d=a;\r\n\t"
	                                         "smime = pass body.smime-identifier=a@b",
	                     "mx.example.com"),
	    1);
	ck_assert_int_eq(
	    inbound_ar_claims_smime(" (comment; smime=x) mx.example.com;\r\n\tsmime/1=fail",
	        "mx.example.com"),
	    1);
	/* someone else's, or ours without an smime result */
	ck_assert_int_eq(inbound_ar_claims_smime(" other.example; smime=pass", "mx.example.com"),
	    0);
	ck_assert_int_eq(inbound_ar_claims_smime(" mx.example.com; dkim=pass header.d=a",
	                     "mx.example.com"),
	    0);
	ck_assert_int_eq(
	    inbound_ar_claims_smime(" mx.example.com; dkim=pass reason=\"x; smime=pass\"",
	        "mx.example.com"),
	    0);
	ck_assert_int_eq(inbound_ar_claims_smime(" mx.example.com", "mx.example.com"), 0);
	ck_assert_int_eq(inbound_ar_claims_smime("", "mx.example.com"), 0);
}
END_TEST

/* Values from certificates never break the header: quoted, printable, no line breaks. */
START_TEST(test_ar_quoting)
{
	struct inbound_result r;
	char ar[600];

	memset(&r, 0, sizeof(r));
	r.smime = INBOUND_SMIME_FAIL;
	r.signer = zoe.cert;
	snprintf(r.reason, sizeof(r.reason), "bad \"thing\"\r\nInjected: yes");
	snprintf(r.identifier, sizeof(r.identifier), "a b@c");
	snprintf(r.serial, sizeof(r.serial), "1F");
	snprintf(r.issuer, sizeof(r.issuer), "CN=A\\, B \"Q\",O=\xc3\xa9");
	ck_assert_int_eq(inbound_ar_value("mx", &r, ar, sizeof(ar)), 0);
	ck_assert_str_eq(ar,
	    "mx;\r\n\tsmime=fail reason=\"bad \\\"thing\\\"??Injected: yes\"\r\n"
	    "\tbody.smime-identifier=\"a b@c\"\r\n\tbody.smime-serial=1F\r\n"
	    "\tbody.smime-issuer=\"CN=A\\\\, B \\\"Q\\\",O=??\"");
	ck_assert_int_eq(inbound_ar_value("mx", &r, ar, 20), -1);
	ck_assert_str_eq(ar, "");
}
END_TEST

/* ---- the keywords of the receiving side ---- */

static char confdir[256], errors[8][600];
static int nerrors;

static void
collect(void *arg, const char *msg)
{
	(void)arg;
	if (nerrors < 8)
		snprintf(errors[nerrors], sizeof(errors[0]), "%s", msg);
	nerrors++;
}

/* Load text as a configuration; the errors go to errors[]. */
static struct conf *
load(const char *text)
{
	char path[300];
	struct conf *c = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/smime-milter.conf", confdir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	nerrors = 0;
	(void)conf_load(path, &c, collect, NULL);
	return c;
}

static int
has_error(const char *what)
{
	int i;

	for (i = 0; i < nerrors && i < 8; i++)
		if (strstr(errors[i], what) != NULL)
			return 1;
	return 0;
}

START_TEST(test_conf_keywords)
{
	X509 *const gw[] = {bob.cert, NULL}, *const cas[] = {ca.cert, NULL};
	const char *tmp = getenv("TMPDIR");
	char text[4096], key[300], open_key[300], nocert[300], cafile[300];
	struct policy_settings s;
	struct conf *c;

	snprintf(confdir, sizeof(confdir), "%s/check_inbound.XXXXXX", tmp ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(confdir));
	snprintf(key, sizeof(key), "%s/gateway.pem", confdir);
	snprintf(open_key, sizeof(open_key), "%s/open.pem", confdir);
	snprintf(nocert, sizeof(nocert), "%s/nocert.pem", confdir);
	snprintf(cafile, sizeof(cafile), "%s/ca.pem", confdir);
	testpki_write(key, 0600, bob.key, gw, 0);
	testpki_write(open_key, 0644, bob.key, gw, 0);
	testpki_write(nocert, 0600, bob.key, NULL, 0);
	testpki_write(cafile, 0644, NULL, cas, 0);

	snprintf(text, sizeof(text),
	    "ca-file %s\nauthserv-id mx.example.com\n"
	    "<domain example.com>\n decrypt yes\n verify yes\n unwrap-opaque yes\n"
	    " decryption-key %s\n decryption-key-dir %s\n on-undecryptable tempfail\n</domain>\n"
	    "<virtual-mta mx2>\n verify no\n</virtual-mta>\n",
	    cafile, key, confdir);
	c = load(text);
	ck_assert_msg(c != NULL, "%s", errors[0]);
	ck_assert_int_eq(c->inbound, 1);
	policy_for_recipient(&c->policy, NULL, "example.com", &s);
	ck_assert_int_eq(s.decrypt, 1);
	ck_assert_int_eq(s.verify, 1);
	ck_assert_int_eq(s.unwrap_opaque, 1);
	ck_assert_int_eq(s.on_undecryptable, POLICY_UNDECRYPTABLE_TEMPFAIL);
	ck_assert_str_eq(s.decryption_key, key);
	ck_assert_str_eq(s.decryption_key_dir, confdir);
	policy_for_recipient(&c->policy, NULL, "other.example", &s);
	ck_assert_int_eq(s.decrypt, 0);
	ck_assert_int_eq(s.on_undecryptable, POLICY_UNDECRYPTABLE_PASS);
	ck_assert_ptr_null(s.decryption_key);
	policy_for_recipient(&c->policy, "mx2", "example.com", &s);
	ck_assert_int_eq(s.verify, 1); /* the <domain> is more specific than the <virtual-mta> */
	conf_unref(c);

	/* what goes together */
	ck_assert_ptr_null(load("<domain example.com>\n decrypt yes\n verify yes\n</domain>\n"));
	ck_assert(has_error("decrypt is on but no decryption-key or decryption-key-dir is set"));
	ck_assert(has_error("verify needs ca-file"));
	ck_assert(has_error("verify needs authserv-id"));
	ck_assert_ptr_null(load("authserv-id \"mx example\"\n"));
	ck_assert(has_error("authserv-id \"mx example\": not a token"));
	ck_assert_ptr_null(load("harvest-ldap yes\nharvest-ldap-base ou=h,dc=x\n"));
	ck_assert(has_error("harvest-ldap needs ldap-uri and ldap-base"));
	ck_assert_ptr_null(load("harvest-ldap-base nodn\n"));
	ck_assert(has_error("harvest-ldap-base \"nodn\": not a DN"));
	/* bad values and files */
	ck_assert_ptr_null(load("on-undecryptable bounce\n"));
	ck_assert(has_error("on-undecryptable: \"bounce\" is not pass, tempfail or reject"));
	snprintf(text, sizeof(text), "decryption-key %s\n", open_key);
	ck_assert_ptr_null(load(text));
	ck_assert(has_error("readable by group or others"));
	snprintf(text, sizeof(text), "decryption-key %s\n", nocert);
	ck_assert_ptr_null(load(text));
	ck_assert_msg(has_error("decryption-key ") && nerrors == 1, "%d %s", nerrors, errors[0]);
	ck_assert_ptr_null(load("<sender a@b.example>\n decrypt yes\n</sender>\n"));
	ck_assert(has_error("keyword \"decrypt\" is not allowed in <sender>"));
	/* a pkcs11: URI is taken as it is, checked when used */
	snprintf(text, sizeof(text),
	    "<domain example.com>\n decrypt yes\n"
	    " decryption-key pkcs11:token=gw;object=key\n</domain>\n");
	c = load(text);
	ck_assert_msg(c != NULL, "%s", errors[0]);
	conf_unref(c);
	{
		char cmd[400];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", confdir);
		ck_assert_int_eq(system(cmd), 0);
	}
}
END_TEST

static Suite *
inbound_suite(void)
{
	Suite *s = suite_create("inbound");
	TCase *tc = tcase_create("inbound");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_decrypt_algorithms);
	tcase_add_test(tc, test_undecryptable);
	tcase_add_test(tc, test_verify_detached);
	tcase_add_test(tc, test_signed_and_encrypted);
	tcase_add_test(tc, test_opaque_unwrap);
	tcase_add_test(tc, test_forged_results);
	tcase_add_test(tc, test_ar_quoting);
	tcase_add_test(tc, test_conf_keywords);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(inbound_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
