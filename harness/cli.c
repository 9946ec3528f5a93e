/* harness/cli.c — option parsing and help printing from a cli_spec table. */
#include "harness/cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int cli_error(const char *what, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "llava-eval: %s: ", what);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_USAGE;
}

void cli_print_help(const cli_spec *spec, FILE *out)
{
    fprintf(out, "usage: llava-eval %s\n\n%s\n", spec->usage, spec->summary);
    if (spec->description) fprintf(out, "\n%s\n", spec->description);
    if (!spec->opts || !spec->opts[0].long_name) return;
    fprintf(out, "\noptions:\n");
    for (const cli_opt *o = spec->opts; o->long_name; o++) {
        char left[96];
        int n = 0;
        if (o->short_name) n = snprintf(left, sizeof left, "-%c, ", o->short_name);
        else n = snprintf(left, sizeof left, "    ");
        snprintf(left + n, sizeof left - (size_t)n, "--%s%s%s", o->long_name,
                 o->kind == CLI_FLAG ? "" : " ", o->kind == CLI_FLAG ? "" : (o->arg_name ? o->arg_name : "X"));
        fprintf(out, "  %-28s %s\n", left, o->help ? o->help : "");
    }
    fprintf(out, "  %-28s %s\n", "-h, --help", "show this help");
}

static const cli_opt *find_long(const cli_spec *s, const char *name, size_t len)
{
    for (const cli_opt *o = s->opts; o && o->long_name; o++)
        if (strlen(o->long_name) == len && memcmp(o->long_name, name, len) == 0) return o;
    return NULL;
}

static const cli_opt *find_short(const cli_spec *s, char c)
{
    for (const cli_opt *o = s->opts; o && o->long_name; o++)
        if (o->short_name == c) return o;
    return NULL;
}

static int store(const cli_spec *s, const cli_opt *o, const char *val)
{
    switch (o->kind) {
    case CLI_FLAG:
        *(int *)o->dst = 1;
        return 0;
    case CLI_STR:
        *(const char **)o->dst = val;
        return 0;
    case CLI_INT: {
        char *end;
        errno = 0;
        long v = strtol(val, &end, 10);
        if (errno || end == val || *end)
            return cli_error(s->name, "--%s: '%s' is not an integer", o->long_name, val), -1;
        if ((o->min != 0 || o->max != 0) && (v < o->min || v > o->max))
            return cli_error(s->name, "--%s: %ld is out of range [%.0f, %.0f]", o->long_name, v, o->min, o->max), -1;
        *(long *)o->dst = v;
        return 0;
    }
    case CLI_DOUBLE: {
        char *end;
        errno = 0;
        double v = strtod(val, &end);
        if (errno || end == val || *end || !isfinite(v))
            return cli_error(s->name, "--%s: '%s' is not a number", o->long_name, val), -1;
        if ((o->min != 0 || o->max != 0) && (v < o->min || v > o->max))
            return cli_error(s->name, "--%s: %g is out of range [%g, %g]", o->long_name, v, o->min, o->max), -1;
        *(double *)o->dst = v;
        return 0;
    }
    case CLI_LIST: {
        cli_strlist *l = o->dst;
        const char **ni = realloc(l->items, sizeof *ni * (size_t)(l->n + 1));
        if (!ni) return cli_error(s->name, "out of memory"), -1;
        ni[l->n++] = val;
        l->items = ni;
        return 0;
    }
    }
    return -1;
}

int cli_parse(const cli_spec *s, int argc, char **argv, char **pos, int max_pos, int *npos)
{
    int only_pos = 0;
    *npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const cli_opt *o = NULL;
        const char *val = NULL;
        if (!only_pos && strcmp(a, "--") == 0) { only_pos = 1; continue; }
        if (!only_pos && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) {
            cli_print_help(s, stdout);
            return 1;
        }
        if (!only_pos && a[0] == '-' && a[1] == '-' && a[2]) {
            const char *eq = strchr(a + 2, '=');
            size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
            o = find_long(s, a + 2, len);
            if (!o) return cli_error(s->name, "unknown option '%s' (see --help)", a), -1;
            if (eq) {
                if (o->kind == CLI_FLAG)
                    return cli_error(s->name, "--%s takes no value", o->long_name), -1;
                val = eq + 1;
            }
        } else if (!only_pos && a[0] == '-' && a[1] && a[2] == 0 && !(a[1] >= '0' && a[1] <= '9')) {
            o = find_short(s, a[1]);
            if (!o) return cli_error(s->name, "unknown option '%s' (see --help)", a), -1;
        } else {
            if (*npos >= max_pos)
                return cli_error(s->name, "unexpected argument '%s' (see --help)", a), -1;
            pos[(*npos)++] = argv[i];
            continue;
        }
        if (o->kind != CLI_FLAG && !val) {
            if (i + 1 >= argc) return cli_error(s->name, "%s needs a value", a), -1;
            val = argv[++i];
        }
        if (store(s, o, val)) return -1;
    }
    return 0;
}

static void sub_usage(FILE *f, const char *cmd, const char *summary, const cli_sub *subs, size_t n)
{
    fprintf(f, "usage: llava-eval %s <", cmd);
    for (size_t i = 0; i < n; i++) fprintf(f, "%s%s", i ? "|" : "", subs[i].name);
    fprintf(f, "> [options]\n\n%s\n\nsubcommands:\n", summary);
    for (size_t i = 0; i < n; i++) fprintf(f, "  %-8s %s\n", subs[i].name, subs[i].summary);
    fprintf(f, "\n'llava-eval %s <subcommand> --help' describes one.\n", cmd);
}

int cli_dispatch(const char *cmd, const char *summary, const cli_sub *subs, size_t n, int argc, char **argv)
{
    if (argc < 2) {
        sub_usage(stderr, cmd, summary, subs, n);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        sub_usage(stdout, cmd, summary, subs, n);
        return CLI_OK;
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(argv[1], subs[i].name) == 0) return subs[i].fn(argc - 1, argv + 1);
    return cli_error(cmd, "unknown subcommand '%s' (see 'llava-eval %s --help')", argv[1], cmd);
}
