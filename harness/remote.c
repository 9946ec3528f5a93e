/* harness/remote.c — the OpenAI-compatible chat-completions client (see remote.h). */
#include "harness/remote.h"

#include <cJSON.h>
#include <curl/curl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "engine/image.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#include <stb_image_write.h>   /* declarations only: compiled in datasets/stb_impl.c */
#pragma GCC diagnostic pop

/* ------------------------------------------------------------------ types */

/* A reply body under construction; `over` is set when the cap cut it off. */
typedef struct {
    char  *data;
    size_t len, cap, limit;
    int    over;
} rbuf;

/* One request through its attempts. State: queued (not_before in the future or
 * waiting for a slot), active (its easy handle is in the multi), or done (on the
 * done list, waiting for remote_wait). */
typedef struct job {
    struct job *next;
    CURL       *easy;
    char       *body;
    void       *tag;
    rbuf        resp;
    int         attempts, active;
    double      not_before_ms, t_start_ms;
    char        errbuf[CURL_ERROR_SIZE];
    remote_reply rep;
} job;

struct remote {
    remote_config cfg;
    char   *endpoint;       /* full URL, credentials included (never printed) */
    char   *clean;          /* the same without credentials: for messages */
    char   *key;            /* API key (may be NULL) */
    char   *url_password;   /* scrubbed from server text like the key */
    struct curl_slist *headers;
    CURLM  *multi;
    job    *queue;          /* queued and active jobs, in submit order */
    job    *done, *done_tail;
    int     n_active, n_pending;
    uint64_t rng;
};

/* ------------------------------------------------------------------ helpers */

static int curl_ready;

static double rand01(remote *r)
{
    r->rng ^= r->rng << 13;
    r->rng ^= r->rng >> 7;
    r->rng ^= r->rng << 17;
    return (double)(r->rng >> 11) / 9007199254740992.0;
}

/* Replaces every occurrence of secret in *s (malloc'd) by "[redacted]". */
static void scrub_one(char **s, const char *secret)
{
    size_t sl;
    if (!*s || !secret || (sl = strlen(secret)) < 4) return;
    while (1) {
        char *p = strstr(*s, secret);
        if (!p) return;
        size_t pre = (size_t)(p - *s), rest = strlen(p + sl);
        char *n = malloc(pre + 10 + rest + 1);
        if (!n) { memset(p, '*', sl); continue; }
        memcpy(n, *s, pre);
        memcpy(n + pre, "[redacted]", 10);
        memcpy(n + pre + 10, p + sl, rest + 1);
        free(*s);
        *s = n;
    }
}

static void scrub(const remote *r, char **s)
{
    scrub_one(s, r->key);
    scrub_one(s, r->url_password);
}

/* Scrubs a fixed buffer in place. */
static void scrub_buf(const remote *r, char *buf, size_t cap)
{
    char *t = strdup(buf);
    if (!t) { buf[0] = 0; return; }
    scrub(r, &t);
    snprintf(buf, cap, "%s", t);
    free(t);
}

/* Up to max bytes of untrusted text as printable ASCII (others as '?'). */
static void printable(char *dst, size_t cap, const char *src, size_t n, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < n && i < max && k + 4 < cap; i++) {
        unsigned char ch = (unsigned char)src[i];
        dst[k++] = ch >= 0x20 && ch < 0x7f ? (char)ch : ch == '\n' || ch == '\t' ? ' ' : '?';
    }
    if (n > max && k + 4 < cap) { memcpy(dst + k, "...", 3); k += 3; }
    dst[k] = 0;
}

static size_t on_body(char *p, size_t sz, size_t nm, void *ud)
{
    rbuf *b = ud;
    size_t n = sz * nm;
    if (b->len + n > b->limit) { b->over = 1; return 0; }   /* stops the transfer */
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) cap *= 2;
        if (cap > b->limit + 1) cap = b->limit + 1;
        char *d = realloc(b->data, cap);
        if (!d) return 0;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return n;
}

/* ------------------------------------------------------------------ URL */

