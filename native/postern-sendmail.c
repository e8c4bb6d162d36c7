/*
 * postern-sendmail: the native fast path of sendmail(1) (Postfix's sendmail +
 * postdrop for the plain submission case).
 *
 * Why it exists: a shell loop, cron or a MUA runs sendmail once per message,
 * and a Node process costs 40-80 ms of start-up before it does any work. This
 * front handles the common invocation
 *     sendmail [-i] [-oi] [-oX...] [-t] [-f|-r sender] [-F name] [-C dir] [-bm]
 *              [-N dsn] [-R ret] [-V envid] [-B body] [--] rcpt...
 * when main.cf is simple enough to read without Postern's parameter engine,
 * and writes the maildrop file exactly as src/global/queue/maildrop.ts does
 * (layout constants come from the generated maildrop-format.h, made from that
 * module by native/build.mjs). Everything else - any other option, a main.cf
 * value with $name expansion, a restricted authorized_submit_users, a missing
 * queue, any doubt - is handed, before standard input is touched, to the Node
 * sendmail (exec node bin/sendmail), which has the whole behaviour and the
 * error messages. So the rule is: the fast path either does exactly what the
 * Node path would, or it does nothing and lets Node do it.
 *
 * Submission path, as commands/sendmail/submit.ts: whoever may write into
 * $queue_directory/maildrop (root, mail_owner) writes the file directly
 * (temporary name, fsync, link to the queue ID, directory fsync: exit 0 only
 * when the file is durable); root gives the file to mail_owner first. Others
 * hand the message to the running pickup service on public/pickup.
 *
 * Not setuid/setgid; runs with the caller's privileges only.
 */
#include "maildrop-format.h"
#include "sendmail-front.h"

char **orig_argv;

/* ---------- small helpers ---------- */

void fatal(int status, const char *fmt, ...) {
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    fprintf(stderr, "sendmail: fatal: %s\n", text);
    exit(status);
}

/* Hand the whole invocation to the Node sendmail; standard input is still unread. */
void fallback(void) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) fatal(EX_OSERR, "readlink /proc/self/exe: %s", strerror(errno));
    exe[n] = 0;
    /* exe is ROOT/dist/native/postern-sendmail: strip three components. */
    for (int k = 0; k < 3; k++) {
        char *slash = strrchr(exe, '/');
        if (!slash) fatal(EX_OSERR, "cannot locate Postern from %s", exe);
        *slash = 0;
    }
    char script[PATH_MAX];
    if ((size_t)snprintf(script, sizeof script, "%s/bin/sendmail", exe) >= sizeof script)
        fatal(EX_OSERR, "path too long: %s", exe);
    int argc = 0;
    while (orig_argv[argc]) argc++;
    char **args = calloc((size_t)argc + 2, sizeof *args);
    if (!args) fatal(EX_OSERR, "out of memory");
    args[0] = "node";
    args[1] = script;
    for (int k = 1; k < argc; k++) args[k + 1] = orig_argv[k];
    execvp("node", args);
    fatal(EX_OSERR, "execvp node: %s", strerror(errno));
}

void buf_grow(struct buf *b, size_t more) {
    if (b->len + more <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) fatal(EX_OSERR, "out of memory");
    b->data = p;
    b->cap = cap;
}

void buf_add(struct buf *b, const void *p, size_t n) {
    buf_grow(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

char *xstrdup(const char *s) {
    char *p = strdup(s);
    if (!p) fatal(EX_OSERR, "out of memory");
    return p;
}

void buf_str(struct buf *b, const char *s) { buf_add(b, s, strlen(s)); }

/* A JSON string as JSON.stringify writes it (bytes >= 0x80 pass through as UTF-8). */
static void buf_json(struct buf *b, const char *s) {
    buf_str(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        switch (*p) {
        case '"': buf_str(b, "\\\""); break;
        case '\\': buf_str(b, "\\\\"); break;
        case '\b': buf_str(b, "\\b"); break;
        case '\f': buf_str(b, "\\f"); break;
        case '\n': buf_str(b, "\\n"); break;
        case '\r': buf_str(b, "\\r"); break;
        case '\t': buf_str(b, "\\t"); break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                buf_str(b, esc);
            } else
                buf_add(b, p, 1);
        }
    }
    buf_str(b, "\"");
}

static uint32_t crc_table[256];

static void crc_init(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[n] = c;
    }
}

