/* tests/testlib.c — implementation of tests/test.h. */
#include "tests/test.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int t_pass, t_fail, t_skip;
int t_case_failed, t_case_skipped;
const char *t_case_name = "?";

void t_failf(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    if (t_case_failed < 20) {
        fprintf(stderr, "FAIL %s (%s:%d): ", t_case_name, file, line);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    } else if (t_case_failed == 20) {
        fprintf(stderr, "FAIL %s: further failures not shown\n", t_case_name);
    }
    t_case_failed++;
}

void t_skipf(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "SKIP %s: ", t_case_name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    t_case_skipped = 1;
}

void t_run_case(const char *name, void (*fn)(void))
{
    t_case_name = name;
    t_case_failed = 0;
    t_case_skipped = 0;
    fn();
    if (t_case_failed) t_fail++;
    else if (t_case_skipped) t_skip++;
    else { t_pass++; fprintf(stderr, "ok   %s\n", name); }
}

int t_summary(void)
{
    printf("RESULT %d %d %d\n", t_pass, t_fail, t_skip);
    return t_fail ? 1 : 0;
}

const char *t_fixtures(void)
{
    static char buf[4096];
    const char *d = getenv("LLAVA_EVAL_FIXTURES");
    struct stat st;
    if (!d || !*d) d = "../shared/fixtures";
    if (stat(d, &st) != 0 || !S_ISDIR(st.st_mode)) return NULL;
    snprintf(buf, sizeof buf, "%s", d);
    return buf;
}

const char *t_fixture(const char *rel)
{
    static char bufs[8][4096];
    static int k;
    const char *d = t_fixtures();
    struct stat st;
    char *b = bufs[k++ & 7];
    if (d) {
        snprintf(b, 4096, "%s/%s", d, rel);
        if (stat(b, &st) == 0) return b;
    }
    /* small fixtures are also copied into the repository */
    snprintf(b, 4096, "tests/data/%s", rel);
    if (stat(b, &st) == 0) return b;
    return NULL;
}

char *t_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;
    if (!f) return NULL;
    for (;;) {
        if (n + 65536 + 1 > cap) {
            size_t nc = cap ? cap * 2 : 131072;
            char *nb = realloc(buf, nc);
            if (!nb) { free(buf); fclose(f); return NULL; }
            buf = nb; cap = nc;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
    }
    fclose(f);
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

int t_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    if (len && fwrite(data, 1, len, f) != len) { fclose(f); return -1; }
    return fclose(f) == 0 ? 0 : -1;
}

const char *t_tmpdir(void)
{
    static char buf[64];
    if (!buf[0]) {
        snprintf(buf, sizeof buf, "/tmp/lvtest-XXXXXX");
        if (!mkdtemp(buf)) { perror("mkdtemp"); exit(2); }
    }
    return buf;
}

int t_have_python3(void)
{
    return system("python3 -c '' 2>/dev/null") == 0;
}

/* Appends what is readable on fd to *buf; returns 0 at EOF. */
static int drain(int fd, char **buf, size_t *len, size_t *cap)
{
    char tmp[65536];
    ssize_t r = read(fd, tmp, sizeof tmp);
    if (r <= 0) return r < 0 && errno == EINTR ? 1 : 0;
    if (*len + (size_t)r + 1 > *cap) {
        size_t nc = (*cap ? *cap * 2 : 65536);
        while (nc < *len + (size_t)r + 1) nc *= 2;
        *buf = realloc(*buf, nc);
        *cap = nc;
    }
    memcpy(*buf + *len, tmp, (size_t)r);
    *len += (size_t)r;
    (*buf)[*len] = 0;
    return 1;
}

_Noreturn void t_exec_cli(const char *const *argv)
{
    const char *bin = getenv("LLAVA_EVAL_BIN");
    const char *args[256];
    int n = 0;
    if (!bin || !*bin) bin = "./llava-eval";
    args[n++] = bin;
    for (; argv[n - 1] && n < 255; n++) args[n] = argv[n - 1];
    args[n] = NULL;
    execv(bin, (char *const *)args);
    fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
    _exit(127);
}

