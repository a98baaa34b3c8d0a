/*
 * mimescan.h - the limits on a message's MIME structure, checked while the
 * body arrives: nesting depth, number of parts, header fields per header
 * block and bytes per header field.
 *
 * The scanner is fed the canonical (CRLF) body chunk by chunk, as the MTA
 * hands it over, and follows the structure with the rules of the 7-bit
 * re-encoder (mime7bit.h): multipart bodies by their boundaries,
 * message/rfc822 and message/global (not base64 or quoted-printable) into
 * the enclosed message, multipart/digest parts as message/rfc822 by
 * default.  It keeps no content: one line prefix to recognise boundaries,
 * the boundaries of the open multiparts and the Content-Type field of the
 * header block being read, each bounded by the limits.  The first limit
 * exceeded stops it at that byte; no second pass over the spool is needed.
 */
#ifndef SMIME_MIMESCAN_H
#define SMIME_MIMESCAN_H

#include <stddef.h>

/* The deepest nesting any configuration may allow (max-mime-depth's range). */
#define MIMESCAN_DEPTH_MAX 256
/* The longest boundary followed (RFC 2046 allows 70 characters). */
#define MIMESCAN_BOUNDARY_MAX 200

struct mimescan_limits {
	int depth;          /* containers (multipart, message/rfc822) around an entity */
	int parts;          /* entities below the message itself */
	int headers;        /* fields of one header block */
	size_t header_line; /* bytes of one field with its continuation lines and line ends */
};

enum mimescan_result {
	MIMESCAN_OK = 0,
	MIMESCAN_DEPTH,       /* max-mime-depth */
	MIMESCAN_PARTS,       /* max-mime-parts */
	MIMESCAN_HEADERS,     /* max-headers */
	MIMESCAN_HEADER_LINE, /* max-header-line */
	MIMESCAN_NOMEM
};

typedef struct mimescan mimescan;

/*
 * A scanner for the body of a message whose Content-Type and
 * Content-Transfer-Encoding values are content_type and cte (NULL: none).
 * The limits are copied.  NULL when out of memory.
 */
mimescan *mimescan_new(const struct mimescan_limits *lim, const char *content_type,
    const char *cte);

/*
 * The next body bytes.  MIMESCAN_OK, or the limit exceeded with err saying
 * which and where ("MIME parts nested deeper than 32 levels
 * (max-mime-depth)"); once a limit is exceeded every later call returns
 * the same.
 */
enum mimescan_result mimescan_feed(mimescan *s, const void *data, size_t len, char *err,
    size_t errlen);

/* The metrics reason of a result: "mime_depth", "mime_parts", "headers", "header_line". */
const char *mimescan_reason(enum mimescan_result r);

/* Wipe and free s; NULL is fine. */
void mimescan_free(mimescan *s);

#endif
