/* json.h - a small single-header JSON parser (RFC 8259) for ewq.
 *
 * Usage: include this header anywhere for the API; in exactly one C file write
 *     #define JSON_IMPLEMENTATION
 *     #include "json.h"
 * to compile the implementation into that translation unit.
 *
 * The whole document is parsed into a tree of json_value nodes that live in
 * one arena owned by the json_doc; json_free releases it all at once.
 * Children of an array or object are stored contiguously in document order,
 * so callers iterate kids[0..len) directly (json_get is a linear scan).
 *
 * Deliberate choices:
 *  - Strict grammar: no comments, no trailing commas, no NaN/Infinity, no
 *    leading zeros or '+' in numbers, no raw control characters in strings.
 *  - String escapes are decoded to UTF-8; \uD83D\uDE00-style surrogate pairs
 *    become one 4-byte sequence, and an unpaired surrogate escape is an error.
 *  - Bytes inside strings are NOT validated as UTF-8: invalid sequences are
 *    copied through unchanged. The inputs we read (tokenizer.json, config.json,
 *    safetensors headers) are valid UTF-8 anyway, so validating them would
 *    only cost time.
 *  - Numbers: every number gets a correctly rounded double in f (an exponent
 *    too large for a double yields +-inf, as the grammar allows it). Integers
 *    without fraction or exponent that fit in int64 are also exact in i.
 *    strtod is used, so LC_NUMERIC must be the "C" locale (the default).
 *  - Nesting deeper than JSON_MAX_DEPTH is an error, so hostile input cannot
 *    overflow the C stack through recursion.
 *  - The parse tree and the parser's work stack together may take at most
 *    JSON_MAX_MEMORY bytes; a document that needs more is an error. A value
 *    takes 64 bytes while "0," takes 2, so without a cap a hostile 100 MB
 *    document of small values would need 6 GB.
 */
#ifndef JSON_H
#define JSON_H

#include <stddef.h>
#include <stdint.h>

#ifndef JSON_MAX_DEPTH
#define JSON_MAX_DEPTH 128           /* nesting limit: deeper input is an error, never a stack overflow */
#endif
#ifndef JSON_MAX_MEMORY
#define JSON_MAX_MEMORY ((size_t)1 << 30)   /* parse tree + work stack, in bytes: more is an error */
#endif

