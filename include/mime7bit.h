/*
 * mime7bit.h - make a MIME entity safe for 7-bit transport before it is
 * signed (RFC 8551 3.1.2: signed content must survive any gateway).
 *
 * The entity (a header block and a CRLF-canonical body in a spool) is
 * walked as a MIME tree, streaming: multipart bodies are descended into by its
 * boundaries, message/rfc822 into its enclosed message, and every leaf
 * body that is 8bit or binary (declared so, or holding 8-bit bytes, NUL
 * or lines over 998 octets) is re-encoded: quoted-printable for text
 * (and for a body without Content-Type), base64 otherwise, in lines of at
 * most 76 columns.  Preambles, epilogues, boundaries and every other
 * header line are copied unchanged; the CRLF before a boundary stays
 * outside the encoded content.
 *
 * Memory is bounded: one line buffer, one header block at a time and one
 * flag per leaf; the result goes to a second spool.
 */
#ifndef SMIME_MIME7BIT_H
#define SMIME_MIME7BIT_H

#include <stddef.h>

#include "spool.h"

/*
 * Re-encode head + body into out (header block and body together, so the
 * caller uses an empty head with out as body).  out: an empty spool
 * (borrowed).  Returns 1 when something was re-encoded (out holds the
 * result), 0 when nothing needed re-encoding (use the original and discard
 * out), -1 with err filled.
 */
int mime7bit_encode(const char *head, size_t headlen, spool *body, spool *out, char *err,
    size_t errlen);

#endif
