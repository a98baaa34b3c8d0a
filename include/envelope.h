/*
 * envelope.h - open a CMS EnvelopedData or AuthEnvelopedData (RFC 5652,
 * RFC 5083) that came from outside with one of the keys we hold: the
 * recipient's own key or a domain's gateway key.
 *
 * A key is used only for a RecipientInfo that names its certificate
 * (issuer and serial, or subject key identifier): RSA key transport
 * (PKCS#1 v1.5, RSAES-OAEP) and EC key agreement (ECDH) alike.  Only a key
 * given without a certificate (smime-tool's --key alone) is tried on every
 * RecipientInfo, and then a miss is reported as such (CORRUPT), which the
 * milter never does.  Every
 * content encryption and key transport OpenSSL's default provider knows
 * is accepted (AES-CBC, AES-GCM, ...); others are reported as
 * unsupported.  OpenSSL's countermeasure against padding-oracle attacks
 * on RSA PKCS#1 v1.5 stays on: a forged encrypted key shows as a corrupt
 * message, not as a separate answer.
 *
 * The content goes to a BIO (a spool BIO, so that it never reaches the
 * disk in clear); after a failure what was written there must be
 * discarded.
 */
#ifndef SMIME_ENVELOPE_H
#define SMIME_ENVELOPE_H

#include <stddef.h>

#include <openssl/bio.h>

#include "cmssplit.h"
#include "keystore.h"
#include "spool.h"

enum envelope_result {
	ENVELOPE_OK = 0,
	ENVELOPE_NOT_ENVELOPED, /* a CMS structure of another type (signed-data, ...) */
	ENVELOPE_NO_KEY,        /* no RecipientInfo names a certificate of ours */
	ENVELOPE_CORRUPT,       /* not CMS, truncated, or the decryption fails */
	ENVELOPE_UNSUPPORTED,   /* an algorithm that cannot be processed here */
	ENVELOPE_ERROR          /* internal failure (out of memory, the output BIO) */
};

struct envelope_info {
	int auth;        /* AuthEnvelopedData (AES-GCM) */
	int nrecipients; /* RecipientInfos in the message */
	int key;         /* index of the key that opened it, or -1 */
};

/*
 * Decrypt the ContentInfo in der (DER or BER, len bytes) with the first of
 * keys[0..nkeys) whose certificate a RecipientInfo names; the content is
 * written to out.  info (may be NULL) says what was found.  On anything
 * but ENVELOPE_OK reason says why, naming the recipients for NO_KEY.
 */
enum envelope_result envelope_decrypt(const unsigned char *der, size_t len,
    const struct keystore_identity *keys, size_t nkeys, BIO *out, struct envelope_info *info,
    char *reason, size_t reasonlen);

/*
 * The same for a ContentInfo split by cmssplit_read (s: the structure
 * without its content; content: the encrypted content it took out, read
 * from the start), so that the content streams from the spool through the
 * cipher into out and memory does not grow with the message.  The
 * decryption, and with AuthEnvelopedData the check of its authentication
 * tag (at least 12 bytes), ends before ENVELOPE_OK is returned: on any
 * other answer, what went to out must be discarded.
 */
enum envelope_result envelope_open(const struct cmssplit *s, spool *content,
    const struct keystore_identity *keys, size_t nkeys, BIO *out, struct envelope_info *info,
    char *reason, size_t reasonlen);

/* A name for logs: "decrypted", "no key", "corrupt", "unsupported algorithm", ... */
const char *envelope_result_name(enum envelope_result r);

#endif
