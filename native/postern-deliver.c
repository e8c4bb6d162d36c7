/*
 * postern-deliver: the only code that writes into mailboxes and files for
 * local(8) and virtual(8). Postern starts it per delivery with the
 * recipient's uid/gid already set (never setuid, never root), so the kernel
 * enforces the recipient's permissions; this program adds what Postfix's
 * safe_open() and mbox locking add on top: no symbolic links, no hard links,
 * regular files only, optional owner check, fcntl/flock/dotlock locking, a
 * file size limit (RLIMIT_FSIZE, as Postfix's set_file_limit()), and rollback
 * of a partial append.
 *
 * Usage (content on stdin, already in its final form):
 *   postern-deliver mbox PATH LOCKS LIMIT OWNERCHECK ATTEMPTS DELAY STALE MKDIRS
 *   postern-deliver maildir DIR/ LIMIT UNIQUE
 *   postern-deliver read PATH MAXBYTES
 *   postern-deliver serve
 * serve keeps running as one recipient identity and performs many of the
 * requests above, so local(8) pays one process start per identity instead of
 * one per delivery (Postfix switches uid in a running process; Node cannot).
 * A maildir request runs in the helper itself: its content goes to tmp/ and
 * only a complete, synced file is linked into new/, so a helper that dies
 * mid-request leaves at most a file in tmp/, never a truncated message. The
 * other requests run in a forked child with exactly the single-shot code, so
 * a failure (which exits) or a lock, rlimit or dotlock never outlives its
 * request, and a child whose helper is gone rolls back an mbox append rather
 * than deliver. Framing (all lengths 4-byte big-endian), in:
 *   LEN ARGS      ARGS: SIZE and the single-shot arguments, each NUL-terminated
 *   LEN BYTES ... content chunks of at most 64 KiB, then a zero LEN
 * SIZE (the content length in decimal) comes first in ARGS; content that ends
 * short of it is not delivered.
 * serve also takes "maildirs DIR/ LIMIT N UNIQUE1 SIZE1 ... UNIQUEn SIZEn": n
 * messages for one maildir, their contents back to back. Each goes to tmp/,
 * then every file is synced (their writebacks started together, so the disk
 * sees them at once instead of one sync after another), and only then is each
 * linked into new/: one writer per batch, every file synced before it is
 * reported. The answer's OUTPUT has one line per message, in order: empty for
 * delivered, else "D.D.D text".
 * out, per request: LEN STATUS OUTPUT, where STATUS is the child's exit
 * status (0 ok, 1 failure with the "D.D.D text" line) or 128+signal.
 * Anything malformed makes the helper exit at once; so does EOF.
 * LOCKS: comma list of fcntl, flock, dotlock ("-" for none). OWNERCHECK: 1 = an
 * existing file must belong to the real uid. MKDIRS: 1 = create missing parent
 * directories (mode 0700), as virtual(8) does. On failure it prints one line
 * "D.D.D text" (an enhanced status code, then the reason) on stdout and exits 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

static void fail(const char *dsn, const char *fmt, ...) {
    va_list ap;
    printf("%s ", dsn);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    exit(1);
}

/* Postfix's mbox_dsn(): a full disk or quota is the recipient's problem (5.2.2), the rest is temporary. */
static const char *errno_dsn(int err) { return (err == EDQUOT || err == EFBIG) ? "5.2.2" : "4.2.0"; }

static long long parse_num(const char *s, const char *what) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < 0) fail("4.3.0", "bad %s argument: %s", what, s);
    return v;
}

static void set_size_limit(long long limit) {
    if (limit <= 0) return;
    struct rlimit rl = {(rlim_t)limit, (rlim_t)limit};
    /* A write past the limit must fail with EFBIG, not kill us. */
    signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &rl) < 0) fail("4.3.0", "setrlimit: %s", strerror(errno));
}

/*
 * The serve helper's per-write variant: lowers only the soft limit for one file,
 * keeping `saved` so the caller can restore it; 1 when a limit was set.
 */