typedef enum json_type { JSON_NULL, JSON_FALSE, JSON_TRUE, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type;

typedef struct json_value json_value;
struct json_value {
    json_type type;
    uint32_t len;        /* STRING: byte length of str (authoritative: \u0000 may embed NULs); ARRAY/OBJECT: child count */
    const char *key;     /* when this value is a member of an object: its key (decoded UTF-8, NUL-terminated), else NULL */
    uint32_t key_len;
    int is_int;          /* NUMBER: literal had no fraction/exponent and fits in int64 exactly */
    int64_t i;           /* NUMBER: exact value when is_int */
    double f;            /* NUMBER: value as double (always set, correctly rounded) */
    const char *str;     /* STRING: decoded UTF-8, NUL-terminated */
    json_value *kids;    /* ARRAY/OBJECT: the len children, contiguous, in document order (NULL when len is 0) */
};

typedef struct json_doc { json_value *root; void *arena; } json_doc;   /* arena: internal, freed by json_free */

/* Parse text[0..len) (need not be NUL-terminated). Returns 0 and fills *doc, or -1 and writes a one-line
   message "byte N: problem" (N = 0-based byte offset of the problem) into err (errsz bytes, always
   NUL-terminated; err may be NULL when errsz is 0). On failure *doc is {NULL, NULL}. */
int json_parse(const char *text, size_t len, json_doc *doc, char *err, size_t errsz);

/* Release everything json_parse allocated for doc; safe to call twice or on a failed parse. */
void json_free(json_doc *doc);

/* Member of an object by key (exact byte compare); NULL when v is NULL, not an object, or key absent.
   With duplicate keys the LAST one wins (as Python's json does). Keys with embedded NULs can only be
   found by iterating kids. */
const json_value *json_get(const json_value *v, const char *key);

#endif /* JSON_H */

#if defined(JSON_IMPLEMENTATION) && !defined(JSON_IMPLEMENTED)
#define JSON_IMPLEMENTED

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON__FIRST_CHUNK ((size_t)64 << 10)   /* arena chunks start at 64 KiB ... */
#define JSON__MAX_CHUNK   ((size_t)64 << 20)   /* ... and double up to 64 MiB */

/* Arena chunk; chunks form a singly linked list, newest first. */
typedef struct json__chunk {
    struct json__chunk *next;
    size_t cap, used;
    max_align_t data[];   /* max_align_t only to align the start of the payload */
} json__chunk;

typedef struct json__parser {
    const unsigned char *s;   /* input and its length */
    size_t n, pos;            /* pos: next byte to look at */
    json_value *stack;        /* children of the containers still open, waiting to be copied out */
    size_t top, cap;
    json__chunk *chunks;      /* the arena */
    size_t chunk_size;        /* size of the next chunk (grows) */
    size_t mem;               /* bytes held by the arena and the stack, at most JSON_MAX_MEMORY */
    int over;                 /* an allocation failed because it would pass JSON_MAX_MEMORY */
    char *err;
    size_t errsz;
    char found[16];           /* scratch for json__found */
} json__parser;

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int json__fail(json__parser *p, size_t at, const char *fmt, ...)
{
    if (p->err && p->errsz) {
        int k = snprintf(p->err, p->errsz, "byte %zu: ", at);
        if (k >= 0 && (size_t)k < p->errsz) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(p->err + k, p->errsz - (size_t)k, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

/* The error for a failed allocation: over the memory cap, or out of memory. */
static int json__oom(json__parser *p, size_t at)
{
    if (p->over)
        return json__fail(p, at, "document too large: its parse tree would take more than %zu MiB",
                          (size_t)JSON_MAX_MEMORY >> 20);
    return json__fail(p, at, "out of memory");
}

/* Describes the byte at offset `at` for error messages: 'x', byte 0xNN, or end of input. */
static const char *json__found(json__parser *p, size_t at)
{
    if (at >= p->n)
        return "end of input";
    unsigned char c = p->s[at];
    if (c >= 0x20 && c < 0x7f)
        snprintf(p->found, sizeof p->found, "'%c'", c);
    else
        snprintf(p->found, sizeof p->found, "byte 0x%02x", c);
    return p->found;
}

static void *json__alloc(json__parser *p, size_t size, size_t align)
{
    json__chunk *c = p->chunks;
    if (c) {
        size_t at = (c->used + align - 1) & ~(align - 1);
        if (at <= c->cap && size <= c->cap - at) {
            c->used = at + size;
            return (unsigned char *)c->data + at;
        }
    }
    /* Start a new chunk; whatever was left in the old one is abandoned. */
    size_t cap = size > p->chunk_size ? size : p->chunk_size;
    if (cap > JSON_MAX_MEMORY - p->mem || sizeof(json__chunk) > JSON_MAX_MEMORY - p->mem - cap) {
        p->over = 1;
        return NULL;
    }
    json__chunk *fresh = malloc(sizeof *fresh + cap);
    if (!fresh)
        return NULL;
    p->mem += sizeof *fresh + cap;
    if (p->chunk_size < JSON__MAX_CHUNK)
        p->chunk_size *= 2;
    fresh->next = c;
    fresh->cap = cap;
    fresh->used = size;
    p->chunks = fresh;
    return fresh->data;
}

static void json__skip_ws(json__parser *p)
{
    while (p->pos < p->n) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
            break;
        p->pos++;
    }
}

static int json__is_digit(json__parser *p, size_t at)
{
    return at < p->n && p->s[at] >= '0' && p->s[at] <= '9';
}

/* Reads the 4 hex digits of the \u escape whose backslash is at `at`; `end` is
   the offset of the string's closing quote. */
static int json__hex4(json__parser *p, size_t at, size_t end, uint32_t *cp)
{
    if (end - at < 6)
        return json__fail(p, at, "truncated \\u escape: expected 4 hex digits");
    uint32_t v = 0;
    for (size_t k = at + 2; k < at + 6; k++) {
        unsigned char c = p->s[k];
        uint32_t d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            d = (c | 0x20) - 'a' + 10;
        else
            return json__fail(p, k, "expected hex digit in \\u escape, found %s", json__found(p, k));
        v = v << 4 | d;
    }
    *cp = v;
    return 0;
}

/* Encodes cp (at most 0x10FFFF, never a surrogate) as UTF-8; returns the byte count. */
static size_t json__utf8(uint32_t cp, char *out)
{
    static const unsigned char lead[4] = {0x00, 0xC0, 0xE0, 0xF0};
    size_t n = cp < 0x80 ? 0 : cp < 0x800 ? 1 : cp < 0x10000 ? 2 : 3;   /* continuation bytes */
    out[0] = (char)(lead[n] | cp >> (6 * n));
    for (size_t k = 1; k <= n; k++)
        out[k] = (char)(0x80 | (cp >> (6 * (n - k)) & 0x3F));
    return n + 1;
}

/* Decodes the escaped string body s[from..end) into dst and sets *len.
   Every escape is at least as long as what it decodes to, so dst needs no
   more than end - from bytes. */
static int json__unescape(json__parser *p, size_t from, size_t end, char *dst, size_t *len)
{
    const unsigned char *s = p->s;
    size_t o = 0;
    for (size_t j = from; j < end;) {
        if (s[j] != '\\') {
            dst[o++] = (char)s[j++];
            continue;
        }
        /* The scan in json__string skipped the byte after each backslash, so j + 1 < end. */
        char simple;
        switch (s[j + 1]) {
        case '"': simple = '"'; break;
        case '\\': simple = '\\'; break;
        case '/': simple = '/'; break;
        case 'b': simple = '\b'; break;
        case 'f': simple = '\f'; break;
        case 'n': simple = '\n'; break;
        case 'r': simple = '\r'; break;
        case 't': simple = '\t'; break;
        case 'u': simple = 0; break;   /* 0 marks \u: no simple escape decodes to NUL */
        default:
            return json__fail(p, j + 1, "invalid escape: expected one of \"\\/bfnrtu after '\\', found %s",
                              json__found(p, j + 1));
        }
        if (simple) {
            dst[o++] = simple;
            j += 2;
            continue;
        }
        uint32_t cp, lo;
        if (json__hex4(p, j, end, &cp))
            return -1;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return json__fail(p, j, "unpaired low surrogate \\u%04X (no high surrogate before it)", (unsigned)cp);
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (end - j < 12 || s[j + 6] != '\\' || s[j + 7] != 'u')
                return json__fail(p, j, "lone high surrogate \\u%04X: expected a \\uDC00-\\uDFFF escape after it",
                                  (unsigned)cp);
            if (json__hex4(p, j + 6, end, &lo))
                return -1;
            if (lo < 0xDC00 || lo > 0xDFFF)
                return json__fail(p, j, "lone high surrogate \\u%04X: followed by \\u%04X, not a low surrogate",
                                  (unsigned)cp, (unsigned)lo);
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            j += 6;
        }
        o += json__utf8(cp, dst + o);
        j += 6;
    }
    *len = o;
    return 0;
}

/* Parses the string whose opening quote is at p->pos into arena memory. */
static int json__string(json__parser *p, const char **out, uint32_t *out_len)
{
    const unsigned char *s = p->s;
    size_t open = p->pos, i = open + 1;
    int escaped = 0;
    /* First pass: find the closing quote, rejecting raw control characters. */
    for (;;) {
        if (i >= p->n)
            return json__fail(p, p->n, "unterminated string (opened at byte %zu), found end of input", open);
        unsigned char c = s[i];
        if (c == '"')
            break;
        if (c == '\\') {
            escaped = 1;
            i += 2;   /* the escaped byte cannot end the string; json__unescape checks it */
            continue;
        }
        if (c < 0x20)
            return json__fail(p, i, "raw control character 0x%02x in string (must be escaped)", c);
        i++;
    }
    size_t raw = i - open - 1, len = raw;
    char *dst = json__alloc(p, raw + 1, 1);
    if (!dst)
        return json__oom(p, open);
    if (escaped) {
        if (json__unescape(p, open + 1, i, dst, &len))
            return -1;
    } else {
        memcpy(dst, s + open + 1, raw);
    }
    if (len > UINT32_MAX)
        return json__fail(p, open, "string longer than %lu bytes", (unsigned long)UINT32_MAX);
    dst[len] = '\0';
    *out = dst;
    *out_len = (uint32_t)len;
    p->pos = i + 1;
    return 0;
}

static int json__number(json__parser *p, json_value *v)
{
    const unsigned char *s = p->s;
    size_t start = p->pos, i = start;
    int neg = s[i] == '-';
    i += (size_t)neg;
    if (!json__is_digit(p, i))
        return json__fail(p, i, "expected digit after '-', found %s", json__found(p, i));
    if (s[i] == '0') {
        i++;
        if (json__is_digit(p, i))
            return json__fail(p, i, "leading zeros are not allowed in numbers");
    } else {
        while (json__is_digit(p, i))
            i++;
    }
    size_t int_end = i;
    int is_int = 1;
    if (i < p->n && s[i] == '.') {
        i++;
        if (!json__is_digit(p, i))
            return json__fail(p, i, "expected digit after decimal point, found %s", json__found(p, i));
        while (json__is_digit(p, i))
            i++;
        is_int = 0;
    }
    if (i < p->n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < p->n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (!json__is_digit(p, i))
            return json__fail(p, i, "expected digit in exponent, found %s", json__found(p, i));
        while (json__is_digit(p, i))
            i++;
        is_int = 0;
    }
    p->pos = i;
    v->type = JSON_NUMBER;
    if (is_int) {
        /* Accumulate the magnitude; a negative number may reach 2^63. */
        uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, mag = 0;
        for (size_t k = start + (size_t)neg; k < int_end && is_int; k++) {
            unsigned d = s[k] - '0';
            if (mag > (limit - d) / 10)
                is_int = 0;
            else
                mag = mag * 10 + d;
        }
        if (is_int) {
            v->is_int = 1;
            v->i = !neg ? (int64_t)mag : mag > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)mag;
            /* int64 -> double rounds to nearest, exactly what strtod would give;
               only "-0" needs care, since strtod keeps its sign. */
            v->f = neg && mag == 0 ? -0.0 : (double)v->i;
            return 0;
        }
    }
    /* strtod needs a NUL-terminated string, and the input need not be one. */
    char buf[64], *tmp = buf;
    size_t n = i - start;
    if (n >= sizeof buf && !(tmp = malloc(n + 1)))
        return json__fail(p, start, "out of memory");
    memcpy(tmp, s + start, n);
    tmp[n] = '\0';
    v->f = strtod(tmp, NULL);
    if (tmp != buf)
        free(tmp);
    return 0;
}

static int json__value(json__parser *p, json_value *v, int depth);

/* Parses the array or object at p->pos. Children are parsed onto p->stack
   (which may be reallocated meanwhile, so no pointer into it is kept) and
   copied into the arena in one piece when the container closes. */
static int json__container(json__parser *p, json_value *v, int depth)
{
    size_t open = p->pos, base = p->top;
    int is_obj = p->s[open] == '{';
    unsigned char close = is_obj ? '}' : ']';
    if (depth >= JSON_MAX_DEPTH)
        return json__fail(p, open, "nesting deeper than %d", JSON_MAX_DEPTH);
    p->pos++;
    json__skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == close) {
        p->pos++;
    } else {
        for (;;) {
            json_value kid = {.type = JSON_NULL};
            if (is_obj) {
                json__skip_ws(p);
                if (p->pos >= p->n || p->s[p->pos] != '"')
                    return json__fail(p, p->pos, "expected string key, found %s", json__found(p, p->pos));
                if (json__string(p, &kid.key, &kid.key_len))
                    return -1;
                json__skip_ws(p);
                if (p->pos >= p->n || p->s[p->pos] != ':')
                    return json__fail(p, p->pos, "expected ':' after object key, found %s",
                                      json__found(p, p->pos));
                p->pos++;
            }
            if (json__value(p, &kid, depth + 1))
                return -1;
            if (p->top == p->cap) {
                size_t cap = p->cap ? p->cap * 2 : 256, more = (cap - p->cap) * sizeof *p->stack;
                if (more > JSON_MAX_MEMORY - p->mem) {
                    p->over = 1;
                    return json__oom(p, p->pos);
                }
                json_value *grown = realloc(p->stack, cap * sizeof *grown);
                if (!grown)
                    return json__oom(p, p->pos);
                p->stack = grown;
                p->cap = cap;
                p->mem += more;
            }
            p->stack[p->top++] = kid;
            json__skip_ws(p);
            if (p->pos < p->n && p->s[p->pos] == ',') {
                p->pos++;
                continue;
            }
            if (p->pos < p->n && p->s[p->pos] == close) {
                p->pos++;
                break;
            }
            return json__fail(p, p->pos, "expected ',' or '%c' after %s, found %s", close,
                              is_obj ? "object member" : "array element", json__found(p, p->pos));
        }
    }
    size_t count = p->top - base;
    if (count > UINT32_MAX)
        return json__fail(p, open, "container has more than %lu children", (unsigned long)UINT32_MAX);
    v->type = is_obj ? JSON_OBJECT : JSON_ARRAY;
    v->len = (uint32_t)count;
    v->kids = NULL;
    if (count) {
        v->kids = json__alloc(p, count * sizeof *v->kids, _Alignof(json_value));
        if (!v->kids)
            return json__oom(p, open);
        memcpy(v->kids, p->stack + base, count * sizeof *v->kids);
    }
    p->top = base;
    return 0;
}