char *remote_url_clean(const char *url, lv_error *err)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *out = NULL, *res = NULL;
    if (!u) { lv_errorf(err, "out of memory"); return NULL; }
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        lv_errorf(err, "--url: not an http(s) URL");
        goto done;
    }
    curl_url_set(u, CURLUPART_USER, NULL, 0);
    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
    curl_url_set(u, CURLUPART_OPTIONS, NULL, 0);
    curl_url_set(u, CURLUPART_QUERY, NULL, 0);
    curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
    if (curl_url_get(u, CURLUPART_URL, &out, 0) != CURLUE_OK) { lv_errorf(err, "--url: cannot be parsed"); goto done; }
    res = strdup(out);
    if (!res) lv_errorf(err, "out of memory");
done:
    curl_free(out);
    curl_free(scheme);
    curl_url_cleanup(u);
    return res;
}

/* base ".../v1" → ".../v1/chat/completions"; a URL already ending so is kept. */
static char *endpoint_of(const char *url)
{
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/') n--;
    const char *tail = "/chat/completions";
    int has = n >= strlen(tail) && strncmp(url + n - strlen(tail), tail, strlen(tail)) == 0;
    char *e = malloc(n + strlen(tail) + 1);
    if (!e) return NULL;
    memcpy(e, url, n);
    strcpy(e + n, has ? "" : tail);
    return e;
}

/* ------------------------------------------------------------------ open / close */

remote *remote_open(const remote_config *cfg, lv_error *err)
{
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) { lv_errorf(err, "remote: curl cannot start"); return NULL; }
        curl_ready = 1;
    }
    remote *r = calloc(1, sizeof *r);
    if (!r) { lv_errorf(err, "out of memory"); return NULL; }
    r->cfg = *cfg;
    if (r->cfg.concurrency < 1) r->cfg.concurrency = 1;
    if (r->cfg.max_body == 0) r->cfg.max_body = 8u << 20;
    if (r->cfg.retries < 0) r->cfg.retries = 0;
    r->rng = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)r;
    if (!r->rng) r->rng = 1;
    if (!(r->clean = remote_url_clean(cfg->url, err))) goto fail;
    r->endpoint = endpoint_of(cfg->url);
    char *ce = endpoint_of(r->clean);
    free(r->clean);
    r->clean = ce;
    if (!r->endpoint || !r->clean) { lv_errorf(err, "out of memory"); goto fail; }
    CURLU *u = curl_url();
    char *pw = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, cfg->url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PASSWORD, &pw, CURLU_URLDECODE) == CURLUE_OK && pw)
        r->url_password = strdup(pw);
    curl_free(pw);
    curl_url_cleanup(u);
    if (cfg->api_key && cfg->api_key[0]) {
        if (strpbrk(cfg->api_key, "\r\n")) { lv_errorf(err, "--api-key-env: the key holds a line break"); goto fail; }
        r->key = strdup(cfg->api_key);
        size_t n = strlen(cfg->api_key) + 32;
        char *h = malloc(n);
        if (!r->key || !h) { free(h); lv_errorf(err, "out of memory"); goto fail; }
        snprintf(h, n, "Authorization: Bearer %s", cfg->api_key);
        r->headers = curl_slist_append(r->headers, h);
        memset(h, 0, n);
        free(h);
    }
    r->headers = curl_slist_append(r->headers, "Content-Type: application/json");
    r->headers = curl_slist_append(r->headers, "Accept: application/json");
    r->headers = curl_slist_append(r->headers, "Expect:");
    if (!r->headers || !(r->multi = curl_multi_init())) { lv_errorf(err, "remote: curl cannot start"); goto fail; }
    return r;
fail:
    remote_close(r);
    return NULL;
}

static void job_free(job *j)
{
    if (!j) return;
    if (j->easy) curl_easy_cleanup(j->easy);
    free(j->body);
    free(j->resp.data);
    remote_reply_free(&j->rep);
    free(j);
}