static int limit_fsize(long long limit, struct rlimit *saved) {
    if (limit <= 0 || getrlimit(RLIMIT_FSIZE, saved) != 0) return 0;
    struct rlimit rl = *saved;
    rl.rlim_cur = (rlim_t)limit < saved->rlim_max ? (rlim_t)limit : saved->rlim_max;
    /* A write past the limit must fail with EFBIG, not kill us. */
    signal(SIGXFSZ, SIG_IGN);
    return setrlimit(RLIMIT_FSIZE, &rl) == 0;
}

/* The content length the request announced (serve mode, or POSTERN_DELIVER_SIZE); -1 = until EOF. */
static long long expected_input = -1;
/* In serve mode, the helper that forked this request's child. */
static pid_t serve_parent = 0;

/*
 * A request whose helper died (killed, or its delivery process gone) has
 * been deferred by Postern: writing it now would only make a duplicate, so
 * the child rolls back instead. Not a kill on parent death: that could stop
 * an mbox append halfway, before its rollback.
 */
static int abandoned(void) { return serve_parent != 0 && getppid() != serve_parent; }

/*
 * Copy stdin to fd. Returns 0 or an errno value. Content that ends short of
 * the announced length (the helper died mid-request) is an error, so a
 * truncated message is rolled back instead of delivered.
 */
static int copy_stdin(int fd) {
    char buf[65536];
    long long total = 0;
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n == 0) return (expected_input >= 0 && total != expected_input) || abandoned() ? EPIPE : 0;
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        total += n;
        if (expected_input >= 0 && total > expected_input) return EPIPE;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(fd, buf + off, (size_t)(n - off));
            if (w < 0) {
                if (errno == EINTR) continue;
                return errno;
            }
            off += w;
        }
    }
}

/*
 * Open an existing file or create a new one without following a symbolic link
 * at the last component and without writing through a second hard link; the
 * lstat/fstat comparison catches a file swapped between the two calls.
 */
static int safe_open_append(const char *path, int owner_check, struct stat *st) {
    for (int tries = 0; tries < 3; tries++) {
        struct stat lst;
        if (lstat(path, &lst) < 0) {
            if (errno != ENOENT) fail("4.2.0", "cannot access %s: %s", path, strerror(errno));
            int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);
            if (fd < 0 && errno == EEXIST) continue;
            if (fd < 0) fail(errno_dsn(errno), "cannot create file %s: %s", path, strerror(errno));
            if (fstat(fd, st) < 0) fail("4.2.0", "fstat %s: %s", path, strerror(errno));
            return fd;
        }
        if (S_ISLNK(lst.st_mode)) fail("4.2.0", "file %s is a symbolic link", path);
        /* /dev/null is the one non-regular file Postfix allows as a destination. */
        int devnull = strcmp(path, "/dev/null") == 0 && S_ISCHR(lst.st_mode);
        if (!S_ISREG(lst.st_mode) && !devnull) fail("4.2.0", "file %s is not a regular file", path);
        if (!devnull && lst.st_nlink != 1) fail("4.2.0", "file %s has %lu hard links", path, (unsigned long)lst.st_nlink);
        if (owner_check && !devnull && lst.st_uid != getuid())
            fail("4.2.0", "file %s has wrong owner: uid %lu", path, (unsigned long)lst.st_uid);
        int fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT) continue;
        if (fd < 0) fail(errno_dsn(errno), "cannot open file %s: %s", path, strerror(errno));
        if (fstat(fd, st) < 0) fail("4.2.0", "fstat %s: %s", path, strerror(errno));
        if (st->st_dev != lst.st_dev || st->st_ino != lst.st_ino || (!devnull && st->st_nlink != 1))
            fail("4.2.0", "file %s changed while it was being opened", path);
        return fd;
    }
    fail("4.2.0", "file %s keeps changing", path);
    return -1;
}

/* Pause between lock attempts: deliver_lock_delay seconds; "0s" still yields 50ms so the holder can finish. */
static void lock_pause(long long delay) {
    if (delay > 0) sleep((unsigned)delay);
    else usleep(50000);
}

static char dotlock_path[4200];

static void dotlock_release(void) {
    if (dotlock_path[0]) unlink(dotlock_path);
    dotlock_path[0] = 0;
}