static int json__literal(json__parser *p, json_value *v, const char *word, json_type type)
{
    size_t k = strlen(word);
    if (p->n - p->pos < k || memcmp(p->s + p->pos, word, k) != 0)
        return json__fail(p, p->pos, "invalid literal: expected '%s'", word);
    p->pos += k;
    v->type = type;
    return 0;
}

/* Parses one value into *v, leaving v->key (set by the caller) alone. */
static int json__value(json__parser *p, json_value *v, int depth)
{
    json__skip_ws(p);
    if (p->pos >= p->n)
        return json__fail(p, p->pos, "expected a value, found end of input");
    unsigned char c = p->s[p->pos];
    switch (c) {
    case '{':
    case '[':
        return json__container(p, v, depth);
    case '"':
        v->type = JSON_STRING;
        return json__string(p, &v->str, &v->len);
    case 't':
        return json__literal(p, v, "true", JSON_TRUE);
    case 'f':
        return json__literal(p, v, "false", JSON_FALSE);
    case 'n':
        return json__literal(p, v, "null", JSON_NULL);
    default:
        if (c == '-' || (c >= '0' && c <= '9'))
            return json__number(p, v);
        return json__fail(p, p->pos, "expected a value, found %s", json__found(p, p->pos));
    }
}

static void json__free_chunks(json__chunk *c)
{
    while (c) {
        json__chunk *next = c->next;
        free(c);
        c = next;
    }
}