void remote_close(remote *r)
{
    if (!r) return;
    for (job *j = r->queue, *n; j; j = n) {
        n = j->next;
        if (j->active) curl_multi_remove_handle(r->multi, j->easy);
        job_free(j);
    }
    for (job *j = r->done, *n; j; j = n) { n = j->next; job_free(j); }
    if (r->multi) curl_multi_cleanup(r->multi);
    curl_slist_free_all(r->headers);   /* the Authorization line goes with it */
    if (r->key) { memset(r->key, 0, strlen(r->key)); free(r->key); }
    free(r->url_password);
    free(r->endpoint);
    free(r->clean);
    free(r);
}

void remote_reply_free(remote_reply *rep)
{
    free(rep->content);
    free(rep->logprobs_json);
    rep->content = rep->logprobs_json = NULL;
}

/* ------------------------------------------------------------------ requests */

static char *request_body(const remote *r, const remote_request *q)
{
    cJSON *o = cJSON_CreateObject(), *msgs, *m, *parts, *p, *iu;
    char *s = NULL;
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "model", r->cfg.model);
    msgs = cJSON_AddArrayToObject(o, "messages");
    m = cJSON_CreateObject();
    cJSON_AddItemToArray(msgs, m);
    cJSON_AddStringToObject(m, "role", "user");
    if (q->image_uri) {
        parts = cJSON_AddArrayToObject(m, "content");
        p = cJSON_CreateObject();                 /* the image part first, as LLaVA's "<image>\nQ" */
        cJSON_AddItemToArray(parts, p);
        cJSON_AddStringToObject(p, "type", "image_url");
        iu = cJSON_AddObjectToObject(p, "image_url");
        cJSON_AddStringToObject(iu, "url", q->image_uri);
        p = cJSON_CreateObject();
        cJSON_AddItemToArray(parts, p);
        cJSON_AddStringToObject(p, "type", "text");
        cJSON_AddStringToObject(p, "text", q->prompt);
    } else {
        cJSON_AddStringToObject(m, "content", q->prompt);
    }
    cJSON_AddNumberToObject(o, "max_tokens", q->max_tokens);
    cJSON_AddNumberToObject(o, "temperature", q->temperature);
    cJSON_AddNumberToObject(o, "seed", (double)q->seed);
    if (q->top_logprobs > 0) {
        cJSON_AddBoolToObject(o, "logprobs", 1);
        cJSON_AddNumberToObject(o, "top_logprobs",
                                q->top_logprobs > REMOTE_MAX_TOP_LOGPROBS ? REMOTE_MAX_TOP_LOGPROBS : q->top_logprobs);
    }
    cJSON_AddBoolToObject(o, "stream", 0);
    s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

int remote_submit(remote *r, const remote_request *q, void *tag, lv_error *err)
{
    job *j = calloc(1, sizeof *j);
    if (!j || !(j->body = request_body(r, q))) { free(j); return lv_errorf(err, "out of memory"); }
    j->tag = tag;
    j->rep.first_yes = j->rep.first_no = j->rep.first_floor = -INFINITY;
    j->rep.prefill_ms = j->rep.decode_ms = NAN;
    j->rep.n_prompt_tokens = j->rep.n_gen_tokens = -1;
    job **pp = &r->queue;
    while (*pp) pp = &(*pp)->next;
    *pp = j;
    r->n_pending++;
    return 0;
}

int remote_pending(const remote *r) { return r->n_pending; }

static int start(remote *r, job *j)
{
    if (!j->easy && !(j->easy = curl_easy_init())) return -1;
    CURL *c = j->easy;
    curl_easy_reset(c);
    free(j->resp.data);
    memset(&j->resp, 0, sizeof j->resp);
    j->resp.limit = r->cfg.max_body;
    j->errbuf[0] = 0;
    curl_easy_setopt(c, CURLOPT_URL, r->endpoint);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, j->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(j->body));
    curl_easy_setopt(c, CURLOPT_USERAGENT, "llava-eval/0.1");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(r->cfg.connect_timeout_s * 1000));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(r->cfg.timeout_s * 1000));
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)(r->cfg.timeout_s > 1 ? r->cfg.timeout_s : 1));
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->cfg.max_body);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");     /* whatever curl can decode; the cap is on decoded bytes */
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &j->resp);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, j->errbuf);
    curl_easy_setopt(c, CURLOPT_PRIVATE, j);
    if (curl_multi_add_handle(r->multi, c) != CURLM_OK) return -1;
    j->active = 1;
    j->attempts++;
    j->t_start_ms = lv_now_ms();
    r->n_active++;
    return 0;
}

