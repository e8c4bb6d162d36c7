/*
 * The native sendmail front's view of the configuration and of the
 * submitting user (see postern-sendmail.c): the four main.cf parameters it
 * needs, read as src/global/params/main-cf.ts reads main.cf, and the default
 * full name as commands/sendmail/authorized-users.ts finds it. Anything this
 * reader is not sure to read exactly as Postern's parser does is left to the
 * Node sendmail (fallback()).
 */
#include "sendmail-front.h"

static void take_entry(struct settings *s, char *logical) {
    if (logical[0] == '=') fallback(); /* fatal in Node: let it say so */
    char *p = logical;
    while (*p && !is_ws(*p) && *p != '=') p++;
    char *name_end = p;
    while (is_ws(*p)) p++;
    if (*p != '=') fallback();
    *name_end = 0;
    char *value = p + 1;
    while (is_ws(*value)) value++;
    size_t n = strlen(value);
    while (n > 0 && is_ws(value[n - 1])) value[--n] = 0;
    char **slot = strcmp(logical, "queue_directory") == 0           ? &s->queue_directory
                  : strcmp(logical, "mail_owner") == 0              ? &s->mail_owner
                  : strcmp(logical, "message_size_limit") == 0      ? &s->message_size_limit
                  : strcmp(logical, "authorized_submit_users") == 0 ? &s->authorized_submit_users
                                                                    : NULL;
    if (slot) *slot = value;
}

/* The four parameters this front needs, read as config/main-cf.ts reads main.cf. */
void read_main_cf(const char *dir, struct settings *s) {
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/main.cf", dir) >= sizeof path) fallback();
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) fallback();
    struct buf text = {0};
    for (;;) {
        buf_grow(&text, 65536);
        ssize_t n = read(fd, text.data + text.len, 65536);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fallback();
        if (n == 0) break;
        text.len += (size_t)n;
        if (text.len > MAX_MAIN_CF) fallback();
    }
    close(fd);
    buf_add(&text, "", 1);
    if (strlen(text.data) != text.len - 1) fallback(); /* a NUL byte */
    struct buf logical = {0};
    int have = 0;
    char *line = text.data;
    while (line) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        size_t n = strlen(line);
        if (n > 0 && line[n - 1] == '\r') line[--n] = 0;
        char *q = line;
        while (is_ws(*q)) q++;
        if (*q == '#' || *q == 0) {
            /* comment or blank: ends nothing */
        } else {
            /* JS's \s knows more white space than ASCII: leave such files to Node. */
            for (const unsigned char *u = (const unsigned char *)line; *u; u++)
                if (*u >= 0x80 || *u == '\v' || *u == '\f' || *u == '\r') fallback();
            if (is_ws(line[0])) {
                if (have) buf_str(&logical, line);
            } else {
                if (have) {
                    buf_add(&logical, "", 1);
                    take_entry(s, xstrdup(logical.data));
                }
                logical.len = 0;
                buf_str(&logical, line);
                have = 1;
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    if (have) {
        buf_add(&logical, "", 1);
        take_entry(s, xstrdup(logical.data));
    }
}

int all_digits(const char *s) {
    if (!*s || strlen(s) > 15) return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return 0;
    return 1;
}

/* Only the "everyone may submit" lists are decided here. */
int anyone_may_submit(const char *list) {
    const char *p = list + strspn(list, " \t,");
    size_t n = strcspn(p, " \t,");
    return (n == 13 && strncmp(p, "static:anyone", 13) == 0) || (n == 10 && strncmp(p, "static:all", 10) == 0);
}

/* ---------- identity ---------- */

/* $NAME, else the GECOS field up to its first comma, read from /etc/passwd as authorized-users.ts does. */
char *default_full_name(uid_t uid) {
    const char *env = getenv("NAME");
    if (env && *env) return strdup(env);
    FILE *f = fopen("/etc/passwd", "re");
    if (!f) return NULL;
    char line[4096], want[32];
    snprintf(want, sizeof want, "%u", (unsigned)uid);
    char *found = NULL;
    while (!found && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *field[5] = {0};
        char *p = line;
        for (int k = 0; k < 5 && p; k++) {
            field[k] = p;
            p = strchr(p, ':');
            if (p) *p++ = 0;
        }
        if (field[2] && strcmp(field[2], want) == 0) {
            const char *g = field[4] ? field[4] : "";
            size_t n = strcspn(g, ",");
            found = n ? strndup(g, n) : NULL;
            break;
        }
    }
    fclose(f);
    return found;
}
