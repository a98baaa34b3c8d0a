/*
 * cmssplit.h - take the content out of a CMS ContentInfo that came from
 * outside, streaming, so that a message of any size is opened in bounded
 * memory: OpenSSL's d2i_CMS_bio would read the whole structure, content
 * and all, into memory.
 *
 * The ContentInfo (DER or BER: definite or indefinite lengths, the content
 * as one OCTET STRING or in chunks of a constructed one) is read from a
 * spool, base64-decoded on the way when asked.  For EnvelopedData and
 * AuthEnvelopedData (RFC 5652 6, RFC 5083) the encryptedContent octets,
 * for SignedData (RFC 5652 5) the eContent octets, are copied into a
 * spool of their own; the rest of the structure is rebuilt without the
 * content (which is OPTIONAL in both), small enough for d2i_CMS_ContentInfo,
 * after which OpenSSL reads the content as detached content from the
 * spool (CMS_decrypt or CMS_verify with a dcont BIO: spool_bio_reader).
 *
 * Everything is checked as it is read: an element must fit its parent,
 * nesting is bounded, the rebuilt structure at most CMSSPLIT_HEAD_MAX.
 */
#ifndef SMIME_CMSSPLIT_H
#define SMIME_CMSSPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "spool.h"

/* The largest structure without its content: certificates, CRLs, recipients. */
#define CMSSPLIT_HEAD_MAX (2u * 1024 * 1024)

enum cmssplit_result {
	CMSSPLIT_OK = 0,
	CMSSPLIT_OTHER,   /* a ContentInfo of another type: nid says which */
	CMSSPLIT_CORRUPT, /* not base64, not BER, truncated, not the CMS syntax */
	CMSSPLIT_ERROR    /* internal failure: out of memory, spool I/O */
};

struct cmssplit {
	int nid;             /* the ContentInfo's contentType (NID_undef when unknown) */
	unsigned char *head; /* the ContentInfo without its content (DER outside); owned */
	size_t headlen;
	int has_content; /* the content was present (it may be empty) */
	int has_mac;     /* AuthEnvelopedData: its mac was seen, maclen bytes */
	size_t maclen;
	uint64_t content_len; /* octets written to the content spool */
};

/*
 * Read the ContentInfo in sp from offset off on (base64 text when base64
 * is set, else DER/BER).  For enveloped-data, authEnveloped-data and
 * signed-data the content goes to content (appended) and s->head is the
 * rest; for another type only s->nid is set (CMSSPLIT_OTHER).  s must be
 * released with cmssplit_free, whatever the result.  On anything but
 * CMSSPLIT_OK, reason says why (for CORRUPT: what is wrong, and where).
 */
enum cmssplit_result cmssplit_read(spool *sp, uint64_t off, int base64, spool *content,
    struct cmssplit *s, char *reason, size_t reasonlen);

void cmssplit_free(struct cmssplit *s);

#endif
