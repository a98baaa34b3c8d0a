/*
 * errmsg.c - error-message buffers.  See errmsg.h.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "errmsg.h"

void
errmsg_set(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

void
errmsg_set_ssl(char *err, size_t errlen, const char *fmt, ...)
{
	char reason[256];
	unsigned long code, last = 0;
	size_t used;
	va_list ap;

	while ((code = ERR_get_error()) != 0)
		last = code;
	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	if (last == 0)
		return;
	ERR_error_string_n(last, reason, sizeof(reason));
	used = strlen(err);
	if (used + 3 < errlen)
		snprintf(err + used, errlen - used, " (%s)", reason);
}