/* ------------------------------------------------------------------ replies */

static const cJSON *field(const cJSON *o, const char *k) { return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL; }

static int int_of(const cJSON *v, int *out)
{
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 || v->valuedouble > 1e9) return 0;
    *out = (int)v->valuedouble;
    return 1;
}

/* A logprob: a finite number <= 0 (a little above 0 tolerated), or null for -inf. */
static int logprob_of(const cJSON *v, double *out)
{
    if (cJSON_IsNull(v)) { *out = -INFINITY; return 1; }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble > 1e-3 || v->valuedouble < -1e6) return 0;
    *out = v->valuedouble;
    return 1;
}

/* 1 when a token reads as word (case-insensitive), after leading spaces and
 * tokenizer space marks (U+2581 "▁", U+0120 "Ġ") and before trailing punctuation. */
static int token_is(const char *t, const char *word)
{
    for (;;) {
        if (*t == ' ' || *t == '\n' || *t == '\t') t++;
        else if ((unsigned char)t[0] == 0xE2 && (unsigned char)t[1] == 0x96 && (unsigned char)t[2] == 0x81) t += 3;
        else if ((unsigned char)t[0] == 0xC4 && (unsigned char)t[1] == 0xA0) t += 2;
        else break;
    }
    size_t n = strlen(word);
    if (strncasecmp(t, word, n) != 0) return 0;
    t += n;
    while (*t == '.' || *t == ',' || *t == '!' || *t == ' ') t++;
    return *t == 0;
}

