/*
 * privfile.h - opening the files that hold secrets: private keys, the
 * passphrase of encrypted keys (key-passphrase-file), token PINs
 * (pin-source), the LDAP bind password (ldap-password-file).
 *
 * One rule for every secret, checked on the file actually opened (fstat
 * of the descriptor, so nothing can change between check and read):
 *
 *   - a symbolic link is followed, and the file it leads to is checked
 *     like any other: a link to a private file is fine, a link to a file
 *     others can read is refused (secret stores that hand out links, such
 *     as mounted credentials, keep working; the link itself grants
 *     nothing);
 *   - it must be a regular file (a FIFO or a device is refused, and
 *     opening one does not block);
 *   - neither group nor others may have any access (mode 0600 or 0400),
 *     as OpenSSH requires of private keys;
 *   - a process that is not root refuses a file owned by another user (it
 *     could only read it through a capability, and that user could change
 *     it); root, which checks files on behalf of the configured user
 *     before dropping privileges, accepts any owner.
 *
 * Every refusal is "WHAT PATH: PROBLEM", WHAT naming the kind of secret
 * (a keyword such as "ldap-password-file", or "key file", "PIN file"):
 *
 *   key file /etc/k/a@b.pem: readable by group or others (mode 0644): chmod 600 it
 *   PIN file /etc/a.pin: not a regular file
 *   ldap-password-file /etc/pw: No such file or directory
 *
 * Contents are never part of a message.  Buffers that held a secret are
 * wiped before they are freed or returned on failure.
 */
#ifndef SMIME_PRIVFILE_H
#define SMIME_PRIVFILE_H

#include <stddef.h>
#include <sys/stat.h>

#define PRIVFILE_ERROR   (-1)
#define PRIVFILE_MISSING (-2) /* no such file (ENOENT); err says so */

/*
 * Open path for reading after the checks above.  Returns a descriptor
 * (O_CLOEXEC, the caller closes it), PRIVFILE_MISSING or PRIVFILE_ERROR,
 * with err filled on failure.
 */
int privfile_open(const char *path, const char *what, char *err, size_t errlen);

/*
 * The same checks on a stat(2) result, for callers that look at a file
 * before opening it (a cache deciding whether to re-read).  0 or -1.
 */
int privfile_check(const struct stat *st, const char *path, const char *what, char *err,
    size_t errlen);

/*
 * The whole file, 1 to max bytes, into a new buffer *out of *outlen bytes
 * (the caller wipes and frees it).  0, PRIVFILE_MISSING or PRIVFILE_ERROR.
 */
int privfile_read(const char *path, const char *what, size_t max, unsigned char **out,
    size_t *outlen, char *err, size_t errlen);

/*
 * The first line of the file, without its line end, into out[outlen] as
 * a string: a passphrase, a PIN, a password.  An empty first line, or one
 * that does not fit, is an error.  0, PRIVFILE_MISSING or PRIVFILE_ERROR
 * (out is then wiped).
 */
int privfile_first_line(const char *path, const char *what, char *out, size_t outlen, char *err,
    size_t errlen);

#endif
