/* engine/stb_image_impl.c — the only file that compiles stb_image (Debian's
 * <stb_image.h>, v2.27), with the mitigations of docs/ecosystem.md §3(b):
 *   - JPEG and PNG only (no GIF, TGA, PSD, HDR, PIC, PNM code is compiled in);
 *   - STBI_MAX_DIMENSIONS 16384;
 *   - STBI_MALLOC/REALLOC/FREE go to a per-call arena with a byte cap, freed whole;
 *   - STBI_ASSERT longjmps back into the wrapper: a crafted file is an error;
 *   - decoding from memory only (STBI_NO_STDIO), flip never enabled.
 * Known residual: v2.27 lacks the 2.28 bounds check in stbi__jpeg_huff_decode
 * (CVE-2022-28042); a crafted JPEG can read inside stb's own decoder struct before
 * the assert fires. The read stays inside the arena allocation of that struct.
 */
#include "engine/stb_image_impl.h"

#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

/* ---- the per-call arena ------------------------------------------------------ */

/* Every live stb allocation is a node of a doubly linked list headed by the
 * thread's arena, so a longjmp out of the decoder can free everything. `used` is the
 * sum of live payload sizes and never exceeds `cap`. */
typedef struct arena_node {
    struct arena_node *prev, *next;
    size_t size;
    size_t pad_;              /* keeps the payload 16-byte aligned (4 words) */
} arena_node;

typedef struct {
    int        active;
    int        denied;        /* a request was refused for the cap */
    size_t     used, cap;
    arena_node head;          /* sentinel */
    jmp_buf    jb;
} arena;

static _Thread_local arena *cur_arena;

static void *arena_malloc(size_t sz)
{
    arena *a = cur_arena;
    arena_node *n;
    if (!a || !a->active) return NULL;
    if (sz > a->cap - a->used || sz > SIZE_MAX - sizeof *n) {
        a->denied = 1;
        return NULL;
    }
    n = malloc(sizeof *n + sz);
    if (!n) return NULL;
    n->size = sz;
    n->prev = &a->head;
    n->next = a->head.next;
    a->head.next->prev = n;
    a->head.next = n;
    a->used += sz;
    return n + 1;
}

static void arena_free(void *p)
{
    arena_node *n;
    if (!p || !cur_arena) return;
    n = (arena_node *)p - 1;
    n->prev->next = n->next;
    n->next->prev = n->prev;
    cur_arena->used -= n->size;
    free(n);
}

static void *arena_realloc(void *p, size_t sz)
{
    arena_node *n;
    void *q;
    if (!p) return arena_malloc(sz);
    n = (arena_node *)p - 1;
    q = arena_malloc(sz);
    if (!q) return NULL;
    memcpy(q, p, n->size < sz ? n->size : sz);
    arena_free(p);
    return q;
}

static void arena_free_all(arena *a)
{
    while (a->head.next != &a->head) arena_free(a->head.next + 1);
}

static _Noreturn void arena_assert_failed(void)
{
    longjmp(cur_arena->jb, 1);
}

/* ---- stb_image, configured ------------------------------------------------------ */

#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STBI_MAX_DIMENSIONS 16384
#define STBI_MALLOC(sz) arena_malloc(sz)
#define STBI_REALLOC(p, sz) arena_realloc(p, sz)
#define STBI_FREE(p) arena_free(p)
#define STBI_ASSERT(x) ((x) ? (void)0 : arena_assert_failed())
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION

/* stb declares static prototypes it never defines with STBI_ONLY_*: those warnings
 * come at the end of the file, so this one stays off for the whole file. */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wmisleading-indentation"
#include <stb_image.h>
#pragma GCC diagnostic pop

/* ---- pre-checks for bugs of v2.27 ---------------------------------------------- */

/* stb v2.27 does not check that a DHT table's 16 code-length counts sum to at most
 * 256 (fixed in 2.28): stbi__build_huffman then writes past size[257] and the
 * symbol loop past values[256]. stb reads a DHT wherever its marker scan meets
 * FF C4, and that scan skips stray bytes between segments, so a walk over the
 * segments is not enough: every FF C4 in the file is read as stb would read a DHT
 * there, and a table with more than 256 symbols refuses the file. 0 ok, -1 refused. */
static int jpeg_precheck(const uint8_t *b, size_t n, lv_error *err)
{
    for (size_t i = 0; i + 1 < n; i++) {
        long L;
        size_t q;
        if (b[i] != 0xFF || b[i + 1] != 0xC4) continue;
        L = (i + 3 < n ? (long)(b[i + 2] << 8 | b[i + 3]) : 0) - 2;
        q = i + 4;
        while (L > 0) {
            int k, sum = 0;
            q++;                                   /* Tc/Th */
            for (k = 0; k < 16; k++, q++) sum += q < n ? b[q] : 0;
            if (sum > 256)
                return lv_errorf(err, "corrupt JPEG: Huffman table with %d symbols", sum);
            q += (size_t)sum;
            L -= 17 + sum;
        }
    }
    return 0;
}

static int precheck(const void *buf, size_t len, lv_error *err)
{
    const uint8_t *b = buf;
    /* stb's marker reader skips 0xFF fill bytes, so FF FF ... FF D8 is a JPEG to it too
     * (found by fuzz_image): every file starting with 0xFF gets the check. */
    if (len >= 2 && b[0] == 0xFF) return jpeg_precheck(b, len, err);
    return 0;
}

