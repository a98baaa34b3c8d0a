/*
 * strhash.h - the one string hash of the tree (32-bit FNV-1a), for the
 * hash tables of the certificate index, the file cache and the LDAP cache.
 * Not for anything an attacker must not predict: the tables hash names
 * and addresses the administrator or the directory chose, and grow or are
 * capped so that a chain of collisions stays bounded.
 */
#ifndef SMIME_STRHASH_H
#define SMIME_STRHASH_H

#include <stdint.h>

/* The hash of the NUL-terminated s (borrowed). */
uint32_t strhash(const char *s);

#endif