static cJSON *lp_number(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

/* choices[0].logprobs.content → the stored form, plus first-token yes/no. */
static void parse_logprobs(remote_reply *rep, const cJSON *lp)
{
    const cJSON *content = field(lp, "content"), *t;
    if (!cJSON_IsArray(content) || cJSON_GetArraySize(content) == 0) return;
    cJSON *out = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(out, "text_tokens");
    int i = 0;
    cJSON_ArrayForEach(t, content) {
        const cJSON *tok = field(t, "token"), *top = field(t, "top_logprobs"), *e;
        double v;
        if (!cJSON_IsString(tok) || !logprob_of(field(t, "logprob"), &v)) break;   /* keep positions aligned */
        cJSON *o = cJSON_CreateObject(), *ta = cJSON_CreateArray();
        cJSON_AddStringToObject(o, "token", tok->valuestring);
        cJSON_AddItemToObject(o, "logprob", lp_number(v));
        if (cJSON_IsArray(top)) {
            int k = 0;
            cJSON_ArrayForEach(e, top) {
                const cJSON *et = field(e, "token");
                double ev;
                if (k >= REMOTE_MAX_TOP_LOGPROBS) break;
                if (!cJSON_IsString(et) || !logprob_of(field(e, "logprob"), &ev)) continue;
                cJSON *pair = cJSON_CreateArray();
                cJSON_AddItemToArray(pair, cJSON_CreateString(et->valuestring));
                cJSON_AddItemToArray(pair, lp_number(ev));
                cJSON_AddItemToArray(ta, pair);
                k++;
                if (i == 0) {
                    rep->first_has_top = 1;
                    if (ev < rep->first_floor || !isfinite(rep->first_floor)) rep->first_floor = ev;
                    if (token_is(et->valuestring, "yes") && ev > rep->first_yes) rep->first_yes = ev;
                    if (token_is(et->valuestring, "no") && ev > rep->first_no) rep->first_no = ev;
                }
            }
        }
        cJSON_AddItemToObject(o, "top", ta);
        cJSON_AddItemToArray(arr, o);
        i++;
        if (i >= 4096) break;
    }
    rep->n_tokens_lp = i;
    if (i > 0) rep->logprobs_json = cJSON_PrintUnformatted(out);
    cJSON_Delete(out);
}

/* A 2xx body: 0 with rep filled, -1 with rep->error. */
static int parse_answer(const remote *r, job *j)
{
    remote_reply *rep = &j->rep;
    char head[128];
    if (!j->resp.data || j->resp.len == 0) { snprintf(rep->error, sizeof rep->error, "empty response body"); return -1; }
    if (memchr(j->resp.data, 0, j->resp.len)) { snprintf(rep->error, sizeof rep->error, "response body holds a NUL byte"); return -1; }
    cJSON *root = cJSON_ParseWithLength(j->resp.data, j->resp.len);
    if (!root) {
        printable(head, sizeof head, j->resp.data, j->resp.len, 60);
        snprintf(rep->error, sizeof rep->error, "response is not JSON (%zu bytes: '%s')", j->resp.len, head);
        return -1;
    }
    int rc = -1;
    const cJSON *choices = field(root, "choices"), *c0, *msg, *content;
    if (!cJSON_IsObject(root)) { snprintf(rep->error, sizeof rep->error, "response is not a JSON object"); goto done; }
    if (!cJSON_IsArray(choices) || cJSON_GetArraySize(choices) < 1 || !cJSON_IsObject(c0 = cJSON_GetArrayItem(choices, 0))) {
        const cJSON *e = field(root, "error");
        const cJSON *em = cJSON_IsString(e) ? e : field(e, "message");
        if (cJSON_IsString(em)) {
            printable(head, sizeof head, em->valuestring, strlen(em->valuestring), 100);
            snprintf(rep->error, sizeof rep->error, "response has no choices (error: %s)", head);
        } else {
            snprintf(rep->error, sizeof rep->error, "response has no choices");
        }
        goto done;
    }
    msg = field(c0, "message");
    if (!cJSON_IsObject(msg)) { snprintf(rep->error, sizeof rep->error, "response has no choices[0].message"); goto done; }
    content = field(msg, "content");
    if (cJSON_IsString(content)) {
        rep->content = strdup(content->valuestring);
    } else if (!content || cJSON_IsNull(content)) {
        rep->content = strdup("");                    /* no text (refusal, tool call, length 0) */
    } else if (cJSON_IsArray(content)) {              /* [{"type":"text","text":...}] */
        size_t n = 0;
        const cJSON *p;
        rep->content = calloc(1, 1);
        cJSON_ArrayForEach(p, content) {
            const cJSON *t = field(p, "text");
            if (!cJSON_IsString(t) || !rep->content) continue;
            size_t l = strlen(t->valuestring);
            char *g = realloc(rep->content, n + l + 1);
            if (!g) continue;
            rep->content = g;
            memcpy(g + n, t->valuestring, l + 1);
            n += l;
        }
    } else {
        snprintf(rep->error, sizeof rep->error, "choices[0].message.content is neither text nor null");
        goto done;
    }
    if (!rep->content) { snprintf(rep->error, sizeof rep->error, "out of memory"); goto done; }
    parse_logprobs(rep, field(c0, "logprobs"));
    const cJSON *usage = field(root, "usage"), *tm = field(root, "timings");
    if (!int_of(field(usage, "prompt_tokens"), &rep->n_prompt_tokens)) rep->n_prompt_tokens = -1;
    if (!int_of(field(usage, "completion_tokens"), &rep->n_gen_tokens)) rep->n_gen_tokens = -1;
    const cJSON *pm = field(tm, "prompt_ms"), *dm = field(tm, "predicted_ms");
    if (cJSON_IsNumber(pm) && isfinite(pm->valuedouble) && pm->valuedouble >= 0) rep->prefill_ms = pm->valuedouble;
    if (cJSON_IsNumber(dm) && isfinite(dm->valuedouble) && dm->valuedouble >= 0) rep->decode_ms = dm->valuedouble;
    scrub(r, &rep->content);
    scrub(r, &rep->logprobs_json);
    rep->ok = 1;
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}

/* The server's own words from an error body, when it has any. */
static void server_message(const job *j, char *dst, size_t cap)
{
    dst[0] = 0;
    if (!j->resp.data || !j->resp.len) return;
    cJSON *root = cJSON_ParseWithLength(j->resp.data, j->resp.len);
    const cJSON *e = field(root, "error"), *m = NULL;
    if (cJSON_IsString(e)) m = e;
    else if (cJSON_IsString(field(e, "message"))) m = field(e, "message");
    else if (cJSON_IsString(field(root, "message"))) m = field(root, "message");
    if (m) printable(dst, cap, m->valuestring, strlen(m->valuestring), 160);
    else if (!root) printable(dst, cap, j->resp.data, j->resp.len, 60);
    cJSON_Delete(root);
}

int remote_parse_reply(const char *body, size_t len, int status, const char *secret, remote_reply *rep)
{
    remote r;
    job j;
    int rc;
    memset(&r, 0, sizeof r);
    memset(&j, 0, sizeof j);
    r.key = secret ? strdup(secret) : NULL;
    j.resp.data = (char *)(uintptr_t)body;   /* read only */
    j.resp.len = len;
    j.rep.first_yes = j.rep.first_no = j.rep.first_floor = -INFINITY;
    j.rep.prefill_ms = j.rep.decode_ms = NAN;
    if (status >= 200 && status <= 299) {
        rc = parse_answer(&r, &j);
    } else {
        char msg[200];
        server_message(&j, msg, sizeof msg);
        scrub_buf(&r, msg, sizeof msg);
        snprintf(j.rep.error, sizeof j.rep.error, "HTTP %d%s%s", status, msg[0] ? ": " : "", msg);
        rc = -1;
    }
    scrub_buf(&r, j.rep.error, sizeof j.rep.error);   /* as remote_wait does */
    free(r.key);
    *rep = j.rep;
    return rc;
}

static int retryable_curl(CURLcode c)
{
    switch (c) {
    case CURLE_COULDNT_CONNECT: case CURLE_COULDNT_RESOLVE_HOST: case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_OPERATION_TIMEDOUT: case CURLE_SEND_ERROR: case CURLE_RECV_ERROR: case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE: case CURLE_SSL_CONNECT_ERROR: case CURLE_HTTP2: case CURLE_HTTP2_STREAM:
        return 1;
    default:
        return 0;
    }
}

static int retryable_status(long s) { return s == 408 || s == 409 || s == 429 || (s >= 500 && s <= 599); }

/* One attempt ended: either the job is final (moved to the done list) or it is
 * queued again with a delay. */
static void attempt_done(remote *r, job *j, CURLcode cc)
{
    remote_reply *rep = &j->rep;
    long status = 0;
    curl_off_t retry_after = 0;
    if (j->easy) {
        curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(j->easy, CURLINFO_RETRY_AFTER, &retry_after);
    }
    rep->http_status = status;
    rep->wall_ms = lv_now_ms() - j->t_start_ms;
    rep->attempts = j->attempts;
    rep->error[0] = 0;
    int retry = 0;
    char msg[200];
    if (cc == CURLE_WRITE_ERROR && j->resp.over) {
        snprintf(rep->error, sizeof rep->error, "response body over the cap of %zu bytes (from %s)", r->cfg.max_body, r->clean);
    } else if (cc == CURLE_FILESIZE_EXCEEDED) {
        snprintf(rep->error, sizeof rep->error, "response body over the cap of %zu bytes (Content-Length, from %s)",
                 r->cfg.max_body, r->clean);
    } else if (cc != CURLE_OK) {
        retry = retryable_curl(cc);
        const char *what = cc == CURLE_OPERATION_TIMEDOUT ? "timed out" : cc == CURLE_COULDNT_CONNECT ? "cannot connect"
                         : cc == CURLE_PARTIAL_FILE ? "truncated response" : "transfer failed";
        printable(msg, sizeof msg, j->errbuf[0] ? j->errbuf : curl_easy_strerror(cc),
                  strlen(j->errbuf[0] ? j->errbuf : curl_easy_strerror(cc)), 150);
        snprintf(rep->error, sizeof rep->error, "%s: %s (curl %d, %s)", what, r->clean, (int)cc, msg);
    } else if (status < 200 || status > 299) {
        retry = retryable_status(status);
        server_message(j, msg, sizeof msg);
        snprintf(rep->error, sizeof rep->error, "HTTP %ld from %s%s%s%s", status, r->clean, msg[0] ? ": " : "", msg,
                 status == 401 || status == 403 ? " (check the API key)" : "");
    } else {
        parse_answer(r, j);
    }
    if (!rep->ok && retry && j->attempts <= r->cfg.retries) {
        double delay = r->cfg.backoff_ms * pow(2.0, j->attempts - 1);
        if (delay > r->cfg.backoff_cap_ms) delay = r->cfg.backoff_cap_ms;
        delay *= 0.75 + 0.25 * rand01(r);                      /* jitter */
        if (retry_after > 0)
            delay = (double)(retry_after > REMOTE_MAX_RETRY_AFTER_S ? REMOTE_MAX_RETRY_AFTER_S : retry_after) * 1000.0;
        j->not_before_ms = lv_now_ms() + delay;
        remote_reply_free(rep);
        rep->first_yes = rep->first_no = rep->first_floor = -INFINITY;
        rep->first_has_top = rep->n_tokens_lp = 0;
        return;                                                /* stays queued */
    }
    if (!rep->ok) {
        size_t n = strlen(rep->error);
        if (j->attempts > 1 && n + 40 < sizeof rep->error)
            snprintf(rep->error + n, sizeof rep->error - n, " after %d attempts", j->attempts);
        scrub_buf(r, rep->error, sizeof rep->error);
    }
    /* unlink from the queue, append to done */
    job **pp = &r->queue;
    while (*pp && *pp != j) pp = &(*pp)->next;
    if (*pp) *pp = j->next;
    j->next = NULL;
    if (r->done_tail) r->done_tail->next = j;
    else r->done = j;
    r->done_tail = j;
    curl_easy_cleanup(j->easy);
    j->easy = NULL;
    free(j->body);
    j->body = NULL;
    free(j->resp.data);
    memset(&j->resp, 0, sizeof j->resp);
}

int remote_wait(remote *r, remote_reply *out, void **tag)
{
    while (!r->done) {
        if (!r->queue) return 0;
        double now = lv_now_ms(), next = -1;
        for (job *j = r->queue; j; j = j->next) {
            if (j->active) continue;
            if (j->not_before_ms <= now && r->n_active < r->cfg.concurrency) {
                if (start(r, j)) {
                    snprintf(j->rep.error, sizeof j->rep.error, "remote: cannot start a transfer");
                    j->attempts = r->cfg.retries + 1;
                    j->not_before_ms = 0;
                    attempt_done(r, j, CURLE_FAILED_INIT);
                    break;   /* the list changed */
                }
            } else if (j->not_before_ms > now && (next < 0 || j->not_before_ms < next)) {
                next = j->not_before_ms;
            }
        }
        if (r->done) break;
        int running = 0;
        curl_multi_perform(r->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(r->multi, &left))) {
            if (m->msg != CURLMSG_DONE) continue;
            job *j = NULL;
            CURL *e = m->easy_handle;
            CURLcode cc = m->data.result;
            curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&j);
            curl_multi_remove_handle(r->multi, e);
            r->n_active--;
            if (j) { j->active = 0; attempt_done(r, j, cc); }
        }
        if (r->done) break;
        int wait_ms = 200;
        if (r->n_active == 0 && next > 0) wait_ms = (int)(next - lv_now_ms()) + 1;
        else if (next > 0 && next - lv_now_ms() < wait_ms) wait_ms = (int)(next - lv_now_ms()) + 1;
        if (wait_ms < 0) wait_ms = 0;
        if (wait_ms > 1000) wait_ms = 1000;
        curl_multi_poll(r->multi, NULL, 0, wait_ms, NULL);
    }
    job *j = r->done;
    r->done = j->next;
    if (!r->done) r->done_tail = NULL;
    *out = j->rep;
    *tag = j->tag;
    memset(&j->rep, 0, sizeof j->rep);
    job_free(j);
    r->n_pending--;
    return 1;
}

