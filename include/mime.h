/*
 * mime.h - the small amount of RFC 5322 / MIME handling the gateway needs:
 * header lists, CRLF canonicalisation, Content-* classification, the skip
 * rule for mail that is already protected, and address extraction.
 *
 * Header values are kept exactly as received (leading white space and
 * folding included); line breaks inside a value are stored as CRLF.
 */
#ifndef SMIME_MIME_H
#define SMIME_MIME_H

#include <stddef.h>

struct mime_header {
	char *name;  /* owned */
	char *value; /* owned; text after the colon, folding as CRLF */
	int index;   /* 1-based occurrence among headers of the same name */
};

struct mime_headers {
	struct mime_header *v;
	size_t n, cap;
};

/* Empty list; free with mime_headers_clear. */
void mime_headers_init(struct mime_headers *h);
/* Append a copy of name/value (value line breaks become CRLF).  0 or -1 (ENOMEM). */
int mime_headers_add(struct mime_headers *h, const char *name, const char *value);
/* Free every entry; the list is empty and reusable afterwards. */
void mime_headers_clear(struct mime_headers *h);
/* First header of that name (case-insensitive), or NULL.  Borrowed. */
const struct mime_header *mime_headers_find(const struct mime_headers *h, const char *name);

/* Nonzero when name is a Content-* header (moves inside the protected entity). */
int mime_is_content_header(const char *name);

/*
 * Nonzero when a Content-Type value says the message is S/MIME or PGP/MIME
 * already: application/pkcs7-mime, application/x-pkcs7-mime,
 * multipart/signed, multipart/encrypted.  NULL (no Content-Type) is 0.
 */
int mime_is_protected_type(const char *content_type);

/*
 * The Content-* headers of h serialised as "Name:value\r\n" lines followed
 * by the empty line: the header block of the inner entity.  When
 * add_space is nonzero a value that does not start with white space gets
 * one space after the colon.  Caller frees *out.  0 or -1 (ENOMEM).
 */
int mime_content_block(const struct mime_headers *h, int add_space, char **out, size_t *outlen);

/*
 * CRLF canonicalisation that works across chunk boundaries: bare LF becomes
 * CRLF, existing CRLF stays.  out must hold 2 * len bytes; returns the
 * number of bytes written to out.
 */
struct mime_canon {
	int last_cr; /* the previous chunk ended with CR */
};
void mime_canon_init(struct mime_canon *c);
size_t mime_canon_chunk(struct mime_canon *c, const char *in, size_t len, char *out);

/*
 * Extract the first mailbox address of a From/To-style header value or an
 * envelope address ("Name <a@b>", "a@b (comment)", "<a@b>").  The domain
 * part is lower-cased.  0, or -1 when no plausible address is found or it
 * does not fit in outlen.
 */
int mime_extract_address(const char *value, char *out, size_t outlen);

/*
 * Nonzero when addr is safe to use as a file name component: local@domain,
 * printable ASCII, no '/', no leading '.', no "..", at most 254 bytes.
 */
int mime_address_is_safe(const char *addr);

/*
 * The media type of a Content-Type value, lower-cased ("multipart/signed"),
 * into type; and a parameter's value (quotes removed, name compared
 * case-insensitively) into out.  0, or -1 when absent or too long.
 */
int mime_type(const char *content_type, char *type, size_t typelen);
int mime_param(const char *content_type, const char *name, char *out, size_t outlen);

/*
 * Parse the header block of a complete message in buf.  Headers go to h
 * (in order); *body_off is set to the offset of the first body byte (after
 * the empty line) or len when there is no body.  0, or -1 with err filled
 * (a line that is neither a header nor a continuation).
 */
int mime_parse_headers(const char *buf, size_t len, struct mime_headers *h, size_t *body_off,
    char *err, size_t errlen);

#endif