/* zlib's crc32(): chained like crc32(data, previous). */
static uint32_t crc32_update(uint32_t crc, const unsigned char *p, size_t n) {
    crc = ~crc;
    while (n--) crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static void put32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* ---------- command line ---------- */


/* What JS's trim() removes, within ASCII. */
static int is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

struct opts {
    const char *sender, *fullname, *config_dir, *envid, *ret, *body;
    const char *notify[4];
    int nnotify;
    int ignore_dots, extract;
    const char *rcpt[MAX_RECIPIENTS];
    int nrcpt;
};

/* An address the Node parser would return unchanged (no list, quote, angle or whitespace handling). */
static int plain_address(const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f || strchr(",\"<>\\()", *p)) return 0;
    return 1;
}

/* ASCII upper case of s into out (size n); 0 if s is too long or not ASCII. */
static int upper_ascii(const char *s, char *out, size_t n) {
    size_t k = 0;
    for (; s[k]; k++) {
        if (k + 1 >= n || (unsigned char)s[k] >= 0x80) return 0;
        out[k] = (s[k] >= 'a' && s[k] <= 'z') ? (char)(s[k] - 32) : s[k];
    }
    out[k] = 0;
    return 1;
}

/* One of `words` (upper case), as the interned constant, or NULL. */
static const char *one_of(const char *value, const char *const *words) {
    char up[32];
    if (!upper_ascii(value, up, sizeof up)) return NULL;
    for (; *words; words++)
        if (strcmp(up, *words) == 0) return *words;
    return NULL;
}

/* -N: comma-separated NEVER, SUCCESS, FAILURE, DELAY, as options.ts parseNotify() accepts them. */
static void parse_notify(const char *value, struct opts *o) {
    static const char *const words[] = {"NEVER", "SUCCESS", "FAILURE", "DELAY", NULL};
    int never = 0;
    o->nnotify = 0;
    const char *p = value;
    for (;;) {
        size_t n = strcspn(p, ",");
        while (n > 0 && is_space(*p)) p++, n--;
        while (n > 0 && is_space(p[n - 1])) n--;
        if (n > 0) {
            char word[16];
            if (n >= sizeof word || o->nnotify >= 4) fallback();
            memcpy(word, p, n);
            word[n] = 0;
            const char *w = one_of(word, words);
            if (!w) fallback();
            if (w == words[0]) never = 1;
            o->notify[o->nnotify++] = w;
        }
        p += strcspn(p, ",");
        if (*p == 0) break;
        p++;
    }
    if (o->nnotify == 0 || (never && o->nnotify > 1)) fallback();
}

static void parse_args(int argc, char **argv, struct opts *o) {
    int i = 1;
    for (; i < argc; i++) {
        char *arg = argv[i];
        if (strcmp(arg, "--") == 0) {
            i++;
            break;
        }
        if (arg[0] != '-' || arg[1] == 0) break;
        for (int j = 1; arg[j]; j++) {
            char c = arg[j];
            if (c == 'i') { o->ignore_dots = 1; continue; }
            if (c == 't') { o->extract = 1; continue; }
            if (!strchr("fFrCobNRVB", c)) fallback();
            const char *value = arg + j + 1;
            if (*value == 0) {
                if (++i >= argc) fallback();
                value = argv[i];
            }
            switch (c) {
            case 'f':
            case 'r': {
                size_t n = strlen(value);
                if (n >= 2 && value[0] == '<' && value[n - 1] == '>') {
                    char *bare = strndup(value + 1, n - 2);
                    if (!bare) fatal(EX_OSERR, "out of memory");
                    value = bare;
                }
                if (!plain_address(value)) fallback();
                o->sender = value;
                break;
            }
            case 'F': o->fullname = value; break;
            case 'C': o->config_dir = value; break;
            case 'o':
                /* -oi is -i; other -oX options are accepted and ignored, as Postfix does. */
                if (strcmp(value, "i") == 0) o->ignore_dots = 1;
                break;
            case 'b':
                if (value[0] != 'm') fallback();
                break;
            case 'N': parse_notify(value, o); break;
            case 'R': {
                static const char *const rets[] = {"FULL", "HDRS", NULL};
                if (!(o->ret = one_of(value, rets))) fallback();
                break;
            }
            case 'V': o->envid = value; break;
            case 'B': {
                static const char *const bodies[] = {"7BIT", "8BITMIME", NULL};
                if (!(o->body = one_of(value, bodies))) fallback();
                break;
            }
            }
            break;
        }
    }
    for (; i < argc; i++) {
        if (argv[i][0] == 0) continue;
        if (!plain_address(argv[i]) || o->nrcpt >= MAX_RECIPIENTS) fallback();
        o->rcpt[o->nrcpt++] = argv[i];
    }
    /* The usage error for "no recipients" is the Node path's to give. */
    if (o->nrcpt == 0 && !o->extract) fallback();
}

