/*
 * smime_hp.c - RFC 9788 header protection for the inner entity.
 *
 * The Cryptographic Payload (the entity that is signed and/or encrypted)
 * gets copies of the message's protected header fields ahead of its
 * Content-* fields, and its Content-Type gets hp="cipher" (encrypted) or
 * hp="clear" (signed only).  With hp="cipher" an HP-Outer field records
 * each protected field as it appears outside, "[...]" for a hidden
 * Subject, so a receiving client can tell what was obscured.
 * Header values are copied as received (folding kept); lines we add stay
 * within 76 columns.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "errmsg.h"
#include "mime.h"
#include "secbuf.h"
#include "smime_int.h"

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

static const char *
canonical_name(const char *name)
{
	size_t i;

	for (i = 0; i < N_PROTECTED; i++)
		if (strcasecmp(name, protected_names[i]) == 0)
			return protected_names[i];
	return NULL;
}

/* "Name: value\r\n" with the value as received (a space after the colon if it has none). */
static void
add_field(struct secbuf *b, const char *prefix, const char *name, const char *value)
{
	secbuf_puts(b, prefix);
	secbuf_puts(b, name);
	secbuf_puts(b, ":");
	if (*value != ' ' && *value != '\t')
		secbuf_puts(b, " ");
	secbuf_puts(b, value);
	secbuf_puts(b, "\r\n");
}

/*
 * Nonzero when the field text [p, p + len) ends inside a quoted string (a
 * quote left open): a parameter added after it would be part of the string.
 */
static int
ends_in_quotes(const char *p, size_t len)
{
	size_t i;
	int quoted = 0;

	for (i = 0; i < len; i++) {
		if (quoted && p[i] == '\\' && i + 1 < len)
			i++;
		else if (p[i] == '"')
			quoted = !quoted;
	}
	return quoted;
}

/* Length of the last line of b (columns used so far). */
static size_t
last_line_len(const struct secbuf *b)
{
	size_t i = b->len;

	while (i > 0 && b->data[i - 1] != '\n')
		i--;
	return b->len - i;
}

/*
 * Copy the Content-* lines of head, adding the hp parameter to the end of
 * the Content-Type field (folded onto its own line when it would pass 76
 * columns).  Adds a Content-Type when head has none.
 */
static void
add_content_fields(struct secbuf *b, const char *head, size_t headlen, const char *hp)
{
	size_t pos = 0;
	int have_ct = 0;
	char param[32];

	snprintf(param, sizeof(param), "; hp=\"%s\"", hp);
	while (pos < headlen) {
		size_t eol = pos, end;
		int is_ct;
		/* a field runs to the end of its last continuation line */
		for (;;) {
			while (eol < headlen && head[eol] != '\n')
				eol++;
			if (eol + 1 < headlen && (head[eol + 1] == ' ' || head[eol + 1] == '\t')) {
				eol++;
				continue;
			}
			break;
		}
		end = eol > pos && head[eol - 1] == '\r' ? eol - 1 : eol;
		if (end == pos) /* the empty line */
			break;
		is_ct = end - pos > 13 && strncasecmp(head + pos, "Content-Type:", 13) == 0;
		secbuf_append(b, head + pos, end - pos);
		if (is_ct && !have_ct) {
			have_ct = 1;
			if (ends_in_quotes(head + pos, end - pos)) {
				/* a quote the sender left open is closed, so that hp stays a parameter */
				secbuf_puts(b, "\"");
			} else {
				/*
				 * drop trailing white space, folds included (a last continuation line
				 * of blanks), and a trailing ';' before adding ours
				 */
				while (b->len > 0 &&
				    (b->data[b->len - 1] == ' ' || b->data[b->len - 1] == '\t' ||
				        b->data[b->len - 1] == '\r' || b->data[b->len - 1] == '\n'))
					b->len--;
				if (b->len > 0 && b->data[b->len - 1] == ';')
					b->len--;
			}
			if (!b->failed && last_line_len(b) + strlen(param) > 76) {
				secbuf_puts(b, ";\r\n");
				secbuf_puts(b, param + 1);
			} else {
				secbuf_puts(b, param);
			}
		}
		secbuf_puts(b, "\r\n");
		pos = eol + 1;
	}
	if (!have_ct) {
		secbuf_puts(b, "Content-Type: text/plain; charset=us-ascii");
		secbuf_puts(b, param);
		secbuf_puts(b, "\r\n");
	}
}

int
smime_hp_head(const struct mime_headers *outer, const char *head, size_t headlen, int cipher,
    int hide_subject, char **out, size_t *outlen, char *err, size_t errlen)
{
	struct secbuf b = SECBUF_INIT;
	size_t i;

	for (i = 0; outer != NULL && i < outer->n; i++) {
		const char *name = canonical_name(outer->v[i].name);
		if (name != NULL)
			add_field(&b, "", name, outer->v[i].value);
	}
	for (i = 0; cipher && outer != NULL && i < outer->n; i++) {
		const char *name = canonical_name(outer->v[i].name);
		if (name == NULL)
			continue;
		if (hide_subject && strcmp(name, "Subject") == 0) {
			secbuf_puts(&b, "HP-Outer: Subject: [...]\r\n");
			continue;
		}
		secbuf_puts(&b, "HP-Outer: ");
		add_field(&b, "", name, outer->v[i].value);
	}
	add_content_fields(&b, head, headlen, cipher ? "cipher" : "clear");
	secbuf_puts(&b, "\r\n");
	if (b.failed) {
		secbuf_free(&b);
		errmsg_set(err, errlen, "out of memory");
		return -1;
	}
	*out = b.data;
	*outlen = b.len;
	return 0;
}