/* ------------------------------------------------------------------ probe */

int remote_probe(remote *r, int top_k, remote_caps *caps, char *notice, size_t notice_cap, lv_error *err)
{
    remote_request q = {"Is the sky blue? Answer yes or no.", NULL, 1, 0.0, 0, top_k > 0 ? top_k : 1};
    remote_reply rep;
    void *tag;
    memset(caps, 0, sizeof *caps);
    notice[0] = 0;
    if (remote_submit(r, &q, NULL, err)) return -1;
    if (!remote_wait(r, &rep, &tag)) return lv_errorf(err, "remote: probe lost");
    int rc = 0;
    if (!rep.ok) {
        if (rep.http_status == 401 || rep.http_status == 403 || rep.http_status == 404)
            rc = lv_errorf(err, "remote: %s", rep.error);
        else
            snprintf(notice, notice_cap, "the logprobs probe failed (%s); asking without logprobs", rep.error);
    } else {
        caps->logprobs = rep.n_tokens_lp > 0;
        caps->top_logprobs = rep.first_has_top;
        if (!caps->logprobs) snprintf(notice, notice_cap, "the server gives no logprobs; storing answers without them");
    }
    remote_reply_free(&rep);
    return rc;
}

/* ------------------------------------------------------------------ images */

typedef struct {
    unsigned char *d;
    size_t n, cap;
    int fail;
} membuf;

