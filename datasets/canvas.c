/* datasets/canvas.c — raster toolkit for the procedural suites (see canvas.h). */
#include "datasets/canvas.h"

#include <stdlib.h>
#include <string.h>

#include <stb_image_write.h>
#include <stb_truetype.h>

#include "datasets/suite.h"
#include "engine/sha256.h"

/* ======================================================================== */
/* PRNG                                                                      */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t suite_mix(uint64_t a, uint64_t b)
{
    uint64_t x = a ^ (b * 0xd6e8feb86659fd93ull);
    return splitmix64(&x);
}

void suite_rng_seed(suite_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t suite_rng_next(suite_rng *r)
{
    uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

uint32_t suite_rng_below(suite_rng *r, uint32_t n)
{
    /* Reject the top sliver of the 32-bit range so every residue is equally likely. */
    uint32_t limit = UINT32_MAX - UINT32_MAX % n, v;
    do v = (uint32_t)(suite_rng_next(r) >> 32); while (v >= limit);
    return v % n;
}

int suite_rng_range(suite_rng *r, int lo, int hi)
{
    return hi <= lo ? lo : lo + (int)suite_rng_below(r, (uint32_t)(hi - lo + 1));
}

/* ======================================================================== */
/* Canvas and shapes                                                         */

const char *const suite_bg_names[SUITE_BG_COUNT] = {"solid", "gradient", "noise", "stripes"};
const char *const suite_shape_names[SUITE_SHAPE_COUNT] = {"circle", "square", "triangle", "diamond", "star", "cross"};
const char *const suite_shape_plurals[SUITE_SHAPE_COUNT] = {"circles", "squares", "triangles", "diamonds", "stars", "crosses"};

int suite_canvas_init(suite_canvas *c, int w, int h, lv_error *err)
{
    c->w = w;
    c->h = h;
    c->px = lv_calloc((size_t)w * (size_t)h, 3);
    return c->px ? 0 : lv_errorf(err, "out of memory");
}

void suite_canvas_free(suite_canvas *c)
{
    lv_free(c->px);
    c->px = NULL;
}

static uint8_t clamp_u8(int v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }

void suite_canvas_background(suite_canvas *c, suite_bg_kind kind, const uint8_t a[3],
                             const uint8_t b[3], int amp, uint64_t seed)
{
    suite_rng r;
    suite_rng_seed(&r, seed);
    for (int y = 0; y < c->h; y++)
        for (int x = 0; x < c->w; x++) {
            uint8_t *p = c->px + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
            int noise = kind == SUITE_BG_NOISE ? suite_rng_range(&r, -amp, amp) : 0;
            for (int k = 0; k < 3; k++) {
                int v = a[k];
                if (kind == SUITE_BG_GRADIENT) v = (a[k] * (c->h - 1 - y) + b[k] * y) / (c->h > 1 ? c->h - 1 : 1);
                if (kind == SUITE_BG_STRIPES && ((x + y) / 12) % 2) v = b[k];
                p[k] = clamp_u8(v + noise);
            }
        }
}

/* The star's ten vertices in the unit square [-1,1]², point up (outer radius 1, inner 0.45). */
static const float star_xy[10][2] = {
    {0.0000f, -1.0000f}, {0.2645f, -0.3641f}, {0.9511f, -0.3090f}, {0.4280f, 0.1391f},
    {0.5878f, 0.8090f},  {0.0000f, 0.4500f},  {-0.5878f, 0.8090f}, {-0.4280f, 0.1391f},
    {-0.9511f, -0.3090f}, {-0.2645f, -0.3641f},
};

/* 1 if the unit-square point (u, v) (v grows downwards) is inside the shape. */
static int shape_inside(suite_shape s, float u, float v)
{
    switch (s) {
    case SUITE_SHAPE_CIRCLE:   return u * u + v * v <= 1.0f;
    case SUITE_SHAPE_SQUARE:   return 1;
    case SUITE_SHAPE_TRIANGLE: return 2.0f * (u < 0 ? -u : u) <= v + 1.0f;
    case SUITE_SHAPE_DIAMOND:  return (u < 0 ? -u : u) + (v < 0 ? -v : v) <= 1.0f;
    case SUITE_SHAPE_CROSS:    return (u < 0 ? -u : u) <= 0.3f || (v < 0 ? -v : v) <= 0.3f;
    case SUITE_SHAPE_STAR: {
        int in = 0;   /* even-odd rule */
        for (int i = 0, j = 9; i < 10; j = i++) {
            float xi = star_xy[i][0], yi = star_xy[i][1], xj = star_xy[j][0], yj = star_xy[j][1];
            if ((yi > v) != (yj > v) && u < (xj - xi) * (v - yi) / (yj - yi) + xi) in = !in;
        }
        return in;
    }
    default: return 0;
    }
}

static void box_add(suite_box *b, int x, int y)
{
    if (b->x1 <= b->x0) { b->x0 = x; b->y0 = y; b->x1 = x + 1; b->y1 = y + 1; return; }
    if (x < b->x0) b->x0 = x;
    if (y < b->y0) b->y0 = y;
    if (x >= b->x1) b->x1 = x + 1;
    if (y >= b->y1) b->y1 = y + 1;
}

/* Blends rgb over pixel (x, y) with coverage cov/den; records it in box if it changed. */
static void blend(suite_canvas *c, int x, int y, const uint8_t rgb[3], int cov, int den, suite_box *box)
{
    uint8_t *p;
    int changed = 0;
    if (cov <= 0 || x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    p = c->px + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
    for (int k = 0; k < 3; k++) {
        uint8_t v = (uint8_t)((p[k] * (den - cov) + rgb[k] * cov + den / 2) / den);
        changed |= v != p[k];
        p[k] = v;
    }
    if (changed) box_add(box, x, y);
}

suite_box suite_canvas_shape(suite_canvas *c, suite_shape shape, int x0, int y0, int size, const uint8_t rgb[3])
{
    suite_box box = {0, 0, 0, 0};
    for (int y = y0; y < y0 + size; y++)
        for (int x = x0; x < x0 + size; x++) {
            int cov = 0;
            for (int sy = 0; sy < 4; sy++)
                for (int sx = 0; sx < 4; sx++) {
                    float u = ((float)(x - x0) + ((float)sx + 0.5f) / 4.0f) / (float)size * 2.0f - 1.0f;
                    float v = ((float)(y - y0) + ((float)sy + 0.5f) / 4.0f) / (float)size * 2.0f - 1.0f;
                    cov += shape_inside(shape, u, v);
                }
            blend(c, x, y, rgb, cov, 16, &box);
        }
    return box;
}

/* ======================================================================== */
/* Text                                                                      */

struct suite_font {
    stbtt_fontinfo info;
    uint8_t *data;
    int      cap_units;      /* height of 'H' in font units */
    char     sha256[65];
};

suite_font *suite_font_load(const char *path, lv_error *err)
{
    size_t len;
    lv_error e2;
    int x0, y0, x1, y1, off;
    suite_font *f = lv_calloc(1, sizeof *f);
    if (!f) { lv_errorf(err, "out of memory"); return NULL; }
    if (!(f->data = (uint8_t *)suite_read_file(path, (size_t)32 << 20, &len, &e2))) {
        lv_errorf(err, "font %s (install fonts-dejavu-core or pass --font FILE)", e2.msg);
        goto fail;
    }
    lv_sha256_hex(f->data, len, f->sha256);
    /* stb_truetype trusts its input: check the table directory fits before InitFont. */
    if (len < 12 || (off = stbtt_GetFontOffsetForIndex(f->data, 0)) < 0 || (size_t)off + 12 > len ||
        (size_t)off + 12 + 16 * (size_t)(f->data[off + 4] << 8 | f->data[off + 5]) > len ||
        !stbtt_InitFont(&f->info, f->data, off) || !stbtt_GetCodepointBox(&f->info, 'H', &x0, &y0, &x1, &y1) ||
        y1 - y0 <= 0) {
        lv_errorf(err, "font %s: not a usable TrueType file", path);
        goto fail;
    }
    f->cap_units = y1 - y0;
    return f;
fail:
    suite_font_free(f);
    return NULL;
}

void suite_font_free(suite_font *f)
{
    if (!f) return;
    lv_free(f->data);
    lv_free(f);
}

const char *suite_font_sha256(const suite_font *f) { return f->sha256; }

static float font_scale(const suite_font *f, int cap_px)
{
    return (float)cap_px / (float)f->cap_units;
}

/* Pen positions are whole pixels so layout never depends on float accumulation. */
static int advance_px(const suite_font *f, int ch, int next, float scale)
{
    int adv, lsb;
    stbtt_GetCodepointHMetrics(&f->info, ch, &adv, &lsb);
    if (next) adv += stbtt_GetCodepointKernAdvance(&f->info, ch, next);
    return (int)((float)adv * scale + 0.5f);
}

int suite_font_width(const suite_font *f, const char *text, int cap_px)
{
    float scale = font_scale(f, cap_px);
    int w = 0;
    for (const char *p = text; *p; p++) w += advance_px(f, (uint8_t)*p, (uint8_t)p[1], scale);
    return w;
}

suite_box suite_canvas_text(suite_canvas *c, const suite_font *f, const char *text, int x, int baseline,
                            int cap_px, const uint8_t rgb[3])
{
    suite_box box = {0, 0, 0, 0};
    float scale = font_scale(f, cap_px);
    for (const char *p = text; *p; p++) {
        int ch = (uint8_t)*p, x0, y0, x1, y1;
        stbtt_GetCodepointBitmapBox(&f->info, ch, scale, scale, &x0, &y0, &x1, &y1);
        int gw = x1 - x0, gh = y1 - y0;
        if (gw > 0 && gh > 0 && gw <= 4096 && gh <= 4096) {
            uint8_t *g = lv_calloc((size_t)gw * (size_t)gh, 1);
            if (g) {
                stbtt_MakeCodepointBitmap(&f->info, g, gw, gh, gw, scale, scale, ch);
                for (int gy = 0; gy < gh; gy++)
                    for (int gx = 0; gx < gw; gx++)
                        blend(c, x + x0 + gx, baseline + y0 + gy, rgb, g[gy * gw + gx], 255, &box);
                lv_free(g);
            }
        }
        x += advance_px(f, ch, (uint8_t)p[1], scale);
    }
    return box;
}

/* ======================================================================== */
/* PNG                                                                       */

typedef struct { uint8_t *buf; size_t len, cap; int failed; } membuf;

static void membuf_write(void *ctx, void *data, int size)
{
    membuf *m = ctx;
    if (m->failed || size <= 0) return;
    if (m->len + (size_t)size > m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 65536;
        while (nc < m->len + (size_t)size) nc *= 2;
        uint8_t *nb = realloc(m->buf, nc);
        if (!nb) { m->failed = 1; return; }
        m->buf = nb;
        m->cap = nc;
    }
    memcpy(m->buf + m->len, data, (size_t)size);
    m->len += (size_t)size;
}

uint8_t *suite_png_encode(const suite_canvas *c, size_t *len)
{
    membuf m = {0};
    if (!stbi_write_png_to_func(membuf_write, &m, c->w, c->h, 3, c->px, c->w * 3) || m.failed) {
        free(m.buf);
        return NULL;
    }
    *len = m.len;
    return m.buf;
}