/* PATH.lock made with O_EXCL; a lock older than stale_lock_time is removed. */
static int dotlock_take(const char *path, long long attempts, long long delay, long long stale, int may_fail) {
    if (snprintf(dotlock_path, sizeof dotlock_path, "%s.lock", path) >= (int)sizeof dotlock_path)
        fail("4.3.0", "path too long: %s", path);
    for (long long i = 0; i < attempts; i++) {
        int fd = open(dotlock_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0);
        if (fd >= 0) {
            close(fd);
            return 0;
        }
        if (errno != EEXIST) {
            int err = errno;
            dotlock_path[0] = 0;
            /* A directory the recipient cannot write to: Postfix skips the dotlock for files. */
            if (may_fail && (err == EACCES || err == EPERM || err == EROFS)) return 0;
            fail("4.2.0", "unable to create lock file %s.lock: %s", path, strerror(err));
        }
        struct stat st;
        if (lstat(dotlock_path, &st) == 0 && time(NULL) - st.st_mtime > stale) {
            unlink(dotlock_path);
            continue;
        }
        if (i + 1 < attempts) lock_pause(delay);
    }
    dotlock_path[0] = 0;
    fail("4.2.0", "unable to lock %s: lock file %s.lock exists", path, path);
    return -1;
}

static void kernel_lock(int fd, const char *path, int use_fcntl, long long attempts, long long delay) {
    for (long long i = 0; i < attempts; i++) {
        int rc;
        if (use_fcntl) {
            struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
            rc = fcntl(fd, F_SETLK, &fl);
        } else {
            rc = flock(fd, LOCK_EX | LOCK_NB);
        }
        if (rc == 0) return;
        if (errno != EAGAIN && errno != EACCES && errno != EWOULDBLOCK)
            fail("4.2.0", "unable to lock %s: %s", path, strerror(errno));
        if (i + 1 < attempts) lock_pause(delay);
    }
    fail("4.2.0", "unable to lock %s: Resource temporarily unavailable", path);
}

/*
 * A failure described for the caller, "D.D.D text", where the code must not
 * exit: a maildir request runs inside the long-lived serve helper.
 */
struct failure {
    char line[4600];
};

static int failf(struct failure *f, const char *dsn, const char *fmt, ...) {
    va_list ap;
    int n = snprintf(f->line, sizeof f->line, "%s ", dsn);
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof f->line) vsnprintf(f->line + n, sizeof f->line - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* The single-shot and forked paths: report the failure and exit as fail() does. */
static void die(const struct failure *f) {
    printf("%s\n", f->line);
    fflush(stdout);
    exit(1);
}

/* mkdir -p for every directory above the last '/' of path, as the recipient. */
static int make_parents(const char *path, struct failure *f) {
    char work[4200];
    if (strlen(path) >= sizeof work) return failf(f, "4.3.0", "path too long: %s", path);
    strcpy(work, path);
    for (char *p = work + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(work, 0700) < 0 && errno != EEXIST)
            return failf(f, errno_dsn(errno), "create directory %s: %s", work, strerror(errno));
        *p = '/';
    }
    return 0;
}

static int deliver_mbox(char **argv) {
    const char *path = argv[0], *locks = argv[1];
    long long limit = parse_num(argv[2], "limit");
    int owner_check = strcmp(argv[3], "1") == 0;
    long long attempts = parse_num(argv[4], "attempts"), delay = parse_num(argv[5], "delay");
    long long stale = parse_num(argv[6], "stale");
    struct failure f;
    if (strcmp(argv[7], "1") == 0 && make_parents(path, &f) < 0) die(&f);
    if (attempts < 1) attempts = 1;
    int dot = strstr(locks, "dotlock") != NULL, use_fcntl = strstr(locks, "fcntl") != NULL;
    int use_flock = strstr(locks, "flock") != NULL;
    set_size_limit(limit);
    atexit(dotlock_release);
    /* Postfix takes the dotlock before opening, so a new mailbox is created under the lock. */
    if (dot) dotlock_take(path, attempts, delay, stale, !owner_check);
    struct stat st;
    int fd = safe_open_append(path, owner_check, &st);
    if (use_fcntl) kernel_lock(fd, path, 1, attempts, delay);
    if (use_flock) kernel_lock(fd, path, 0, attempts, delay);
    off_t start = lseek(fd, 0, SEEK_END);
    int err = copy_stdin(fd);
    if (!err && S_ISREG(st.st_mode) && fsync(fd) < 0) err = errno;
    if (err) {
        /* Leave no partial message behind, so the mailbox stays parseable. */
        if (S_ISREG(st.st_mode) && start >= 0 && ftruncate(fd, start) < 0) { /* nothing more to do */ }
        fail(errno_dsn(err), "error writing message: %s", strerror(err));
    }
    close(fd);
    return 0;
}