static void mem_write(void *ctx, void *data, int size)
{
    membuf *m = ctx;
    if (m->fail || size <= 0) return;
    if (m->n + (size_t)size > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 65536;
        while (cap < m->n + (size_t)size) cap *= 2;
        unsigned char *g = realloc(m->d, cap);
        if (!g) { m->fail = 1; return; }
        m->d = g;
        m->cap = cap;
    }
    memcpy(m->d + m->n, data, (size_t)size);
    m->n += (size_t)size;
}

static char *data_uri(const char *mime, const unsigned char *b, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t pre = strlen("data:;base64,") + strlen(mime), out = pre + (n + 2) / 3 * 4 + 1;
    char *s = malloc(out), *p;
    if (!s) return NULL;
    p = s + sprintf(s, "data:%s;base64,", mime);
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)b[i] << 16 | (uint32_t)b[i + 1] << 8 | b[i + 2];
        *p++ = tbl[v >> 18]; *p++ = tbl[v >> 12 & 63]; *p++ = tbl[v >> 6 & 63]; *p++ = tbl[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)b[i] << 16 | (i + 1 < n ? (uint32_t)b[i + 1] << 8 : 0);
        *p++ = tbl[v >> 18];
        *p++ = tbl[v >> 12 & 63];
        *p++ = i + 1 < n ? tbl[v >> 6 & 63] : '=';
        *p++ = '=';
    }
    *p = 0;
    return s;
}

