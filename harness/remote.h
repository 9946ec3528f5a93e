/* harness/remote.h — the remote backend: a model served over an OpenAI-compatible
 * chat-completions API (llama-server, vLLM, Ollama /v1), asked the suite's
 * questions with the image as a data: URI part before the text part.
 *
 * Transport: libcurl's multi interface, up to `concurrency` requests in flight.
 * Every request has a connect timeout and a total timeout, and its body is capped
 * (a larger reply is cut off and is an error, never retried). Redirects are not
 * followed. A request is retried, with exponential backoff and jitter, only on
 * connection errors (refused, reset, timed out, truncated body), 408, 409, 429 and
 * 5xx; Retry-After (seconds or an HTTP date) replaces the backoff when it is given
 * and at most REMOTE_MAX_RETRY_AFTER_S. Other 4xx answers are final.
 *
 * Every reply is hostile: it is parsed with cJSON and each field is checked
 * (`content: null` is an empty answer; null or absent logprobs mean "none"). Text
 * that came from the server (answers, error messages) has the API key and the
 * URL's password replaced by "[redacted]" before it leaves this module.
 *
 * Secrets: the API key is held here and goes out only as an Authorization
 * header. Error messages name the URL without credentials (remote_url_clean).
 *
 * Ownership: remote_open copies what it needs from the config; remote_reply
 * strings are malloc'd and freed by remote_reply_free. Nothing here exits.
 */
#ifndef LV_REMOTE_H
#define LV_REMOTE_H

#include <stddef.h>

#include "engine/base.h"

#define REMOTE_MAX_RETRY_AFTER_S 60
#define REMOTE_MAX_TOP_LOGPROBS  20      /* vLLM's default --max-logprobs */

typedef struct remote remote;

typedef struct {
    const char *url;            /* base URL (".../v1") or the full .../chat/completions */
    const char *model;          /* served model name */
    const char *api_key;        /* NULL: no Authorization header */
    int         concurrency;    /* requests in flight (>= 1) */
    double      timeout_s;      /* whole request, per attempt */
    double      connect_timeout_s;
    size_t      max_body;       /* reply body cap in bytes */
    int         retries;        /* extra attempts after the first */
    double      backoff_ms;     /* first backoff; doubles per attempt up to backoff_cap_ms */
    double      backoff_cap_ms;
} remote_config;

/* One question. Strings are copied into the request body at submit time. */
typedef struct {
    const char *prompt;
    const char *image_uri;      /* data: URI, or NULL for a text-only message */
    int         max_tokens;
    double      temperature;
    long        seed;
    int         top_logprobs;   /* 0: no logprobs asked; > 0: logprobs + this many alternatives */
} remote_request;

typedef struct {
    int    ok;                  /* 1: an answer was parsed; 0: error says why */
    char  *content;             /* the answer ("" for content: null), redacted */
    char  *logprobs_json;       /* {"text_tokens":[{"token","logprob","top":[[tok,lp],...]}]} or NULL */
    int    n_tokens_lp;         /* entries in logprobs.content */
    int    first_has_top;       /* the first answer token came with top_logprobs */
    double first_yes, first_no; /* best logprob of a yes / no spelling among them; -INFINITY absent */
    double first_floor;         /* the lowest logprob listed for the first token */
    int    n_prompt_tokens, n_gen_tokens;   /* usage, -1 when absent */
    double prefill_ms, decode_ms;           /* server timings (llama-server), NAN when absent */
    double wall_ms;             /* the last attempt, client side */
    int    attempts;
    long   http_status;         /* of the last attempt; 0 when no answer came */
    char   error[512];
} remote_reply;

/* Opens a client; NULL with err on a bad URL or when curl cannot start. */
remote *remote_open(const remote_config *cfg, lv_error *err);
void    remote_close(remote *r);

/* Queues one request; tag comes back with its reply. -1 with err on out of memory. */
int remote_submit(remote *r, const remote_request *q, void *tag, lv_error *err);
/* Requests queued and not yet returned by remote_wait. */
int remote_pending(const remote *r);
/* Runs transfers until one request is final (answered, or failed after its
 * retries) and returns it: 1 with *out and *tag filled, 0 when nothing is pending. */
int  remote_wait(remote *r, remote_reply *out, void **tag);
void remote_reply_free(remote_reply *rep);

/* What the server supports, found by one small text-only request. */
typedef struct {
    int logprobs;               /* logprobs.content came back */
    int top_logprobs;           /* ... with top_logprobs for the first token */
} remote_caps;

/* Probes logprobs support. 0 with caps filled (zeros when the probe failed for a
 * reason that does not stop the run; *notice then says why); -1 with err when the
 * server refuses us outright (401, 403, 404: every request would fail). */
int remote_probe(remote *r, int top_k, remote_caps *caps, char *notice, size_t notice_cap, lv_error *err);

/* The reply parser alone (the fuzz target's entry): a response body with its HTTP
 * status into rep, as remote_wait would fill it (content redacted of secret). 0 when
 * an answer was parsed, -1 with rep->error. Free rep with remote_reply_free. */
int remote_parse_reply(const char *body, size_t len, int status, const char *secret, remote_reply *rep);

/* The URL without user, password, query or fragment (malloc'd); NULL when it is
 * not an http(s) URL. */
char *remote_url_clean(const char *url, lv_error *err);

/* The image for a request: the file's bytes as they are when the reduction to a
 * longer side of res pixels (0 = native) changes nothing, else the reduced image
 * re-encoded as PNG; as a malloc'd data: URI. -1 with err on a bad image. */
int remote_image_uri(const void *bytes, size_t len, int res, char **uri, lv_error *err);

#endif