static int make_dir(const char *dir, struct failure *f) {
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return failf(f, errno_dsn(errno), "create maildir file %s: %s", dir, strerror(errno));
    struct stat st;
    if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) return failf(f, "4.2.0", "create maildir file %s: Not a directory", dir);
    return 0;
}

/* Copies a request's content to fd (-1: read and drop it); 0 or an errno value. */
typedef int (*content_copier)(int fd);

/*
 * tmp/ and new/ exist and are directories (not symbolic links elsewhere);
 * when one is missing, the maildir and its parents are created as the
 * recipient (mkdir -p, mode 0700), as Postfix creates them on first delivery.
 */
static int maildir_ready(const char *base, struct failure *f) {
    char tmpdir[4200], newdir[4200], curdir[4200];
    snprintf(tmpdir, sizeof tmpdir, "%stmp", base);
    snprintf(newdir, sizeof newdir, "%snew", base);
    struct stat st;
    int missing = 0;
    const char *dirs[] = {tmpdir, newdir};
    for (int i = 0; i < 2; i++) {
        if (lstat(dirs[i], &st) < 0) {
            if (errno != ENOENT) return failf(f, "4.2.0", "create maildir file %s: %s", dirs[i], strerror(errno));
            missing = 1;
        } else if (!S_ISDIR(st.st_mode)) {
            return failf(f, "4.2.0", "create maildir file %s: Not a directory", dirs[i]);
        }
    }
    if (!missing) return 0;
    snprintf(curdir, sizeof curdir, "%scur", base);
    if (make_parents(base, f) < 0 || make_dir(tmpdir, f) < 0 || make_dir(newdir, f) < 0 || make_dir(curdir, f) < 0)
        return -1;
    return 0;
}

/*
 * Maildir: write tmp/NAME, fsync it, hard-link it to new/NAME, remove
 * tmp/NAME (Postfix's maildir.c order). As in Postfix, the directory is not
 * fsync'd: the file's own fsync makes its data durable, and new/ gets a name
 * only for a complete file. Content that fails or arrives short is removed
 * from tmp/ and never linked. The size limit is the soft RLIMIT_FSIZE,
 * restored afterwards, so the serve helper can use it for every request.
 */
static int maildir_deliver(const char *base, long long limit, const char *unique, content_copier copy,
                           struct failure *f) {
    size_t len = strlen(base);
    int bad = strchr(unique, '/') || unique[0] == '.' || unique[0] == 0 || strlen(unique) > 255;
    if (bad || len == 0 || len > 4000 || base[len - 1] != '/') {
        copy(-1);
        return bad ? failf(f, "4.3.0", "bad unique name") : failf(f, "4.3.0", "bad maildir path: %s", base);
    }
    char tmpf[4400], newf[4400];
    snprintf(tmpf, sizeof tmpf, "%stmp/%s", base, unique);
    snprintf(newf, sizeof newf, "%snew/%s", base, unique);
    if (maildir_ready(base, f) < 0) {
        copy(-1);
        return -1;
    }
    int fd = open(tmpf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        copy(-1);
        return failf(f, errno_dsn(e), "create maildir file %s: %s", tmpf, strerror(e));
    }
    struct rlimit saved;
    int limited = limit_fsize(limit, &saved);
    int err = copy(fd);
    if (limited) setrlimit(RLIMIT_FSIZE, &saved);
    if (!err && fsync(fd) < 0) err = errno;
    if (close(fd) < 0 && !err) err = errno;
    if (err) {
        unlink(tmpf);
        return failf(f, errno_dsn(err), "create maildir file %s: %s", tmpf, strerror(err));
    }
    if (link(tmpf, newf) < 0) {
        err = errno;
        unlink(tmpf);
        return failf(f, "4.2.0", "link to %s: %s", newf, strerror(err));
    }
    unlink(tmpf);
    return 0;
}

