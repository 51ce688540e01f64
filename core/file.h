/* file.h - Tocsin core: opening the files Tocsin writes for its users.
 * Thread-safety: reentrant.
 */
#ifndef TS_FILE_H
#define TS_FILE_H

#include <stdio.h>

/* Open path to append. A file this call creates is 0600 whatever the umask
 * (what Tocsin appends - events, dead letters - carries raw logs: passwords
 * typed as user names, tokens in URLs); an existing file keeps the mode its
 * owner gave it. NULL with errno set on failure. */
FILE *ts_fopen_private_append(const char *path);

#endif