int json_parse(const char *text, size_t len, json_doc *doc, char *err, size_t errsz)
{
    json__parser p = {.s = (const unsigned char *)text, .n = text ? len : 0,
                      .err = err, .errsz = errsz, .chunk_size = JSON__FIRST_CHUNK};
    int rc = -1;
    if (err && errsz)
        err[0] = '\0';
    doc->root = NULL;
    doc->arena = NULL;
    json_value *root = json__alloc(&p, sizeof *root, _Alignof(json_value));
    if (!root) {
        json__fail(&p, 0, "out of memory");
    } else {
        *root = (json_value){.type = JSON_NULL};
        if (json__value(&p, root, 0) == 0) {
            json__skip_ws(&p);
            if (p.pos < p.n)
                json__fail(&p, p.pos, "unexpected data after the root value, found %s", json__found(&p, p.pos));
            else
                rc = 0;
        }
    }
    free(p.stack);
    if (rc == 0) {
        doc->root = root;
        doc->arena = p.chunks;
    } else {
        json__free_chunks(p.chunks);
    }
    return rc;
}

void json_free(json_doc *doc)
{
    if (!doc)
        return;
    json__free_chunks(doc->arena);
    doc->root = NULL;
    doc->arena = NULL;
}

const json_value *json_get(const json_value *v, const char *key)
{
    if (!v || v->type != JSON_OBJECT || !key)
        return NULL;
    size_t n = strlen(key);
    for (uint32_t k = v->len; k-- > 0;) {   /* backwards, so the last duplicate wins */
        const json_value *m = &v->kids[k];
        if (m->key_len == n && memcmp(m->key, key, n) == 0)
            return m;
    }
    return NULL;
}

#endif /* JSON_IMPLEMENTATION */