/* Single-shot copy: stdin to fd, or stdin drained when fd is -1. */
static int copy_stdin_or_drain(int fd) {
    if (fd >= 0) return copy_stdin(fd);
    char buf[65536];
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n == 0) return 0;
        if (n < 0 && errno != EINTR) return errno;
    }
}

static int deliver_maildir(char **argv) {
    struct failure f;
    if (maildir_deliver(argv[0], parse_num(argv[1], "limit"), argv[2], copy_stdin_or_drain, &f) < 0) die(&f);
    return 0;
}

/* Read a .forward or :include: file as its reader; first line out: "uid mode". */
static int read_file(char **argv) {
    const char *path = argv[0];
    long long max = parse_num(argv[1], "max");
    int fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) fail(errno == ENOENT ? "5.1.1" : "4.2.0", "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0) fail("4.2.0", "fstat %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) fail("4.2.0", "%s is not a regular file", path);
    if (st.st_size > max) fail("5.3.0", "%s is larger than %lld bytes", path, max);
    printf("%lu %o\n", (unsigned long)st.st_uid, (unsigned)(st.st_mode & 07777));
    fflush(stdout);
    char buf[8192];
    long long total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail("4.2.0", "read %s: %s", path, strerror(errno));
        if (n == 0) break;
        total += n;
        if (total > max) break;
        if (write(1, buf, (size_t)n) != n) return 1;
    }
    return 0;
}

static int dispatch(int argc, char **argv) {
    if (argc == 10 && strcmp(argv[1], "mbox") == 0) return deliver_mbox(argv + 2);
    if (argc == 5 && strcmp(argv[1], "maildir") == 0) return deliver_maildir(argv + 2);
    if (argc == 4 && strcmp(argv[1], "read") == 0) return read_file(argv + 2);
    fail("4.3.0", "usage: postern-deliver mbox|maildir|read|serve ...");
    return 1;
}

#define SERVE_MAX_ARGS 16384
#define SERVE_MAX_CHUNK 65536
#define SERVE_MAX_OUTPUT (4 * 1024 * 1024)

/* Exactly n bytes from fd; 1 = done, 0 = EOF before the first byte, exits on a short or failed read. */
static int read_full(int fd, void *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r == 0 && got == 0) return 0;
        if (r <= 0) _exit(3);
        got += (size_t)r;
    }
    return 1;
}

static void write_full(int fd, const void *buf, size_t n) {
    for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, (const char *)buf + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) _exit(3);
        off += (size_t)w;
    }
}

static void read_exact(void *buf, size_t n) {
    if (!read_full(0, buf, n)) _exit(3);
}

static uint32_t get_len(const unsigned char *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void put_len(unsigned char *b, uint32_t n) {
    b[0] = (unsigned char)(n >> 24), b[1] = (unsigned char)(n >> 16), b[2] = (unsigned char)(n >> 8), b[3] = (unsigned char)n;
}

/*
 * A malformed stream: the request's child sees its content end short of the
 * announced length, rolls back and exits; then the helper exits.
 */
static void abandon(int to_child, pid_t child) {
    if (to_child >= 0) close(to_child);
    while (waitpid(child, NULL, 0) < 0 && errno == EINTR) continue;
    _exit(3);
}

/*
 * Relay the content chunks to the child; once the child stops reading
 * (EPIPE) the rest is discarded. The chunks must add up to the announced
 * length.
 */
static void relay_content(int to_child, pid_t child) {
    static char chunk[SERVE_MAX_CHUNK];
    long long total = 0;
    for (;;) {
        unsigned char b[4];
        if (!read_full(0, b, 4)) abandon(to_child, child);
        uint32_t n = get_len(b);
        if (n == 0) {
            if (total != expected_input) abandon(to_child, child);
            return;
        }
        if (n > SERVE_MAX_CHUNK || total + n > expected_input) abandon(to_child, child);
        if (!read_full(0, chunk, n)) abandon(to_child, child);
        total += n;
        if (to_child < 0) continue;
        for (uint32_t off = 0; off < n;) {
            ssize_t w = write(to_child, chunk + off, n - off);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) {
                close(to_child);
                to_child = -1;
                break;
            }
            off += (uint32_t)w;
        }
    }
}