/* A zero-length IDAT before any data has stb v2.27 compute NULL + 0 for its copy
 * target (undefined behaviour; found by fuzz_image). Such chunks are legal and carry
 * nothing, so the decoder gets a copy without them. The walk follows stb's own
 * (length, type, data, CRC) and stops, copying the rest as is, where stb would stop.
 * 1 with *out (lv_malloc) when a copy was made, 0 when none is needed, -1 no memory. */
static int png_drop_empty_idat(const uint8_t *b, size_t n, uint8_t **out, size_t *out_n)
{
    static const uint8_t sig[8] = { 0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A };
    size_t pos = 8, w = 0;
    uint8_t *c = NULL;                    /* the copy, begun at the first empty IDAT */
    if (n < 8 || memcmp(b, sig, 8)) return 0;
    while (n - pos >= 8) {
        uint32_t len = (uint32_t)b[pos] << 24 | (uint32_t)b[pos + 1] << 16 |
                       (uint32_t)b[pos + 2] << 8 | b[pos + 3];
        if (len == 0 && !memcmp(b + pos + 4, "IDAT", 4)) {
            if (!c) {
                if (!(c = lv_malloc(n))) return -1;
                memcpy(c, b, pos);
                w = pos;
            }
            pos += n - pos < 12 ? n - pos : 12;   /* dropped, with its CRC if any */
            continue;
        }
        if (n - pos < 12 || len > n - pos - 12) break;   /* stb reads zeros past here */
        if (c) {
            memcpy(c + w, b + pos, (size_t)len + 12);
            w += (size_t)len + 12;
        }
        pos += (size_t)len + 12;
    }
    if (!c) return 0;
    memcpy(c + w, b + pos, n - pos);
    *out = c;
    *out_n = w + (n - pos);
    return 1;
}

/* ---- wrapper ------------------------------------------------------------------- */

static void arena_begin(arena *a, size_t cap)
{
    memset(a, 0, sizeof *a);
    a->active = 1;
    a->cap = cap;
    a->head.prev = a->head.next = &a->head;
    cur_arena = a;
}

static void arena_end(arena *a)
{
    arena_free_all(a);
    a->active = 0;
    cur_arena = NULL;
}

int lv_stbi_info(const void *buf, size_t len, int *w, int *h, int *comp, lv_error *err)
{
    arena a;
    volatile int ok = 0;
    if (len > (size_t)INT32_MAX) return lv_errorf(err, "image too large (%zu bytes)", len);
    if (precheck(buf, len, err)) return -1;
    arena_begin(&a, (size_t)16 << 20);
    if (setjmp(a.jb) == 0)
        ok = stbi_info_from_memory(buf, (int)len, w, h, comp);
    else
        ok = -1;
    arena_end(&a);
    if (ok == -1) return lv_errorf(err, "corrupt image (decoder assertion)");
    if (!ok) return lv_errorf(err, "cannot read image header: %s", stbi_failure_reason());
    return 0;
}

/* stb's decode of an image already checked to be iw×ih, inside an arena; *rgb is a
 * copy outside it. Its own function so that nothing the longjmp skips over is a
 * local that was changed after setjmp. */
static int decode_in_arena(const void *buf, size_t len, int iw, int ih, size_t mem_cap,
                           uint8_t **rgb, lv_error *err)
{
    arena a;
    stbi_uc *volatile px = NULL;
    volatile int jumped = 0;
    size_t n = (size_t)iw * (size_t)ih * 3;

    arena_begin(&a, mem_cap);
    if (setjmp(a.jb) == 0) {
        int x = 0, y = 0, c = 0;
        px = stbi_load_from_memory(buf, (int)len, &x, &y, &c, 3);
        if (px && (x != iw || y != ih)) px = NULL;   /* header and decode disagree */
    } else {
        jumped = 1;
        px = NULL;
    }
    if (!px) {
        const char *why = jumped ? "decoder assertion" : stbi_failure_reason();
        int over = a.denied;
        arena_end(&a);
        if (!why) why = "unknown";
        return lv_errorf(err, "corrupt image: %s%s", why,
                         over ? " (decoder memory cap reached)" : "");
    }
    *rgb = lv_malloc(n);
    if (*rgb) memcpy(*rgb, px, n);
    arena_end(&a);
    if (!*rgb) return lv_errorf(err, "out of memory for a %dx%d image", iw, ih);
    return 0;
}

int lv_stbi_decode(const void *buf, size_t len, int max_side, uint64_t max_pixels,
                   size_t mem_cap, int *w, int *h, uint8_t **rgb, lv_error *err)
{
    int iw = 0, ih = 0, comp = 0, rc;
    uint8_t *png = NULL;
    size_t png_n = 0;

    *rgb = NULL;
    if (lv_stbi_info(buf, len, &iw, &ih, &comp, err)) return -1;
    if (iw <= 0 || ih <= 0) return lv_errorf(err, "image has zero size");
    if (iw > max_side || ih > max_side)
        return lv_errorf(err, "image too large: %dx%d (max side %d)", iw, ih, max_side);
    if ((uint64_t)iw * (uint64_t)ih > max_pixels)
        return lv_errorf(err, "image too large: %dx%d (max %llu pixels)", iw, ih,
                         (unsigned long long)max_pixels);
    rc = png_drop_empty_idat(buf, len, &png, &png_n);
    if (rc < 0) return lv_errorf(err, "out of memory for a %zu-byte image", len);
    rc = rc ? decode_in_arena(png, png_n, iw, ih, mem_cap, rgb, err)
            : decode_in_arena(buf, len, iw, ih, mem_cap, rgb, err);
    lv_free(png);
    if (rc) return -1;
    *w = iw;
    *h = ih;
    return 0;
}
