/* datasets/fetch.h — resumable, checksum-verified downloads into a cache folder
 * (libcurl easy interface), and the catalogue of official files with pinned hashes.
 * `suite fetch` uses it for benchmark files; `model fetch` will use it for GGUF files.
 *
 * Cache layout (name-addressed: the catalogue names each file):
 *   CACHE/NAME              the verified file; only ever created by rename() after its
 *                           size and SHA-256 matched, so its presence means "good"
 *   CACHE/NAME.part         bytes received so far; the next fetch resumes it with
 *                           "Range: bytes=N-" and "If-Range: <validator>"
 *   CACHE/NAME.part.etag    the validator (ETag, else Last-Modified) of the response
 *                           that started the .part, so a changed file is never spliced
 *   CACHE/NAME.lock         flock()ed while a process fetches NAME
 *   CACHE/NAME.sha256       for items without a pinned hash: the hash seen on first
 *                           download (trust on first use), checked on later fetches
 * CACHE defaults to $LLAVA_EVAL_CACHE, else $XDG_CACHE_HOME/llava-eval, else
 * ~/.cache/llava-eval.
 *
 * HTTP rules: the first URL may use fetch_opts.protocols (default "http,https": the
 * COCO server is plain http, its files are pinned by hash); redirects are followed
 * (at most 5) only to redir_protocols (default "https"). A 200 answer to a Range
 * request restarts the part from zero; a 416 means the part is complete. Connect and
 * low-speed timeouts replace a total timeout (multi-GB files). An item without a pinned
 * hash takes X-Linked-Etag / X-Linked-Size from the first response when present (the
 * Hugging Face hub sends the LFS SHA-256 there before redirecting). A hash mismatch deletes
 * the part (after a resumed transfer the file is fetched once more from zero).
 *
 * Ownership: fetch_file returns the cached path in *path_out, which the caller frees
 * with free(). fetch_default_cache returns a malloc'd string. Catalogue rows are static.
 */
#ifndef LV_FETCH_H
#define LV_FETCH_H

#include <stdint.h>

#include "engine/base.h"

typedef struct {
    const char *name;     /* path inside the cache, e.g. "pope/coco_pope_random.json" */
    const char *url;
    uint64_t    size;     /* expected bytes, 0 = unknown */
    const char *sha256;   /* expected hash (64 hex), NULL = unknown: trust on first use */
} fetch_item;

typedef struct {
    const char *cache_dir;         /* NULL: fetch_default_cache() */
    const char *protocols;         /* NULL: "http,https" */
    const char *redir_protocols;   /* NULL: "https" */
    long        connect_timeout_s; /* 0: 15 */
    long        low_speed_bytes;   /* abort below this many bytes/s ... (0: 1024) */
    long        low_speed_time_s;  /* ... sustained this long (0: 60) */
    int         no_wait;           /* fail at once when another process holds the lock */
    int         verify_cached;     /* re-hash a file already in the cache */
    int         quiet;             /* no progress lines on stderr */
} fetch_opts;

/* Makes it->name present and verified in the cache. 0 with *path_out (may be NULL),
 * or -1 with a one-line reason in err. A failed transfer keeps the .part for resuming
 * when it can be resumed, and says so. */
int   fetch_file(const fetch_opts *o, const fetch_item *it, char **path_out, lv_error *err);
char *fetch_default_cache(void);

/* COCO publishes no hashes for single images: they are recorded on first use. */
#define FETCH_COCO_VAL2014 "http://images.cocodataset.org/val2014/"

/* Fetches the COCO val2014 images the POPE files ask about (500) into
 * CACHE/coco/val2014/. base_url NULL = FETCH_COCO_VAL2014. *n_images gets the count. */
int fetch_pope_images(const fetch_opts *o, const char *const *pope_files, int n, const char *base_url,
                      size_t *n_images, lv_error *err);

/* ---- Catalogue ---- */
typedef struct {
    const char *name;          /* e.g. "pope" */
    const char *description;
    fetch_item  items[4];      /* terminated by name == NULL */
} fetch_entry;

extern const fetch_entry fetch_catalog[];   /* terminated by name == NULL */
const fetch_entry *fetch_find(const char *name);
/* The catalogue item whose pinned hash is hex (any case), or NULL. */
const fetch_item  *fetch_find_by_sha256(const char *hex);

#endif
