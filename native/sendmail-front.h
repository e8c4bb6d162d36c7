/*
 * Shared by the two halves of the native sendmail front: postern-sendmail.c
 * (command line, message, maildrop writing) and sendmail-config.c (main.cf
 * and the submitting user). See postern-sendmail.c for why the front exists.
 */
#ifndef POSTERN_SENDMAIL_FRONT_H
#define POSTERN_SENDMAIL_FRONT_H
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define EX_DATAERR 65
#define EX_UNAVAILABLE 69
#define EX_OSERR 71
#define EX_TEMPFAIL 75

#define MAX_MAIN_CF (4 * 1024 * 1024)
#define MAX_STDIN ((size_t)1 << 30) /* hard cap when message_size_limit = 0 */
#define MAX_RECIPIENTS 10000
#define SOCKET_TIMEOUT_SEC 60

struct buf {
    char *data;
    size_t len, cap;
};

struct settings {
    char *queue_directory, *mail_owner, *message_size_limit, *authorized_submit_users;
};

/* The command line, for fallback(). */
extern char **orig_argv;

void fatal(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
/* Hand the whole invocation to the Node sendmail; standard input must still be unread. */
void fallback(void) __attribute__((noreturn));
void buf_grow(struct buf *b, size_t more);
void buf_add(struct buf *b, const void *p, size_t n);
void buf_str(struct buf *b, const char *s);
char *xstrdup(const char *s);

static inline int is_ws(char c) { return c == ' ' || c == '\t'; }

/* sendmail-config.c */
void read_main_cf(const char *dir, struct settings *s);
int all_digits(const char *s);
int anyone_may_submit(const char *list);
char *default_full_name(uid_t uid);

#endif