int remote_image_uri(const void *bytes, size_t len, int res, char **uri, lv_error *err)
{
    lv_image img = {0}, red = {0};
    membuf m = {0};
    int rc = -1, w, h;
    *uri = NULL;
    if (lv_image_decode(bytes, len, &img, err)) return -1;    /* a bad image fails here, as in the native path */
    lv_image_reduced_size(img.w, img.h, res, &w, &h);
    const unsigned char *b = bytes;
    if (w == img.w && h == img.h) {
        const char *mime = len >= 8 && memcmp(b, "\x89PNG", 4) == 0 ? "image/png"
                         : len >= 3 && b[0] == 0xFF && b[1] == 0xD8 ? "image/jpeg" : NULL;
        if (mime) {
            *uri = data_uri(mime, b, len);
            rc = *uri ? 0 : lv_errorf(err, "out of memory");
            goto done;
        }
        /* other encodings: send the decoded pixels as PNG */
    }
    if (lv_image_reduce(&img, res, &red, err)) goto done;
    if (!stbi_write_png_to_func(mem_write, &m, red.w, red.h, 3, red.rgb, red.w * 3) || m.fail) {
        lv_errorf(err, "cannot encode the reduced image as PNG");
        goto done;
    }
    *uri = data_uri("image/png", m.d, m.n);
    rc = *uri ? 0 : lv_errorf(err, "out of memory");
done:
    free(m.d);
    lv_image_free(&red);
    lv_image_free(&img);
    return rc;
}