int t_run(t_proc *p, const char *stdin_data, size_t stdin_len, const char *const *argv)
{
    int in[2], out[2], err[2];
    size_t outcap = 0, errcap = 0, written = 0;
    struct timeval t0, t1;
    memset(p, 0, sizeof *p);
    if (pipe(in) || pipe(out) || pipe(err)) return -1;
    gettimeofday(&t0, NULL);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(in[0], 0); dup2(out[1], 1); dup2(err[1], 2);
        close(in[0]); close(in[1]); close(out[0]); close(out[1]); close(err[0]); close(err[1]);
        t_exec_cli(argv);
    }
    close(in[0]); close(out[1]); close(err[1]);
    signal(SIGPIPE, SIG_IGN);
    if (!stdin_data || stdin_len == 0) { close(in[1]); in[1] = -1; }
    else fcntl(in[1], F_SETFL, O_NONBLOCK);
    p->out = calloc(1, 1); p->err = calloc(1, 1);
    int open_out = 1, open_err = 1;
    while (open_out || open_err || in[1] >= 0) {
        struct pollfd fds[3];
        int nf = 0, io = -1, ie = -1, ii = -1;
        if (open_out) { fds[nf].fd = out[0]; fds[nf].events = POLLIN; io = nf++; }
        if (open_err) { fds[nf].fd = err[0]; fds[nf].events = POLLIN; ie = nf++; }
        if (in[1] >= 0) { fds[nf].fd = in[1]; fds[nf].events = POLLOUT; ii = nf++; }
        if (poll(fds, (nfds_t)nf, -1) < 0) { if (errno == EINTR) continue; break; }
        if (io >= 0 && fds[io].revents) open_out = drain(out[0], &p->out, &p->out_len, &outcap);
        if (ie >= 0 && fds[ie].revents) open_err = drain(err[0], &p->err, &p->err_len, &errcap);
        if (ii >= 0 && fds[ii].revents) {
            ssize_t w = write(in[1], stdin_data + written, stdin_len - written);
            if (w > 0) written += (size_t)w;
            if (w < 0 && errno != EAGAIN && errno != EINTR) written = stdin_len;
            if (written >= stdin_len) { close(in[1]); in[1] = -1; }
        }
    }
    close(out[0]); close(err[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    gettimeofday(&t1, NULL);
    p->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_usec - t0.tv_usec) / 1e6;
    p->rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return 0;
}

void t_proc_free(t_proc *p)
{
    free(p->out);
    free(p->err);
    p->out = p->err = NULL;
}

int t_server_start(const char *const *argv, pid_t *pid)
{
    int fds[2];
    char buf[32] = "";
    size_t n = 0;
    *pid = 0;
    if (pipe(fds)) return -1;
    *pid = fork();
    if (*pid < 0) { *pid = 0; close(fds[0]); close(fds[1]); return -1; }
    if (*pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);   /* never outlive the test */
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    while (n < sizeof buf - 1 && !strchr(buf, '\n')) {
        ssize_t r = read(fds[0], buf + n, sizeof buf - 1 - n);
        if (r <= 0) break;
        n += (size_t)r;
        buf[n] = 0;
    }
    close(fds[0]);
    int port = atoi(buf);
    if (port <= 0) { t_server_stop(pid); return -1; }
    return port;
}

void t_server_stop(pid_t *pid)
{
    if (*pid > 0) {
        kill(*pid, SIGTERM);
        waitpid(*pid, NULL, 0);
        *pid = 0;
    }
}

char *t_sql_dump(const char *db, const char *sql)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    size_t cap = 1 << 16, n = 0;
    char *out = calloc(1, cap);
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(h);   /* a failed open still allocates the handle */
        return out;
    }
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            for (int i = 0; i < sqlite3_column_count(st); i++) {
                const char *v = (const char *)sqlite3_column_text(st, i);
                size_t l = v ? strlen(v) : 4;
                if (n + l + 4 > cap) out = realloc(out, cap = 2 * (n + l + 4));
                n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "|" : "", v ? v : "NULL");
            }
            out[n++] = '\n';
            out[n] = 0;
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return out;
}

long t_sql_count(const char *db, const char *sql)
{
    char *s = t_sql_dump(db, sql);
    long v = atol(s);
    free(s);
    return v;
}