/* ---------- the message ---------- */

/* Read all of standard input, bounded as commands/sendmail/message-input.ts bounds it. */
static void read_stdin(struct buf *raw, unsigned long long limit) {
    unsigned long long cap = limit > 0 ? limit * 2 + 1024 : MAX_STDIN;
    for (;;) {
        buf_grow(raw, 65536);
        ssize_t n = read(0, raw->data + raw->len, 65536);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fatal(EX_OSERR, "read standard input: %s", strerror(errno));
        if (n == 0) break;
        raw->len += (size_t)n;
        if (raw->len > cap) fatal(EX_DATAERR, "message file too big");
    }
}

/* CRLF lines; a lone "." ends the message unless -i; a leading "From " line is dropped. */
static void canonical_lines(const struct buf *raw, int ignore_dots, struct buf *out) {
    size_t start = 0;
    while (start < raw->len) {
        const char *nlp = memchr(raw->data + start, '\n', raw->len - start);
        size_t nl = nlp ? (size_t)(nlp - raw->data) : raw->len;
        size_t end = nl;
        if (end > start && raw->data[end - 1] == '\r') end--;
        size_t n = end - start;
        if (!ignore_dots && n == 1 && raw->data[start] == '.') break;
        if (start != 0 || n < 5 || memcmp(raw->data, "From ", 5) != 0) {
            buf_add(out, raw->data + start, n);
            buf_add(out, "\r\n", 2);
        }
        start = nl + 1;
    }
}

static void envelope_json(struct buf *j, const struct opts *o, const char *sender, const char *fullname,
                          uid_t uid) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    char num[64];
    buf_str(j, "{\"sender\":");
    buf_json(j, sender);
    buf_str(j, ",\"recipients\":[");
    for (int k = 0; k < o->nrcpt; k++) {
        if (k) buf_str(j, ",");
        buf_json(j, o->rcpt[k]);
    }
    snprintf(num, sizeof num, "],\"arrivalTime\":%lld,\"uid\":%u",
             (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000, (unsigned)uid);
    buf_str(j, num);
    if (fullname) {
        buf_str(j, ",\"fullName\":");
        buf_json(j, fullname);
    }
    if (o->extract) buf_str(j, ",\"extractRecipients\":true");
    if (o->nnotify > 0) {
        buf_str(j, ",\"notify\":[");
        for (int k = 0; k < o->nnotify; k++) {
            if (k) buf_str(j, ",");
            buf_json(j, o->notify[k]);
        }
        buf_str(j, "]");
    }
    if (o->ret) {
        buf_str(j, ",\"ret\":");
        buf_json(j, o->ret);
    }
    if (o->envid) {
        buf_str(j, ",\"envid\":");
        buf_json(j, o->envid);
    }
    if (o->body) {
        buf_str(j, ",\"body\":");
        buf_json(j, o->body);
    }
    buf_str(j, "}");
}

/* ---------- writing ---------- */

static void write_all(int fd, const char *p, size_t n, const char *what) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) fatal(EX_TEMPFAIL, "%s: %s", what, strerror(errno));
        p += w;
        n -= (size_t)w;
    }
}

static uint32_t random_serial(void) {
    uint32_t r = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, &r, sizeof r) != (ssize_t)sizeof r) r = (uint32_t)getpid() * 2654435761u;
    if (fd >= 0) close(fd);
    return 0x10000 + r % (0xfffff - 0x10000);
}