/* 1 = n bytes read; 0 = EOF or an error first (the caller decides, nothing exits here). */
static int read_all(int fd, void *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return 0;
        got += (size_t)r;
    }
    return 1;
}

/* Set when a request's content stream is malformed or cut short: the helper exits after cleaning up. */
static int stream_broken = 0;

/*
 * The content chunks of the current request straight to fd (the helper's own
 * maildir write; -1 drops them). After a write error the rest is still read,
 * so the stream stays in step for the next request.
 */
static int copy_frames(int fd) {
    static char chunk[SERVE_MAX_CHUNK];
    long long total = 0;
    int err = 0;
    for (;;) {
        unsigned char b[4];
        if (!read_all(0, b, 4)) break;
        uint32_t n = get_len(b);
        if (n == 0) {
            if (total != expected_input) break;
            return err;
        }
        if (n > SERVE_MAX_CHUNK || total + n > expected_input || !read_all(0, chunk, n)) break;
        total += n;
        for (uint32_t off = 0; fd >= 0 && !err && off < n;) {
            ssize_t w = write(fd, chunk + off, n - off);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) err = errno;
            else off += (uint32_t)w;
        }
    }
    stream_broken = 1;
    return EPIPE;
}

/* One framed response: LEN STATUS OUTPUT. */
static void respond(uint32_t status, const char *text, size_t n) {
    static char buf[8 + sizeof ((struct failure *)0)->line + 1];
    if (n > sizeof buf - 8) n = sizeof buf - 8;
    put_len((unsigned char *)buf, (uint32_t)n + 4);
    put_len((unsigned char *)buf + 4, status);
    memcpy(buf + 8, text, n);
    write_full(1, buf, n + 8);
}

/*
 * A maildir request in the helper itself (no fork): a cut-short or
 * malformed stream leaves nothing in the maildir and ends the helper, as a
 * forked request's would.
 */
static int serve_maildir(char **argv) {
    struct failure f;
    char *end;
    errno = 0;
    long long limit = strtoll(argv[1], &end, 10);
    int rc;
    if (errno || *end || end == argv[1] || limit < 0) {
        copy_frames(-1);
        rc = failf(&f, "4.3.0", "bad limit argument: %s", argv[1]);
    } else {
        rc = maildir_deliver(argv[0], limit, argv[2], copy_frames, &f);
    }
    if (stream_broken) _exit(3);
    if (rc == 0) {
        respond(0, "", 0);
    } else {
        size_t n = strlen(f.line);
        f.line[n] = '\n';
        respond(1, f.line, n + 1);
    }
    return 0;
}

#define BATCH_MAX_FILES 64
#define BATCH_MAX_BYTES (16 * 1024 * 1024)

/* Reads a whole request's content frames into buf (exactly size bytes); 0 = malformed or cut short. */
static int read_content(char *buf, long long size) {
    long long total = 0;
    for (;;) {
        unsigned char b[4];
        if (!read_all(0, b, 4)) return 0;
        uint32_t n = get_len(b);
        if (n == 0) return total == size;
        if (n > SERVE_MAX_CHUNK || total + n > size || !read_all(0, buf + total, n)) return 0;
        total += n;
    }
}

/* Writes n bytes to fd (under whatever size limit the caller set); 0 or an errno value. */
static int write_data(int fd, const char *data, size_t n) {
    for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, data + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return errno;
        off += (size_t)w;
    }
    return 0;
}

/*
 * A batch of maildir messages (see the header comment). Failures are per
 * message, with the texts maildir_deliver() gives. The content is read whole
 * (bounded) before any file is made, so a malformed or cut-short stream ends
 * the helper having written nothing.
 */
