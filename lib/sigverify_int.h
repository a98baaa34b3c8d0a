/*
 * sigverify_int.h - what the files of the sigverify module share:
 * sigverify.c (the checks on bodies in memory) and sigverify_spool.c
 * (the same for bodies in a spool, streaming).
 */
#ifndef SMIME_SIGVERIFY_INT_H
#define SMIME_SIGVERIFY_INT_H

#include <openssl/cms.h>

#include "sigverify.h"

/* The first needle in hay[0..len), or NULL. */
const unsigned char *sigverify_find(const unsigned char *hay, size_t len, const char *needle);

/*
 * The signature part of a multipart/signed: t (len bytes) starts at its
 * delimiter line ("--boundary", delim).  *sig: the DER (caller frees).
 * 0, or -1 with reason.
 */
int sigverify_sig_part(const unsigned char *t, size_t len, const char *delim, unsigned char **sig,
    size_t *siglen, char *reason, size_t reasonlen);

/*
 * Verify the parsed SignedData cms over detached (its content as a BIO,
 * or NULL when it holds its content) and, with trust, the signer's chain.
 * r->status and the rest of r filled.
 */
void sigverify_verify_cms(struct sigverify_result *r, CMS_ContentInfo *cms, BIO *detached,
    X509_STORE *trust, STACK_OF(X509_CRL) *crls);

#endif