/* The maildrop file: header, then one record framed like a segment record (see maildrop.ts). */
static void build_file(struct buf *file, const struct buf *json, const struct buf *content) {
    unsigned char head[POSTERN_DROP_HEADER_SIZE] = {0};
    memcpy(head, POSTERN_DROP_MAGIC, 8);
    put32(head + 8, POSTERN_DROP_VERSION);
    unsigned long long payload = 1ULL + 4 + json->len + content->len;
    if (payload > POSTERN_MAX_RECORD_PAYLOAD) fatal(EX_DATAERR, "message file too big");
    unsigned char lead[POSTERN_RECORD_HEADER_SIZE + 1 + 4];
    put32(lead, POSTERN_RECORD_MAGIC);
    put32(lead + 4, (uint32_t)payload);
    lead[POSTERN_RECORD_HEADER_SIZE] = POSTERN_DROP_RECORD_TYPE;
    put32(lead + POSTERN_RECORD_HEADER_SIZE + 1, (uint32_t)json->len);
    uint32_t crc = crc32_update(0, lead + 4, 4);
    crc = crc32_update(crc, lead + POSTERN_RECORD_HEADER_SIZE, 5);
    crc = crc32_update(crc, (const unsigned char *)json->data, json->len);
    crc = crc32_update(crc, (const unsigned char *)content->data, content->len);
    put32(lead + 8, crc);
    buf_add(file, head, sizeof head);
    buf_add(file, lead, sizeof lead);
    buf_add(file, json->data, json->len);
    buf_add(file, content->data, content->len);
}

static void drop_direct(const char *dropdir, const struct buf *file, const struct passwd *owner) {
    uint32_t serial = random_serial();
    for (int attempt = 0; attempt < 10; attempt++) {
        serial = serial >= 0xffffff ? 0x10000 : serial + 1;
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        char id[32], temp[PATH_MAX + 64], final[PATH_MAX + 64];
        snprintf(id, sizeof id, "%05lX%X", (unsigned long)(now.tv_nsec / 1000), (unsigned)serial);
        snprintf(temp, sizeof temp, "%s/.%s.%d", dropdir, id, (int)getpid());
        snprintf(final, sizeof final, "%s/%s", dropdir, id);
        int fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 && errno == EEXIST) continue;
        if (fd < 0) fatal(EX_TEMPFAIL, "unable to create maildrop file: create maildrop file: %s", strerror(errno));
        int failed = 0;
        const char *why = "write maildrop file";
        size_t off = 0;
        while (!failed && off < file->len) {
            ssize_t w = write(fd, file->data + off, file->len - off);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) failed = errno;
            else off += (size_t)w;
        }
        /* root: pickup runs as mail_owner and must be able to read (and remove) the file. */
        if (!failed && owner && fchown(fd, owner->pw_uid, owner->pw_gid) < 0) {
            failed = errno;
            why = "chown maildrop file";
        }
        if (!failed && fsync(fd) < 0) failed = errno;
        if (close(fd) < 0 && !failed) failed = errno;
        if (!failed && link(temp, final) < 0) {
            if (errno == EEXIST) {
                unlink(temp);
                continue;
            }
            failed = errno;
        }
        unlink(temp);
        if (failed) fatal(EX_TEMPFAIL, "unable to create maildrop file: %s: %s", why, strerror(failed));
        int dfd = open(dropdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) < 0)
            fatal(EX_TEMPFAIL, "unable to create maildrop file: sync %s: %s", dropdir, strerror(errno));
        close(dfd);
        return;
    }
    fatal(EX_TEMPFAIL, "unable to create maildrop file: no unique maildrop file name");
}

/* The pickup service's postdrop socket (daemons/pickup/drop-socket.ts): one JSON line, the content, one answer line. */
static void drop_socket(int sock, const char *path, const struct buf *json, const struct buf *content) {
    struct buf req = {0};
    char num[64];
    buf_str(&req, "{\"envelope\":");
    buf_add(&req, json->data, json->len);
    snprintf(num, sizeof num, ",\"size\":%zu}\n", content->len);
    buf_str(&req, num);
    write_all(sock, req.data, req.len, path);
    write_all(sock, content->data, content->len, path);
    shutdown(sock, SHUT_WR);
    char answer[4097];
    size_t got = 0;
    for (;;) {
        ssize_t n = read(sock, answer + got, sizeof answer - 1 - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fatal(EX_TEMPFAIL, "timeout talking to %s", path);
        if (n == 0) break;
        got += (size_t)n;
        if (got >= sizeof answer - 1) fatal(EX_TEMPFAIL, "malformed answer from %s", path);
    }
    answer[got] = 0;
    answer[strcspn(answer, "\n")] = 0;
    if (strncmp(answer, "OK ", 3) == 0) return;
    if (strncmp(answer, "ERR ", 4) == 0) fatal(EX_TEMPFAIL, "%s", answer + 4);
    fatal(EX_TEMPFAIL, "malformed answer from %s", path);
}

/* A connected postdrop socket, or -1 (the caller then leaves everything to Node). */
static int connect_pickup(const char *path) {
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) return -1;
    strcpy(sa.sun_path, path);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -1;
    if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(s);
        return -1;
    }
    struct timeval tv = {.tv_sec = SOCKET_TIMEOUT_SEC};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return s;
}