static void serve_maildirs(char **argv, int argc) {
    static struct failure fails[BATCH_MAX_FILES];
    static int fds[BATCH_MAX_FILES];
    static char tmpf[BATCH_MAX_FILES][4400];
    /* The answer's 8-byte head and its lines, sent in one write: two wake the delivery process twice. */
    static char out[8 + BATCH_MAX_FILES * (sizeof fails[0].line + 1)];
    const char *base = argv[0];
    char *end;
    errno = 0;
    long long limit = strtoll(argv[1], &end, 10);
    int bad_limit = errno || *end || end == argv[1] || limit < 0;
    errno = 0;
    long long count = strtoll(argv[2], &end, 10);
    if (errno || *end || count < 1 || count > BATCH_MAX_FILES || argc != 3 + 2 * count) _exit(3);
    if (expected_input > BATCH_MAX_BYTES) _exit(3);
    long long sizes[BATCH_MAX_FILES], sum = 0;
    for (int i = 0; i < count; i++) {
        errno = 0;
        sizes[i] = strtoll(argv[4 + 2 * i], &end, 10);
        if (errno || *end || end == argv[4 + 2 * i] || sizes[i] < 0) _exit(3);
        sum += sizes[i];
    }
    if (sum != expected_input) _exit(3);
    char *content = malloc(expected_input > 0 ? (size_t)expected_input : 1);
    if (content == NULL) _exit(4);
    if (!read_content(content, expected_input)) _exit(3);

    size_t len = strlen(base);
    struct failure common;
    int common_failed = 0;
    if (bad_limit) common_failed = failf(&common, "4.3.0", "bad limit argument: %s", argv[1]) < 0;
    else if (len == 0 || len > 4000 || base[len - 1] != '/')
        common_failed = failf(&common, "4.3.0", "bad maildir path: %s", base) < 0;
    else if (maildir_ready(base, &common) < 0) common_failed = 1;

    long long off = 0;
    /* Every file of the batch has the same limit: lowered once for all of them, not four system calls each. */
    struct rlimit saved;
    int limited = !common_failed && limit_fsize(limit, &saved);
    for (int i = 0; i < count; i++) {
        const char *unique = argv[3 + 2 * i];
        const char *data = content + off;
        off += sizes[i];
        fds[i] = -1;
        fails[i].line[0] = 0;
        if (common_failed) {
            fails[i] = common;
            continue;
        }
        if (strchr(unique, '/') || unique[0] == '.' || unique[0] == 0 || strlen(unique) > 255) {
            failf(&fails[i], "4.3.0", "bad unique name");
            continue;
        }
        snprintf(tmpf[i], sizeof tmpf[i], "%stmp/%s", base, unique);
        int fd = open(tmpf[i], O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);
        if (fd < 0) {
            int e = errno;
            failf(&fails[i], errno_dsn(e), "create maildir file %s: %s", tmpf[i], strerror(e));
            continue;
        }
        int err = write_data(fd, data, (size_t)sizes[i]);
        if (err) {
            close(fd);
            unlink(tmpf[i]);
            failf(&fails[i], errno_dsn(err), "create maildir file %s: %s", tmpf[i], strerror(err));
            continue;
        }
        fds[i] = fd;
    }
    if (limited) setrlimit(RLIMIT_FSIZE, &saved);
    free(content);
    /* Start every file's writeback first, so the syncs below overlap on the disk. */
    for (int i = 0; i < count; i++)
        if (fds[i] >= 0) sync_file_range(fds[i], 0, 0, SYNC_FILE_RANGE_WRITE);
    for (int i = 0; i < count; i++) {
        if (fds[i] < 0) continue;
        int err = fsync(fds[i]) < 0 ? errno : 0;
        if (close(fds[i]) < 0 && !err) err = errno;
        if (err) {
            fds[i] = -1;
            unlink(tmpf[i]);
            failf(&fails[i], errno_dsn(err), "create maildir file %s: %s", tmpf[i], strerror(err));
        }
    }
    size_t n = 8;
    for (int i = 0; i < count; i++) {
        if (fds[i] >= 0) {
            char newf[4400];
            snprintf(newf, sizeof newf, "%snew/%s", base, argv[3 + 2 * i]);
            if (link(tmpf[i], newf) < 0) failf(&fails[i], "4.2.0", "link to %s: %s", newf, strerror(errno));
            unlink(tmpf[i]);
        }
        size_t l = strlen(fails[i].line);
        memcpy(out + n, fails[i].line, l);
        n += l;
        out[n++] = '\n';
    }
    put_len((unsigned char *)out, (uint32_t)(n - 8) + 4);
    put_len((unsigned char *)out + 4, 0);
    write_full(1, out, n);
}