static struct passwd *lookup_owner(const char *name) {
    struct passwd *pw = getpwnam(name);
    if (!pw && all_digits(name)) pw = getpwuid((uid_t)strtoul(name, NULL, 10));
    return pw;
}

int main(int argc, char **argv) {
    orig_argv = argv;
    signal(SIGPIPE, SIG_IGN);
    crc_init();
    static struct opts o;
    parse_args(argc, argv, &o);

    /* Install-time default overrides (install-defaults.ts) are the Node path's business. */
    const char *named = getenv("POSTERN_INSTALL_DEFAULTS");
    if (named && *named) fallback();
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) fallback();
    exe[n] = 0;
    for (int k = 0; k < 3; k++) {
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
    }
    char defaults[PATH_MAX + 32];
    snprintf(defaults, sizeof defaults, "%s/install-defaults.json", exe);
    if (access(defaults, F_OK) == 0) fallback();

    /* -C names main.cf or its directory; then MAIL_CONFIG; then the install default. */
    char config_dir[PATH_MAX];
    const char *env_dir = getenv("MAIL_CONFIG");
    const char *dir = o.config_dir ? o.config_dir : env_dir && *env_dir ? env_dir : POSTERN_DEF_CONFIG_DIRECTORY;
    struct stat st;
    snprintf(config_dir, sizeof config_dir, "%s", dir);
    if (o.config_dir && stat(dir, &st) == 0 && S_ISREG(st.st_mode)) {
        char *slash = strrchr(config_dir, '/');
        if (!slash) snprintf(config_dir, sizeof config_dir, ".");
        else if (slash == config_dir) config_dir[1] = 0;
        else *slash = 0;
    }

    struct settings s = {
        .queue_directory = POSTERN_DEF_QUEUE_DIRECTORY,
        .mail_owner = POSTERN_DEF_MAIL_OWNER,
        .message_size_limit = POSTERN_DEF_MESSAGE_SIZE_LIMIT,
        .authorized_submit_users = POSTERN_DEF_AUTHORIZED_SUBMIT_USERS,
    };
    read_main_cf(config_dir, &s);
    if (strchr(s.queue_directory, '$') || strchr(s.mail_owner, '$') || !all_digits(s.message_size_limit) ||
        !anyone_may_submit(s.authorized_submit_users) || s.queue_directory[0] == 0)
        fallback();
    unsigned long long limit = strtoull(s.message_size_limit, NULL, 10);

    /* Decide the path before reading standard input, so Node can still take over. */
    char dropdir[PATH_MAX], sockpath[PATH_MAX];
    if ((size_t)snprintf(dropdir, sizeof dropdir, "%s/maildrop", s.queue_directory) >= sizeof dropdir) fallback();
    snprintf(sockpath, sizeof sockpath, "%s/public/pickup", s.queue_directory);
    /* maildrop/ is made on first use, as writeMaildrop() makes it; trouble is Node's to report. */
    if (stat(dropdir, &st) < 0 && (errno != ENOENT || mkdir(dropdir, 0730) < 0 || stat(dropdir, &st) < 0))
        fallback();
    if (!S_ISDIR(st.st_mode)) fallback();
    int sock = -1;
    if (access(dropdir, W_OK | X_OK) != 0) {
        sock = connect_pickup(sockpath);
        if (sock < 0) fallback();
    }
    uid_t uid = getuid();
    struct passwd *me = getpwuid(uid);
    char *user = xstrdup(me ? me->pw_name : "unknown");
    struct passwd *owner = NULL;
    if (sock < 0 && uid == 0) {
        struct passwd *pw = lookup_owner(s.mail_owner);
        if (pw && pw->pw_uid != 0) {
            static struct passwd copy;
            copy = *pw;
            owner = &copy;
        }
    }
    char *fullname = o.fullname ? (char *)o.fullname : default_full_name(uid);

    struct buf raw = {0}, content = {0}, json = {0}, file = {0};
    read_stdin(&raw, limit);
    canonical_lines(&raw, o.ignore_dots, &content);
    if (limit > 0 && content.len > limit) fatal(EX_DATAERR, "message file too big");
    envelope_json(&json, &o, o.sender ? o.sender : user, fullname, uid);
    if (sock >= 0) {
        drop_socket(sock, sockpath, &json, &content);
        return 0;
    }
    build_file(&file, &json, &content);
    drop_direct(dropdir, &file, owner);
    return 0;
}