static int serve_one(char *args, uint32_t len) {
    char *argv[12];
    int argc = 0;
    argv[argc++] = "postern-deliver";
    /* The first argument is the content length; the rest are the single-shot arguments. */
    uint32_t first = (uint32_t)strlen(args) + 1;
    char *end;
    errno = 0;
    expected_input = strtoll(args, &end, 10);
    if (errno || end == args || *end || expected_input < 0) _exit(3);
    if (first < len && strcmp(args + first, "maildirs") == 0) {
        static char *bargv[3 + 2 * BATCH_MAX_FILES + 1];
        int bargc = 0;
        for (uint32_t i = first + 9; i < len; i += (uint32_t)strlen(args + i) + 1) {
            if (bargc >= 3 + 2 * BATCH_MAX_FILES) _exit(3);
            bargv[bargc++] = args + i;
        }
        if (bargc < 5) _exit(3);
        serve_maildirs(bargv, bargc);
        return 0;
    }
    for (uint32_t i = first; i < len; i += (uint32_t)strlen(args + i) + 1) {
        if (argc >= 11) _exit(3);
        argv[argc++] = args + i;
    }
    argv[argc] = NULL;
    if (argc < 2 || strcmp(argv[1], "serve") == 0) _exit(3);
    if (argc == 5 && strcmp(argv[1], "maildir") == 0) return serve_maildir(argv + 2);
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) _exit(4);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) _exit(4);
    if (pid == 0) {
        serve_parent = getppid();
        /* SIGPIPE stays ignored: a child whose helper is gone must still reach exit() and drop its dotlock. */
        if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0) _exit(4);
        /* No exec follows, so close-on-exec does nothing here: the child must not hold its own pipe ends. */
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        exit(dispatch(argc, argv));
    }
    close(in[0]);
    close(out[1]);
    relay_content(in[1], pid);
    close(in[1]);
    /* The child's output: "uid mode" and a file for read, at most one line otherwise. */
    static char buf[SERVE_MAX_OUTPUT + 8], sink[4096];
    size_t got = 0;
    for (;;) {
        /* Past the limit the rest is drained and dropped, so the child can always finish. */
        int full = got == SERVE_MAX_OUTPUT;
        ssize_t r = full ? read(out[0], sink, sizeof sink) : read(out[0], buf + 8 + got, SERVE_MAX_OUTPUT - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        if (!full) got += (size_t)r;
    }
    close(out[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) _exit(4);
    uint32_t code = WIFEXITED(status) ? (uint32_t)WEXITSTATUS(status) : 128u + (uint32_t)WTERMSIG(status);
    put_len((unsigned char *)buf, (uint32_t)got + 4);
    put_len((unsigned char *)buf + 4, code);
    write_full(1, buf, got + 8);
    return 0;
}

static int serve(void) {
    /* A request's child may stop reading early; that must not kill the helper. */
    signal(SIGPIPE, SIG_IGN);
    static char args[SERVE_MAX_ARGS];
    for (;;) {
        unsigned char b[4];
        if (!read_full(0, b, 4)) return 0;
        uint32_t len = get_len(b);
        if (len == 0 || len > SERVE_MAX_ARGS) _exit(3);
        read_exact(args, len);
        if (args[len - 1] != 0) _exit(3);
        serve_one(args, len);
    }
}

int main(int argc, char **argv) {
    if (getuid() == 0 || geteuid() == 0) fail("4.3.0", "refusing to deliver as root");
    umask(077);
    if (argc == 2 && strcmp(argv[1], "serve") == 0) return serve();
    /* Single-shot: the caller states the content length, so input cut short
     * (the delivery process died while writing it) is rolled back, not delivered. */
    const char *size = getenv("POSTERN_DELIVER_SIZE");
    if (size != NULL) expected_input = parse_num(size, "size");
    return dispatch(argc, argv);
}
