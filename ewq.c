/* ewq.c — Entropy-Weighted Quantization for Llama and Qwen models: everything on the host.
 *
 * Sections, in data-flow order:
 *   utilities          errors, half-precision conversion, files, atomic output, threads
 *   checkpoint         safetensors (single file or sharded), memory-mapped and validated
 *   config and model   config.json, and the tensors each architecture needs
 *   entropy and plan   histogram entropy of weights, the three-tier rule, plan files, llama.cpp interop
 *   synthesized        random-weight checkpoints of real shapes, with planted structure
 *   packing            int8 and int4 groups, and a model packed per a precision assignment
 *   command line       the ewq commands
 * Formats and interfaces are defined in ewq.h.
 */
#define _GNU_SOURCE
#include "ewq.h"

#define JSON_IMPLEMENTATION
#include "json.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EWQ_VERSION "0.1.0"

/* ===================================================================================================
 * Utilities
 * =================================================================================================== */

int ewq_fail(ewq_err *e, const char *file, const char *fmt, ...) {
    int n = snprintf(e->msg, sizeof e->msg, "%s: ", file ? file : "ewq");
    if (n < 0 || (size_t)n >= sizeof e->msg) n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg + n, sizeof e->msg - (size_t)n, fmt, ap);
    va_end(ap);
    for (char *p = e->msg; *p; p++)   /* the message is one line, whatever the input contained */
        if (*p == '\n' || *p == '\r') *p = ' ';
    return -1;
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) { fprintf(stderr, "ewq: out of memory (%zu bytes)\n", n); exit(1); }
    return p;
}
static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) { fprintf(stderr, "ewq: out of memory (%zu x %zu bytes)\n", n, size); exit(1); }
    return p;
}
static void *xrealloc(void *p, size_t n) {
    p = realloc(p, n ? n : 1);
    if (!p) { fprintf(stderr, "ewq: out of memory (%zu bytes)\n", n); exit(1); }
    return p;
}
static char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}
static char *path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = xmalloc(a + b + 2);
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

/* --- half precision --- */

size_t ewq_dtype_size(ewq_dtype t) { return t == EWQ_F32 ? 4 : 2; }
const char *ewq_dtype_name(ewq_dtype t) { return t == EWQ_F32 ? "F32" : t == EWQ_F16 ? "F16" : "BF16"; }

static float f32_from_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t bits_from_f32(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

float ewq_bf16_to_f32(uint16_t h) { return f32_from_bits((uint32_t)h << 16); }

float ewq_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    if (exp == 0x1f) return f32_from_bits(sign | 0x7f800000u | (mant << 13));      /* inf, NaN */
    if (exp == 0) {                                                                 /* zero, subnormal */
        float v = (float)mant * 0x1p-24f;
        return sign ? -v : v;
    }
    return f32_from_bits(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t ewq_f32_to_bf16(float f) {
    uint32_t u = bits_from_f32(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);    /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1);                                                 /* nearest even */
    return (uint16_t)(u >> 16);
}

uint16_t ewq_f32_to_f16(float f) {
    uint32_t u = bits_from_f32(f), sign = (u >> 16) & 0x8000;
    float a = fabsf(f);
    if (a != a) return (uint16_t)(sign | 0x7e00);
    if (a >= 65520.0f) return (uint16_t)(sign | 0x7c00);   /* rounds past the largest half, 65504 */
    if (a < 0x1p-14f) {                                     /* subnormal: multiples of 2^-24 */
        float q = nearbyintf(a * 0x1p24f);                  /* default rounding: nearest even */
        return (uint16_t)(sign | (uint32_t)q);
    }
    uint32_t b = bits_from_f32(a);
    b += 0xfffu + ((b >> 13) & 1);                          /* round mantissa to 10 bits, nearest even */
    return (uint16_t)(sign | (((b >> 23) - 112) << 10) | ((b >> 13) & 0x3ff));
}

/* --- files --- */

/* Input files are opened with O_NONBLOCK so that a FIFO under a file's name is refused by the S_ISREG check
 * instead of blocking the open forever; for regular files the flag changes nothing. */
int ewq_read_file(const char *path, size_t max_bytes, char **out, size_t *len, ewq_err *err) {
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) return ewq_fail(err, path, "%s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) { close(fd); return ewq_fail(err, path, "%s", strerror(errno)); }
    if (S_ISDIR(st.st_mode)) { close(fd); return ewq_fail(err, path, "is a folder, expected a file"); }
    if (!S_ISREG(st.st_mode)) { close(fd); return ewq_fail(err, path, "is not a regular file"); }
    if ((uint64_t)st.st_size > max_bytes) {
        close(fd);
        return ewq_fail(err, path, "file is %lld bytes, more than the %zu-byte limit", (long long)st.st_size,
                        max_bytes);
    }
    size_t n = (size_t)st.st_size, got = 0;
    char *buf = xmalloc(n + 1);
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            free(buf);
            close(fd);
            return ewq_fail(err, path, "read failed: %s", r < 0 ? strerror(errno) : "file shrank while reading");
        }
        got += (size_t)r;
    }
    close(fd);
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}

/* Maps a whole regular file read-only. */
static int map_file(const char *path, ewq_mapped_file *mf, ewq_err *err) {
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) return ewq_fail(err, path, "%s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) { close(fd); return ewq_fail(err, path, "%s", strerror(errno)); }
    if (S_ISDIR(st.st_mode)) { close(fd); return ewq_fail(err, path, "is a folder, expected a file"); }
    if (!S_ISREG(st.st_mode)) { close(fd); return ewq_fail(err, path, "is not a regular file"); }
    if (st.st_size < 8) {
        close(fd);
        return ewq_fail(err, path, "file is %lld bytes, shorter than the 8-byte safetensors header length",
                        (long long)st.st_size);
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return ewq_fail(err, path, "mmap failed: %s", strerror(errno));
    mf->path = xstrdup(path);
    mf->map = p;
    mf->size = (size_t)st.st_size;
    return 0;
}

int ewq_out_open(ewq_outfile *o, const char *path, ewq_err *err) {
    size_t n = strlen(path) + 32;
    o->path = xstrdup(path);
    o->tmp = xmalloc(n);
    snprintf(o->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    o->f = fopen(o->tmp, "wb");
    if (!o->f) {
        ewq_fail(err, path, "cannot create: %s", strerror(errno));
        free(o->path);
        free(o->tmp);
        return -1;
    }
    return 0;
}

void ewq_out_abort(ewq_outfile *o) {
    if (o->f) fclose(o->f);
    remove(o->tmp);
    free(o->path);
    free(o->tmp);
    o->f = NULL;
}

int ewq_out_commit(ewq_outfile *o, ewq_err *err) {
    int bad = ferror(o->f) | fflush(o->f) | fsync(fileno(o->f));
    bad |= fclose(o->f);
    o->f = NULL;
    if (bad || rename(o->tmp, o->path) != 0) {
        ewq_fail(err, o->path, "write failed: %s", strerror(errno));
        ewq_out_abort(o);
        return -1;
    }
    free(o->path);
    free(o->tmp);
    return 0;
}

/* --- threads ---
 * Workers sleep on a condition variable between jobs; within a job every thread, the caller included,
 * takes indices from one atomic counter, so uneven work balances itself. */
static struct {
    int n;                           /* threads including the caller */
    pthread_t *workers;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    long job;                        /* incremented per job; workers run each job once */
    int active;                      /* workers still inside the current job */
    void (*fn)(void *, int);
    void *ctx;
    int n_items;
    atomic_int next;
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .done = PTHREAD_COND_INITIALIZER};

static void pool_drain(void) {
    for (int i; (i = atomic_fetch_add(&pool.next, 1)) < pool.n_items;) pool.fn(pool.ctx, i);
}

static void *pool_worker(void *arg) {
    (void)arg;
    long seen = 0;
    for (;;) {
        pthread_mutex_lock(&pool.mu);
        while (pool.job == seen) pthread_cond_wait(&pool.wake, &pool.mu);
        seen = pool.job;
        pthread_mutex_unlock(&pool.mu);
        pool_drain();
        pthread_mutex_lock(&pool.mu);
        if (--pool.active == 0) pthread_cond_signal(&pool.done);
        pthread_mutex_unlock(&pool.mu);
    }
    return NULL;
}

void ewq_threads_init(int n_threads) {
    if (pool.n) return;
    if (n_threads <= 0) n_threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (n_threads < 1) n_threads = 1;
    pool.n = n_threads;
    pool.workers = xcalloc((size_t)n_threads, sizeof(pthread_t));
    for (int i = 1; i < n_threads; i++)
        if (pthread_create(&pool.workers[i], NULL, pool_worker, NULL) != 0) { pool.n = i; break; }
}

int ewq_threads(void) { return pool.n ? pool.n : 1; }

void ewq_parallel(int n, void (*fn)(void *ctx, int i), void *ctx) {
    if (!pool.n) ewq_threads_init(0);
    if (pool.n == 1 || n <= 1) {
        for (int i = 0; i < n; i++) fn(ctx, i);
        return;
    }
    pthread_mutex_lock(&pool.mu);
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n_items = n;
    atomic_store(&pool.next, 0);
    pool.active = pool.n - 1;
    pool.job++;
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);
    pool_drain();
    pthread_mutex_lock(&pool.mu);
    while (pool.active > 0) pthread_cond_wait(&pool.done, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
}

/* ===================================================================================================
 * Checkpoint: safetensors
 * =================================================================================================== */

static int parse_dtype(const char *s, ewq_dtype *t) {
    if (!strcmp(s, "F32")) *t = EWQ_F32;
    else if (!strcmp(s, "F16")) *t = EWQ_F16;
    else if (!strcmp(s, "BF16")) *t = EWQ_BF16;
    else return -1;
    return 0;
}

/* A non-negative JSON integer that fits in int64. */
static int json_nonneg_int(const json_value *v, int64_t *out) {
    if (!v || v->type != JSON_NUMBER || !v->is_int || v->i < 0) return -1;
    *out = v->i;
    return 0;
}

static int cmp_tensor_name(const void *a, const void *b) {
    return strcmp(((const ewq_tensor *)a)->name, ((const ewq_tensor *)b)->name);
}

typedef struct { int64_t begin, end; const char *name; } byte_range;
static int cmp_range(const void *a, const void *b) {
    const byte_range *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

/* Checks one header entry and fills t (without name and data). */
static int parse_tensor_entry(const json_value *e, const char *path, const char *name, uint64_t data_start,
                              uint64_t data_size, ewq_tensor *t, int64_t *begin, ewq_err *err) {
    if (e->type != JSON_OBJECT) return ewq_fail(err, path, "tensor '%s': header entry is not an object", name);
    const json_value *dt = json_get(e, "dtype"), *sh = json_get(e, "shape"), *off = json_get(e, "data_offsets");
    if (!dt || dt->type != JSON_STRING) return ewq_fail(err, path, "tensor '%s': missing or non-string dtype", name);
    if (parse_dtype(dt->str, &t->dtype) != 0)
        return ewq_fail(err, path, "tensor '%s' has dtype '%s', which ewq does not support (BF16, F16, F32)",
                        name, dt->str);
    if (!sh || sh->type != JSON_ARRAY) return ewq_fail(err, path, "tensor '%s': missing or non-array shape", name);
    if (sh->len > EWQ_MAX_DIMS)
        return ewq_fail(err, path, "tensor '%s' has %u dimensions, more than %d", name, sh->len, EWQ_MAX_DIMS);
    size_t esize = ewq_dtype_size(t->dtype);
    int64_t numel = 1;
    t->ndim = (int)sh->len;
    for (uint32_t i = 0; i < sh->len; i++) {
        int64_t d;
        if (json_nonneg_int(&sh->kids[i], &d) != 0)
            return ewq_fail(err, path, "tensor '%s': shape[%u] is not a non-negative integer", name, i);
        if (d != 0 && numel > INT64_MAX / (int64_t)esize / d)
            return ewq_fail(err, path, "tensor '%s': shape overflows 64 bits", name);
        numel *= d;
        t->shape[i] = d;
    }
    if (!off || off->type != JSON_ARRAY || off->len != 2)
        return ewq_fail(err, path, "tensor '%s': data_offsets is not an array of two integers", name);
    int64_t b, en;
    if (json_nonneg_int(&off->kids[0], &b) != 0 || json_nonneg_int(&off->kids[1], &en) != 0)
        return ewq_fail(err, path, "tensor '%s': data_offsets are not non-negative integers", name);
    if (b > en || (uint64_t)en > data_size)
        return ewq_fail(err, path, "tensor '%s': data_offsets [%" PRId64 ", %" PRId64 "] lie outside the %" PRIu64
                        "-byte data buffer", name, b, en, data_size);
    if (en - b != numel * (int64_t)esize)
        return ewq_fail(err, path, "tensor '%s': data_offsets span %" PRId64 " bytes but shape and dtype need %"
                        PRId64, name, en - b, numel * (int64_t)esize);
    if ((data_start + (uint64_t)b) % esize != 0)
        return ewq_fail(err, path, "tensor '%s': data is not aligned to its %zu-byte element size", name, esize);
    t->numel = numel;
    t->nbytes = (size_t)(en - b);
    *begin = b;
    return 0;
}

int ewq_safetensors_parse(ewq_checkpoint *ck, const char *path, const uint8_t *buf, size_t size, int file_index,
                          ewq_err *err) {
    if (size < 8) return ewq_fail(err, path, "file is %zu bytes, shorter than the 8-byte header length", size);
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)buf[i] << (8 * i);
    if (hlen > EWQ_MAX_HEADER)
        return ewq_fail(err, path, "header length %" PRIu64 " exceeds the %u-byte limit", hlen, EWQ_MAX_HEADER);
    if (hlen > size - 8)
        return ewq_fail(err, path, "header length %" PRIu64 " runs past the end of the %zu-byte file", hlen, size);
    json_doc doc;
    char jerr[256];
    if (json_parse((const char *)buf + 8, (size_t)hlen, &doc, jerr, sizeof jerr) != 0)
        return ewq_fail(err, path, "header JSON: %s", jerr);
    const json_value *root = doc.root;
    int rc = 0;
    if (root->type != JSON_OBJECT) { rc = ewq_fail(err, path, "header is not a JSON object"); goto out; }

    uint64_t data_start = 8 + hlen, data_size = size - data_start;
    int first = ck->n_tensors, added = 0;
    ck->tensors = xrealloc(ck->tensors, sizeof(ewq_tensor) * ((size_t)first + root->len));
    byte_range *ranges = xmalloc(sizeof(byte_range) * root->len);
    for (uint32_t i = 0; i < root->len && rc == 0; i++) {
        const json_value *e = &root->kids[i];
        if (!strcmp(e->key, "__metadata__")) continue;
        if (e->key_len == 0 || strlen(e->key) != e->key_len) {
            rc = ewq_fail(err, path, "header has an empty tensor name or one containing a NUL byte");
            break;
        }
        ewq_tensor *t = &ck->tensors[first + added];
        memset(t, 0, sizeof *t);
        int64_t begin = 0;
        rc = parse_tensor_entry(e, path, e->key, data_start, data_size, t, &begin, err);
        if (rc) break;
        t->name = xstrdup(e->key);
        t->data = buf + data_start + begin;
        t->file = file_index;
        ranges[added] = (byte_range){begin, begin + (int64_t)t->nbytes, t->name};
        added++;
    }
    if (rc == 0) {   /* tensors must not share bytes: a writer bug or a crafted file */
        qsort(ranges, (size_t)added, sizeof *ranges, cmp_range);
        /* compare each range with the one reaching furthest so far, not just its neighbour: an empty
         * tensor between two overlapping ones must not hide the overlap */
        const byte_range *reach = NULL;
        for (int i = 0; i < added && rc == 0; i++) {
            if (ranges[i].begin == ranges[i].end) continue;
            if (reach && ranges[i].begin < reach->end)
                rc = ewq_fail(err, path, "tensors '%s' and '%s' overlap in the data buffer", reach->name,
                              ranges[i].name);
            if (!reach || ranges[i].end > reach->end) reach = &ranges[i];
        }
    }
    free(ranges);
    if (rc) {
        for (int i = 0; i < added; i++) free(ck->tensors[first + i].name);
    } else {
        ck->n_tensors = first + added;
    }
out:
    json_free(&doc);
    return rc;
}

/* A shard named in an index must be a plain file name in the model folder. */
static int plain_file_name(const char *s) {
    return s[0] && strcmp(s, ".") && strcmp(s, "..") && !strchr(s, '/');
}

static int add_file(ewq_checkpoint *ck, const char *path, ewq_err *err) {
    ewq_mapped_file mf;
    if (map_file(path, &mf, err) != 0) return -1;
    ck->files = xrealloc(ck->files, sizeof(ewq_mapped_file) * ((size_t)ck->n_files + 1));
    ck->files[ck->n_files] = mf;
    if (ewq_safetensors_parse(ck, path, mf.map, mf.size, ck->n_files, err) != 0) {
        munmap((void *)mf.map, mf.size);
        free(mf.path);
        return -1;
    }
    ck->n_files++;
    return 0;
}

static int open_sharded(ewq_checkpoint *ck, const char *dir, const char *index_path, ewq_err *err) {
    char *text;
    size_t len;
    if (ewq_read_file(index_path, EWQ_MAX_HEADER, &text, &len, err) != 0) return -1;
    json_doc doc;
    char jerr[256];
    if (json_parse(text, len, &doc, jerr, sizeof jerr) != 0) {
        free(text);
        return ewq_fail(err, index_path, "%s", jerr);
    }
    int rc = 0;
    const json_value *map = json_get(doc.root, "weight_map");
    if (!map || map->type != JSON_OBJECT || map->len == 0) {
        rc = ewq_fail(err, index_path, "missing or empty \"weight_map\" object");
        goto out;
    }
    for (uint32_t i = 0; i < map->len && rc == 0; i++) {
        const json_value *e = &map->kids[i];
        if (e->type != JSON_STRING || !plain_file_name(e->str) || strlen(e->str) != e->len) {
            rc = ewq_fail(err, index_path, "weight_map entry '%s' does not name a file in the model folder", e->key);
            break;
        }
        int seen = 0;   /* map each shard once, in order of first mention */
        for (uint32_t j = 0; j < i && !seen; j++) seen = !strcmp(map->kids[j].str, e->str);
        if (seen) continue;
        char *p = path_join(dir, e->str);
        rc = add_file(ck, p, err);
        free(p);
    }
    if (rc) goto out;
    qsort(ck->tensors, (size_t)ck->n_tensors, sizeof(ewq_tensor), cmp_tensor_name);
    for (uint32_t i = 0; i < map->len; i++) {
        const json_value *e = &map->kids[i];
        const ewq_tensor *t = ewq_find_tensor(ck, e->key);
        const char *base = t ? strrchr(ck->files[t->file].path, '/') + 1 : NULL;
        if (!t || strcmp(base, e->str)) {
            rc = ewq_fail(err, index_path, "tensor '%s' is listed in shard '%s' but is not in it", e->key, e->str);
            break;
        }
    }
out:
    json_free(&doc);
    free(text);
    return rc;
}

int ewq_checkpoint_open(ewq_checkpoint *ck, const char *dir, ewq_err *err) {
    memset(ck, 0, sizeof *ck);
    char *index = path_join(dir, "model.safetensors.index.json");
    char *single = path_join(dir, "model.safetensors");
    int sharded = access(index, F_OK) == 0;
    int rc = sharded ? open_sharded(ck, dir, index, err) : add_file(ck, single, err);
    ck->path = xstrdup(sharded ? index : single);
    if (rc == 0) {
        qsort(ck->tensors, (size_t)ck->n_tensors, sizeof(ewq_tensor), cmp_tensor_name);
        for (int i = 1; i < ck->n_tensors && rc == 0; i++)
            if (!strcmp(ck->tensors[i].name, ck->tensors[i - 1].name))
                rc = ewq_fail(err, ck->files[ck->tensors[i].file].path, "tensor '%s' appears twice",
                              ck->tensors[i].name);
    }
    free(index);
    free(single);
    if (rc) ewq_checkpoint_close(ck);
    return rc;
}

void ewq_checkpoint_close(ewq_checkpoint *ck) {
    for (int i = 0; i < ck->n_tensors; i++) free(ck->tensors[i].name);
    for (int i = 0; i < ck->n_files; i++) {
        munmap((void *)ck->files[i].map, ck->files[i].size);
        free(ck->files[i].path);
    }
    free(ck->tensors);
    free(ck->files);
    free(ck->path);
    memset(ck, 0, sizeof *ck);
}

const ewq_tensor *ewq_find_tensor(const ewq_checkpoint *ck, const char *name) {
    ewq_tensor key = {.name = (char *)name};
    return bsearch(&key, ck->tensors, (size_t)ck->n_tensors, sizeof(ewq_tensor), cmp_tensor_name);
}

/* ===================================================================================================
 * Config and model
 * =================================================================================================== */

/* Hyperparameters are bounded so that every product ewq forms from them fits comfortably in 64 bits. */
#define CFG_MAX_DIM (1 << 24)

static int cfg_int(const json_value *root, const char *key, int required, int dflt, int *out, const char *path,
                   ewq_err *err) {
    const json_value *v = json_get(root, key);
    if (!v || v->type == JSON_NULL) {
        if (required) return ewq_fail(err, path, "missing key \"%s\"", key);
        *out = dflt;
        return 0;
    }
    if (v->type != JSON_NUMBER || !v->is_int || v->i <= 0 || v->i > CFG_MAX_DIM)
        return ewq_fail(err, path, "\"%s\" must be an integer from 1 to %d", key, CFG_MAX_DIM);
    *out = (int)v->i;
    return 0;
}

static int cfg_num(const json_value *obj, const char *key, int required, double dflt, double *out, const char *path,
                   ewq_err *err) {
    const json_value *v = json_get(obj, key);
    if (!v || v->type == JSON_NULL) {
        if (required) return ewq_fail(err, path, "missing key \"%s\"", key);
        *out = dflt;
        return 0;
    }
    if (v->type != JSON_NUMBER || !(v->f > 0) || !isfinite(v->f))
        return ewq_fail(err, path, "\"%s\" must be a positive number", key);
    *out = v->f;
    return 0;
}

static int cfg_bool(const json_value *root, const char *key, int dflt, int *out, const char *path, ewq_err *err) {
    const json_value *v = json_get(root, key);
    if (!v || v->type == JSON_NULL) *out = dflt;
    else if (v->type == JSON_TRUE || v->type == JSON_FALSE) *out = v->type == JSON_TRUE;
    else return ewq_fail(err, path, "\"%s\" must be true or false", key);
    return 0;
}

/* A token id: absent or null gives -1. */
static int cfg_token(const json_value *v, int vocab, int *out, const char *path, const char *key, ewq_err *err) {
    if (!v || v->type == JSON_NULL) { *out = -1; return 0; }
    if (v->type != JSON_NUMBER || !v->is_int || v->i < 0 || v->i >= vocab)
        return ewq_fail(err, path, "\"%s\" must be a token id below vocab_size %d", key, vocab);
    *out = (int)v->i;
    return 0;
}

static int parse_rope(ewq_config *c, const json_value *root, const char *path, ewq_err *err) {
    const json_value *params = json_get(root, "rope_parameters");   /* newer transformers nest them here */
    const json_value *theta_src = json_get(root, "rope_theta") ? root : params;
    if (cfg_num(theta_src, "rope_theta", 0, 10000.0, &c->rope_theta, path, err)) return -1;
    const json_value *s = json_get(root, "rope_scaling");
    if (!s || s->type == JSON_NULL) s = params;
    if (!s || s->type == JSON_NULL) return 0;
    if (s->type != JSON_OBJECT) return ewq_fail(err, path, "\"rope_scaling\" must be an object or null");
    const json_value *type = json_get(s, "rope_type");
    if (!type) type = json_get(s, "type");
    if (!type || type->type != JSON_STRING) return ewq_fail(err, path, "\"rope_scaling\" has no rope_type");
    if (!strcmp(type->str, "default")) return 0;
    if (strcmp(type->str, "llama3"))
        return ewq_fail(err, path, "rope_scaling type '%s' is not supported (llama3 or none)", type->str);
    c->rope_llama3 = 1;
    double orig;
    if (cfg_num(s, "factor", 1, 0, &c->rope_factor, path, err) ||
        cfg_num(s, "low_freq_factor", 1, 0, &c->rope_low_freq_factor, path, err) ||
        cfg_num(s, "high_freq_factor", 1, 0, &c->rope_high_freq_factor, path, err) ||
        cfg_num(s, "original_max_position_embeddings", 1, 0, &orig, path, err))
        return -1;
    if (c->rope_high_freq_factor <= c->rope_low_freq_factor)
        return ewq_fail(err, path, "rope_scaling high_freq_factor must exceed low_freq_factor");
    if (orig > CFG_MAX_DIM || orig != floor(orig))
        return ewq_fail(err, path, "rope_scaling original_max_position_embeddings must be an integer");
    c->rope_orig_max_pos = (int)orig;
    return 0;
}

static const struct { const char *name; ewq_arch arch; } archs[] = {
    {"LlamaForCausalLM", EWQ_ARCH_LLAMA},
    {"MistralForCausalLM", EWQ_ARCH_MISTRAL},
    {"Qwen2ForCausalLM", EWQ_ARCH_QWEN2},
    {"Qwen3ForCausalLM", EWQ_ARCH_QWEN3},
};

int ewq_config_parse(ewq_config *c, const char *path, const char *text, size_t len, ewq_err *err) {
    memset(c, 0, sizeof *c);
    json_doc doc;
    char jerr[256];
    if (json_parse(text, len, &doc, jerr, sizeof jerr) != 0) return ewq_fail(err, path, "%s", jerr);
    const json_value *root = doc.root;
    int rc = -1;
    if (root->type != JSON_OBJECT) { ewq_fail(err, path, "not a JSON object"); goto out; }

    const json_value *a = json_get(root, "architectures");
    if (!a || a->type != JSON_ARRAY || a->len == 0 || a->kids[0].type != JSON_STRING) {
        ewq_fail(err, path, "missing key \"architectures\" (a list naming the model class)");
        goto out;
    }
    c->arch_name = NULL;
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++)
        if (!strcmp(a->kids[0].str, archs[i].name)) c->arch = archs[i].arch, c->arch_name = archs[i].name;
    if (!c->arch_name) {
        ewq_fail(err, path, "unknown architecture '%s' (supported: LlamaForCausalLM, MistralForCausalLM, "
                 "Qwen2ForCausalLM, Qwen3ForCausalLM)", a->kids[0].str);
        goto out;
    }
    const json_value *act = json_get(root, "hidden_act");
    if (act && act->type == JSON_STRING && strcmp(act->str, "silu")) {
        ewq_fail(err, path, "hidden_act '%s' is not supported (silu)", act->str);
        goto out;
    }
    int attention_bias, mlp_bias;
    if (cfg_int(root, "hidden_size", 1, 0, &c->hidden, path, err) ||
        cfg_int(root, "num_hidden_layers", 1, 0, &c->n_layers, path, err) ||
        cfg_int(root, "num_attention_heads", 1, 0, &c->n_heads, path, err) ||
        cfg_int(root, "num_key_value_heads", 0, c->n_heads, &c->n_kv_heads, path, err) ||
        cfg_int(root, "intermediate_size", 1, 0, &c->intermediate, path, err) ||
        cfg_int(root, "vocab_size", 1, 0, &c->vocab, path, err) ||
        cfg_int(root, "max_position_embeddings", 0, 0, &c->max_pos, path, err) ||
        cfg_int(root, "head_dim", 0, 0, &c->head_dim, path, err) ||
        cfg_num(root, "rms_norm_eps", 0, 1e-6, &c->rms_eps, path, err) ||
        cfg_bool(root, "tie_word_embeddings", 0, &c->tie_embeddings, path, err) ||
        cfg_bool(root, "attention_bias", 0, &attention_bias, path, err) ||
        cfg_bool(root, "mlp_bias", 0, &mlp_bias, path, err) ||
        parse_rope(c, root, path, err))
        goto out;
    if (c->n_heads % c->n_kv_heads) {
        ewq_fail(err, path, "num_attention_heads %d is not a multiple of num_key_value_heads %d", c->n_heads,
                 c->n_kv_heads);
        goto out;
    }
    if (!c->head_dim) {
        if (c->hidden % c->n_heads) {
            ewq_fail(err, path, "hidden_size %d is not a multiple of num_attention_heads %d", c->hidden, c->n_heads);
            goto out;
        }
        c->head_dim = c->hidden / c->n_heads;
    }
    if (c->head_dim % 2) { ewq_fail(err, path, "head_dim %d must be even for RoPE", c->head_dim); goto out; }
    if (attention_bias || mlp_bias) {   /* Qwen2's q/k/v biases are implied by the architecture, not this key */
        ewq_fail(err, path, "%s is not supported", attention_bias ? "attention_bias" : "mlp_bias");
        goto out;
    }
    c->qkv_bias = c->arch == EWQ_ARCH_QWEN2;
    c->qk_norm = c->arch == EWQ_ARCH_QWEN3;

    /* Qwen configs carry a sliding_window that is off unless use_sliding_window is true. */
    int use_window = c->arch == EWQ_ARCH_MISTRAL;
    if (c->arch == EWQ_ARCH_QWEN2 || c->arch == EWQ_ARCH_QWEN3)
        if (cfg_bool(root, "use_sliding_window", 0, &use_window, path, err)) goto out;
    if (use_window && cfg_int(root, "sliding_window", 0, 0, &c->sliding_window, path, err)) goto out;

    if (cfg_token(json_get(root, "bos_token_id"), c->vocab, &c->bos_id, path, "bos_token_id", err)) goto out;
    const json_value *eos = json_get(root, "eos_token_id");
    if (eos && eos->type == JSON_ARRAY) {
        if (eos->len > sizeof c->eos_ids / sizeof c->eos_ids[0]) {
            ewq_fail(err, path, "\"eos_token_id\" lists %u ids, more than 8", eos->len);
            goto out;
        }
        for (uint32_t i = 0; i < eos->len; i++)
            if (cfg_token(&eos->kids[i], c->vocab, &c->eos_ids[c->n_eos++], path, "eos_token_id", err)) goto out;
    } else {
        int id;
        if (cfg_token(eos, c->vocab, &id, path, "eos_token_id", err)) goto out;
        if (id >= 0) c->eos_ids[c->n_eos++] = id;
    }
    rc = 0;
out:
    json_free(&doc);
    return rc;
}

const char *const ewq_linear_names[EWQ_N_LINEAR] = {
    "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
    "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj",
};

/* Finds a tensor and checks its shape ([d0] when d1 < 0, else [d0, d1]); names the first problem. */
static int need_tensor(const ewq_model *m, const char *where, const char *name, int64_t d0, int64_t d1,
                       const ewq_tensor **out, ewq_err *err) {
    const ewq_tensor *t = ewq_find_tensor(&m->ck, name);
    if (!t) return ewq_fail(err, where, "tensor '%s' is missing", name);
    int ndim = d1 < 0 ? 1 : 2;
    if (t->ndim != ndim || t->shape[0] != d0 || (ndim == 2 && t->shape[1] != d1)) {
        char got[128] = "", want[64];
        for (int i = 0, n = 0; i < t->ndim && n < (int)sizeof got - 24; i++)
            n += snprintf(got + n, sizeof got - (size_t)n, "%s%" PRId64, i ? ", " : "", t->shape[i]);
        if (ndim == 1) snprintf(want, sizeof want, "%" PRId64, d0);
        else snprintf(want, sizeof want, "%" PRId64 ", %" PRId64, d0, d1);
        return ewq_fail(err, where, "tensor '%s' has shape [%s], expected [%s]", name, got, want);
    }
    *out = t;
    return 0;
}

static int bind_tensors(ewq_model *m, const char *where, ewq_err *err) {
    const ewq_config *c = &m->cfg;
    int64_t h = c->hidden, q = (int64_t)c->n_heads * c->head_dim, kv = (int64_t)c->n_kv_heads * c->head_dim;
    int64_t rows[EWQ_N_LINEAR] = {q, kv, kv, h, c->intermediate, c->intermediate, h};
    int64_t cols[EWQ_N_LINEAR] = {h, h, h, q, h, h, c->intermediate};
    char name[256];
    if (need_tensor(m, where, "model.embed_tokens.weight", c->vocab, h, &m->embed, err) ||
        need_tensor(m, where, "model.norm.weight", h, -1, &m->final_norm, err))
        return -1;
    if (c->tie_embeddings) m->lm_head = m->embed;
    else if (need_tensor(m, where, "lm_head.weight", c->vocab, h, &m->lm_head, err)) return -1;
    m->blocks = xcalloc((size_t)c->n_layers, sizeof(ewq_block));
    for (int l = 0; l < c->n_layers; l++) {
        ewq_block *b = &m->blocks[l];
#define NEED(suffix, d0, d1, dst)                                               \
    (snprintf(name, sizeof name, "model.layers.%d.%s", l, suffix),              \
     need_tensor(m, where, name, d0, d1, dst, err))
        if (NEED("input_layernorm.weight", h, -1, &b->attn_norm) ||
            NEED("post_attention_layernorm.weight", h, -1, &b->ffn_norm))
            return -1;
        for (int k = 0; k < EWQ_N_LINEAR; k++) {
            char suffix[64];
            snprintf(suffix, sizeof suffix, "%s.weight", ewq_linear_names[k]);
            if (NEED(suffix, rows[k], cols[k], &b->linear[k])) return -1;
        }
        if (c->qkv_bias)
            for (int k = 0; k < 3; k++) {
                char suffix[64];
                snprintf(suffix, sizeof suffix, "%s.bias", ewq_linear_names[k]);
                if (NEED(suffix, rows[k], -1, &b->bias[k])) return -1;
            }
        if (c->qk_norm &&
            (NEED("self_attn.q_norm.weight", c->head_dim, -1, &b->q_norm) ||
             NEED("self_attn.k_norm.weight", c->head_dim, -1, &b->k_norm)))
            return -1;
#undef NEED
    }
    return 0;
}

int ewq_model_open(ewq_model *m, const char *dir, ewq_err *err) {
    memset(m, 0, sizeof *m);
    struct stat st;
    if (stat(dir, &st) != 0) return ewq_fail(err, dir, "%s", strerror(errno));
    if (!S_ISDIR(st.st_mode)) return ewq_fail(err, dir, "is not a folder (expected a Hugging Face model folder)");
    char *cfg_path = path_join(dir, "config.json"), *text = NULL;
    size_t len;
    int rc = ewq_read_file(cfg_path, 1 << 20, &text, &len, err);
    if (rc == 0) rc = ewq_config_parse(&m->cfg, cfg_path, text, len, err);
    free(text);
    free(cfg_path);
    if (rc) return -1;
    if (ewq_checkpoint_open(&m->ck, dir, err)) return -1;
    m->dir = xstrdup(dir);
    rc = bind_tensors(m, m->ck.path, err);
    if (rc) ewq_model_close(m);
    return rc;
}

void ewq_model_close(ewq_model *m) {
    ewq_checkpoint_close(&m->ck);
    free(m->blocks);
    free(m->dir);
    memset(m, 0, sizeof *m);
}

#ifndef EWQ_CUDA
int ewq_cuda_describe(char *buf, size_t n) {
    snprintf(buf, n, "not built in (build with nvcc on the PATH, or make CUDA=1)");
    return -1;
}
#endif

/* ===================================================================================================
 * Entropy and plan
 * =================================================================================================== */

double ewq_counts_entropy(const uint64_t *counts, int bins) {
    uint64_t n = 0;
    for (int i = 0; i < bins; i++) n += counts[i];
    double h = 0;
    for (int i = 0; i < bins && n; i++)
        if (counts[i]) {
            double p = (double)counts[i] / (double)n;
            h -= p * log2(p);
        }
    return h;
}

double ewq_weighted_entropy(const double *h, const int64_t *params, int n) {
    double sum = 0, weight = 0;
    for (int i = 0; i < n; i++) sum += h[i] * (double)params[i], weight += (double)params[i];
    return weight > 0 ? sum / weight : 0;
}

/* bin(x) of ewq.h: floor(d / w * B) in double, the maximum clamped into the last bin (w > 0). */
static int bin_of(float x, double lo, double w, int bins) {
    int b = (int)(((double)x - lo) / w * bins);
    return b < bins ? b : bins - 1;
}

static int nonfinite(ewq_err *err, const ewq_tensor *t, float x) {
    return ewq_fail(err, t->name, "contains %s values, so its entropy is undefined", isnan(x) ? "NaN" : "infinite");
}

/* Counts the 65,536 bit patterns of n 16-bit values. Two interleaved tables, so that runs of one value
 * (common: weights cluster near zero) do not serialize on a single counter; 32-bit counters, flushed
 * before they can overflow. */
static void count_patterns(const uint16_t *v, int64_t n, uint64_t *out) {
    uint32_t *c = xcalloc(2 * 65536, sizeof(uint32_t));
    const int64_t chunk = (int64_t)1 << 31;
    for (int64_t start = 0; start < n; start += chunk) {
        int64_t end = n - start < chunk ? n : start + chunk, i = start;
        for (; i + 2 <= end; i += 2) c[v[i]]++, c[65536 + v[i + 1]]++;
        if (i < end) c[v[i]]++;
        for (int p = 0; p < 65536; p++) out[p] += (uint64_t)c[p] + c[65536 + p];
        memset(c, 0, 2 * 65536 * sizeof(uint32_t));
    }
    free(c);
}

static int entropy_16bit(const ewq_tensor *t, uint64_t *counts, int bins, ewq_err *err) {
    uint64_t *patterns = xcalloc(65536, sizeof(uint64_t));
    count_patterns(t->data, t->numel, patterns);
    float (*to_f32)(uint16_t) = t->dtype == EWQ_BF16 ? ewq_bf16_to_f32 : ewq_f16_to_f32;
    float lo = INFINITY, hi = -INFINITY;
    for (int p = 0; p < 65536; p++) {
        if (!patterns[p]) continue;
        float x = to_f32((uint16_t)p);
        if (!isfinite(x)) { free(patterns); return nonfinite(err, t, x); }
        lo = x < lo ? x : lo;
        hi = x > hi ? x : hi;
    }
    double w = (double)hi - (double)lo;
    for (int p = 0; p < 65536; p++)
        if (patterns[p]) counts[w > 0 ? bin_of(to_f32((uint16_t)p), lo, w, bins) : 0] += patterns[p];
    free(patterns);
    return 0;
}

static int entropy_f32(const ewq_tensor *t, uint64_t *counts, int bins, ewq_err *err) {
    const float *v = t->data;
    float lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < t->numel; i++) {
        if (!isfinite(v[i])) return nonfinite(err, t, v[i]);
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    double w = (double)hi - (double)lo;
    for (int64_t i = 0; i < t->numel; i++) counts[w > 0 ? bin_of(v[i], lo, w, bins) : 0]++;
    return 0;
}

int ewq_tensor_entropy(const ewq_tensor *t, int bins, double *bits, ewq_err *err) {
    uint64_t *counts = xcalloc((size_t)bins, sizeof(uint64_t));
    int rc = t->dtype == EWQ_F32 ? entropy_f32(t, counts, bins, err) : entropy_16bit(t, counts, bins, err);
    if (rc == 0) *bits = ewq_counts_entropy(counts, bins);
    free(counts);
    return rc;
}

void ewq_apply_rule(const double *h, int n, double factor, ewq_tier *tiers, ewq_rule *out) {
    double sum = 0, lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++) sum += h[i], lo = fmin(lo, h[i]), hi = fmax(hi, h[i]);
    double mean = n ? sum / n : 0, var = 0;
    for (int i = 0; i < n; i++) var += (h[i] - mean) * (h[i] - mean);
    double std = n && hi > lo ? sqrt(var / n) : 0;
    *out = (ewq_rule){factor, mean, std, mean - factor * std};
    for (int i = 0; i < n; i++)
        tiers[i] = std == 0 || h[i] >= mean ? EWQ_RAW : h[i] >= out->threshold ? EWQ_INT8 : EWQ_INT4;
}


uint64_t ewq_weight_bytes(ewq_tier t, ewq_dtype raw_dtype, int64_t rows, int64_t cols) {
    uint64_t r = (uint64_t)rows, c = (uint64_t)cols, groups = (c + EWQ_GROUP - 1) / EWQ_GROUP;
    if (t == EWQ_INT8) return r * (c + 2 * groups);
    if (t == EWQ_INT4) return r * ((c + 1) / 2 + 4 * groups);
    return r * c * ewq_dtype_size(raw_dtype);
}

/* --- fingerprint --- */

static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
    for (const uint8_t *b = p; n--; b++) h = (h ^ *b) * 0x100000001b3ull;
    return h;
}
static uint64_t fnv1a_u64(uint64_t h, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++) h = (h ^ ((v >> (8 * i)) & 0xff)) * 0x100000001b3ull;
    return h;
}

uint64_t ewq_fingerprint(const ewq_checkpoint *ck) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < ck->n_tensors; i++) {   /* ck->tensors is sorted by name (strcmp: byte-wise) */
        const ewq_tensor *t = &ck->tensors[i];
        const char *dt = ewq_dtype_name(t->dtype);
        h = fnv1a(h, t->name, strlen(t->name) + 1);
        h = fnv1a(h, dt, strlen(dt) + 1);
        h = fnv1a_u64(h, (uint64_t)t->ndim, 4);
        for (int d = 0; d < t->ndim; d++) h = fnv1a_u64(h, (uint64_t)t->shape[d], 8);
        size_t k = t->nbytes < 64 ? t->nbytes : 64;
        h = fnv1a(h, t->data, k);
        h = fnv1a(h, (const uint8_t *)t->data + t->nbytes - k, k);
    }
    return h;
}

/* --- analysis: the entropy of every linear weight, across threads, largest tensors first --- */

typedef struct { const ewq_tensor *t; int slot; } entropy_item;   /* slot: l * EWQ_N_LINEAR + k */

typedef struct {
    entropy_item *items;
    double *out;
    int bins, failed;
    ewq_err err;
    pthread_mutex_t mu;
    atomic_llong bytes_done;
    long long bytes_total;
    int progress;                  /* stderr is a terminal */
} entropy_job;

static void entropy_one(void *ctx, int i) {
    entropy_job *j = ctx;
    const ewq_tensor *t = j->items[i].t;
    ewq_err err;
    if (ewq_tensor_entropy(t, j->bins, &j->out[j->items[i].slot], &err) != 0) {
        pthread_mutex_lock(&j->mu);
        if (!j->failed) j->failed = 1, j->err = err;
        pthread_mutex_unlock(&j->mu);
    }
    long long n = (long long)t->nbytes, before = atomic_fetch_add(&j->bytes_done, n);
    if (j->progress && (before + n) * 20 / j->bytes_total != before * 20 / j->bytes_total)
        fprintf(stderr, "\rentropy: %3lld%%", (before + n) * 100 / j->bytes_total);
}

static int cmp_bigger_first(const void *a, const void *b) {
    size_t x = ((const entropy_item *)a)->t->nbytes, y = ((const entropy_item *)b)->t->nbytes;
    return (x < y) - (x > y);
}

static double seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Fills h[l * EWQ_N_LINEAR + k] with the entropy of block l's linear weight k. Ends with one line on
 * stderr: bytes, time and throughput (what `make bench` reads). */
static int model_entropy(const ewq_model *m, int bins, double *h, ewq_err *err) {
    int n = m->cfg.n_layers * EWQ_N_LINEAR;
    entropy_job j = {.items = xmalloc(sizeof(entropy_item) * (size_t)n), .out = h, .bins = bins,
                     .progress = isatty(2)};
    pthread_mutex_init(&j.mu, NULL);
    for (int i = 0; i < n; i++) {
        j.items[i] = (entropy_item){m->blocks[i / EWQ_N_LINEAR].linear[i % EWQ_N_LINEAR], i};
        j.bytes_total += (long long)j.items[i].t->nbytes;
    }
    qsort(j.items, (size_t)n, sizeof(entropy_item), cmp_bigger_first);
    double t0 = seconds_now();
    ewq_parallel(n, entropy_one, &j);
    double dt = seconds_now() - t0;
    if (j.progress) fputc('\n', stderr);
    pthread_mutex_destroy(&j.mu);
    free(j.items);
    if (j.failed) return ewq_fail(err, m->ck.path, "tensor %s", j.err.msg);
    fprintf(stderr, "entropy: %d tensors, %.3f GB in %.3f s (%.2f GB/s, %d threads)\n", n, j.bytes_total / 1e9,
            dt, dt > 0 ? j.bytes_total / 1e9 / dt : 0.0, ewq_threads());
    return 0;
}

/* --- the plan --- */

int ewq_plan_make(const ewq_model *m, int bins, int by_tensor, double factor, ewq_plan *p, ewq_err *err) {
    int L = m->cfg.n_layers, n = L * EWQ_N_LINEAR;
    memset(p, 0, sizeof *p);
    p->n_layers = L;
    p->bins = bins;
    p->by_tensor = by_tensor;
    p->tensor_entropy = xcalloc((size_t)n, sizeof(double));
    p->block_entropy = xcalloc((size_t)L, sizeof(double));
    p->block_params = xcalloc((size_t)L, sizeof(int64_t));
    p->tiers = (ewq_assignment){L, xcalloc((size_t)n, sizeof(ewq_tier)), EWQ_RAW, EWQ_RAW};
    if (model_entropy(m, bins, p->tensor_entropy, err) != 0) {
        ewq_plan_free(p);
        return -1;
    }
    for (int l = 0; l < L; l++) {
        int64_t params[EWQ_N_LINEAR];
        for (int k = 0; k < EWQ_N_LINEAR; k++) params[k] = m->blocks[l].linear[k]->numel;
        for (int k = 0; k < EWQ_N_LINEAR; k++) p->block_params[l] += params[k];
        p->block_entropy[l] = ewq_weighted_entropy(&p->tensor_entropy[l * EWQ_N_LINEAR], params, EWQ_N_LINEAR);
    }
    if (by_tensor) {
        ewq_apply_rule(p->tensor_entropy, n, factor, p->tiers.linear, &p->rule);
    } else {
        ewq_tier *block_tiers = xmalloc(sizeof(ewq_tier) * (size_t)L);
        ewq_apply_rule(p->block_entropy, L, factor, block_tiers, &p->rule);
        for (int i = 0; i < n; i++) p->tiers.linear[i] = block_tiers[i / EWQ_N_LINEAR];
        free(block_tiers);
    }
    p->fingerprint = ewq_fingerprint(&m->ck);
    return 0;
}

void ewq_plan_free(ewq_plan *p) {
    free(p->tensor_entropy);
    free(p->block_entropy);
    free(p->block_params);
    ewq_assignment_free(&p->tiers);
    memset(p, 0, sizeof *p);
}

/* Parameters and bytes of a set of tensors, raw and as assigned. */
typedef struct { int64_t params; uint64_t raw, packed; } size_total;

static void count_tensor(size_total *s, const ewq_tensor *t, ewq_tier tier) {
    if (!t) return;
    s->params += t->numel;
    s->raw += t->nbytes;
    s->packed += t->ndim == 2 ? ewq_weight_bytes(tier, t->dtype, t->shape[0], t->shape[1]) : t->nbytes;
}

/* The linear weights of the blocks, and every tensor the model uses. */
static void plan_sizes(const ewq_model *m, const ewq_assignment *a, size_total *linear, size_total *model) {
    *linear = *model = (size_total){0, 0, 0};
    count_tensor(model, m->embed, a->embed);
    count_tensor(model, m->final_norm, EWQ_RAW);
    if (!m->cfg.tie_embeddings) count_tensor(model, m->lm_head, a->lm_head);
    for (int l = 0; l < m->cfg.n_layers; l++) {
        const ewq_block *b = &m->blocks[l];
        for (int k = 0; k < EWQ_N_LINEAR; k++) {
            count_tensor(linear, b->linear[k], a->linear[l * EWQ_N_LINEAR + k]);
            count_tensor(model, b->linear[k], a->linear[l * EWQ_N_LINEAR + k]);
        }
        const ewq_tensor *small[] = {b->bias[0], b->bias[1], b->bias[2], b->attn_norm, b->ffn_norm, b->q_norm, b->k_norm};
        for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) count_tensor(model, small[i], EWQ_RAW);
    }
}

static void print_json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", f);
        else if (*p == '\t') fputs("\\t", f);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

static void print_size_json(FILE *f, const char *key, const size_total *s) {
    fprintf(f, "    \"%s\": {\"parameters\": %" PRId64 ", \"raw_bytes\": %" PRIu64 ", \"packed_bytes\": %" PRIu64
               ", \"raw_bits_per_weight\": %.17g, \"packed_bits_per_weight\": %.17g}",
            key, s->params, s->raw, s->packed, s->params ? 8.0 * s->raw / s->params : 0.0,
            s->params ? 8.0 * s->packed / s->params : 0.0);
}

void ewq_plan_print(FILE *f, const ewq_plan *p, const ewq_model *m) {
    const ewq_assignment *a = &p->tiers;
    fprintf(f, "{\n  \"format\": \"ewq-plan\",\n  \"version\": 1,\n  \"model\": {\"path\": ");
    print_json_string(f, m->dir);
    fprintf(f, ", \"architecture\": \"%s\", \"layers\": %d, \"fingerprint\": \"%016" PRIx64 "\"},\n",
            m->cfg.arch_name, p->n_layers, p->fingerprint);
    fprintf(f, "  \"method\": {\"granularity\": \"%s\", \"bins\": %d, \"weighting\": \"parameters\", "
               "\"factor\": %.17g, \"mean\": %.17g, \"std\": %.17g, \"threshold\": %.17g, \"group_size\": %d},\n",
            p->by_tensor ? "tensor" : "block", p->bins, p->rule.factor, p->rule.mean, p->rule.std, p->rule.threshold,
            EWQ_GROUP);
    fprintf(f, "  \"blocks\": [");
    int tensors_per_tier[3] = {0}, blocks_per_tier[3] = {0};
    for (int l = 0; l < p->n_layers; l++) {
        fprintf(f, "%s\n    {\"index\": %d, \"entropy\": %.17g, \"parameters\": %" PRId64, l ? "," : "", l,
                p->block_entropy[l], p->block_params[l]);
        if (!p->by_tensor) {
            fprintf(f, ", \"tier\": \"%s\"", ewq_tier_name(a->linear[l * EWQ_N_LINEAR]));
            blocks_per_tier[a->linear[l * EWQ_N_LINEAR]]++;
        }
        fprintf(f, ", \"tensors\": [");
        for (int k = 0; k < EWQ_N_LINEAR; k++) {
            const ewq_tensor *t = m->blocks[l].linear[k];
            ewq_tier tier = a->linear[l * EWQ_N_LINEAR + k];
            tensors_per_tier[tier]++;
            fprintf(f, "%s\n      {\"name\": ", k ? "," : "");
            print_json_string(f, t->name);
            fprintf(f, ", \"shape\": [%" PRId64 ", %" PRId64 "], \"entropy\": %.17g, \"tier\": \"%s\"}", t->shape[0],
                    t->shape[1], p->tensor_entropy[l * EWQ_N_LINEAR + k], ewq_tier_name(tier));
        }
        fprintf(f, "]}");
    }
    fprintf(f, "],\n  \"outside_blocks\": {\"embed_tokens\": \"%s\", \"lm_head\": \"%s\"},\n", ewq_tier_name(a->embed),
            ewq_tier_name(a->lm_head));
    fprintf(f, "  \"summary\": {\n    \"tensors_per_tier\": {\"raw\": %d, \"int8\": %d, \"int4\": %d},\n",
            tensors_per_tier[0], tensors_per_tier[1], tensors_per_tier[2]);
    if (!p->by_tensor)
        fprintf(f, "    \"blocks_per_tier\": {\"raw\": %d, \"int8\": %d, \"int4\": %d},\n", blocks_per_tier[0],
                blocks_per_tier[1], blocks_per_tier[2]);
    size_total linear, model;
    plan_sizes(m, a, &linear, &model);
    print_size_json(f, "linear", &linear);
    fprintf(f, ",\n");
    print_size_json(f, "model", &model);
    fprintf(f, "\n  }\n}\n");
}

/* --- reading a plan back --- */

/* A member of the given JSON type, or NULL. */
static const json_value *member(const json_value *obj, const char *key, json_type type) {
    const json_value *v = json_get(obj, key);
    return v && v->type == type ? v : NULL;
}

static int read_tier(const json_value *obj, const char *key, ewq_tier *t, const char *path, const char *where,
                     ewq_err *err) {
    const json_value *v = member(obj, key, JSON_STRING);
    if (!v) return ewq_fail(err, path, "%s: missing \"%s\" (raw, int8 or int4)", where, key);
    if (ewq_tier_parse(v->str, t) != 0)
        return ewq_fail(err, path, "%s: unknown tier '%s' (raw, int8 or int4)", where, v->str);
    return 0;
}

static int read_plan_blocks(const json_value *blocks, const ewq_model *m, int by_tensor, ewq_assignment *a,
                            const char *path, ewq_err *err) {
    for (int l = 0; l < m->cfg.n_layers; l++) {
        const json_value *b = &blocks->kids[l], *idx = member(b, "index", JSON_NUMBER);
        const json_value *ts = member(b, "tensors", JSON_ARRAY);
        char where[64];
        snprintf(where, sizeof where, "block %d", l);
        if (b->type != JSON_OBJECT || !idx || !idx->is_int || idx->i != l)
            return ewq_fail(err, path, "blocks[%d] is not an object with \"index\": %d", l, l);
        if (!ts || ts->len != EWQ_N_LINEAR)
            return ewq_fail(err, path, "block %d: \"tensors\" must list its %d linear weights", l, EWQ_N_LINEAR);
        ewq_tier block_tier = EWQ_RAW;
        if (!by_tensor && read_tier(b, "tier", &block_tier, path, where, err)) return -1;
        for (int k = 0; k < EWQ_N_LINEAR; k++) {
            const json_value *t = &ts->kids[k], *name = member(t, "name", JSON_STRING);
            const char *want = m->blocks[l].linear[k]->name;
            if (!name || strcmp(name->str, want))
                return ewq_fail(err, path, "block %d: tensor %d should be '%s', the plan has '%s'", l, k, want,
                                name ? name->str : "(no name)");
            ewq_tier *tier = &a->linear[l * EWQ_N_LINEAR + k];
            if (read_tier(t, "tier", tier, path, want, err)) return -1;
            if (!by_tensor && *tier != block_tier)
                return ewq_fail(err, path, "block %d is %s but its tensor '%s' is %s", l, ewq_tier_name(block_tier),
                                want, ewq_tier_name(*tier));
        }
    }
    return 0;
}

static int check_plan(const json_value *root, const ewq_model *m, ewq_assignment *a, const char *path, ewq_err *err) {
    const json_value *fmt = member(root, "format", JSON_STRING), *ver = member(root, "version", JSON_NUMBER);
    if (!fmt || strcmp(fmt->str, "ewq-plan")) return ewq_fail(err, path, "not an ewq plan (no \"format\": \"ewq-plan\")");
    if (!ver || !ver->is_int || ver->i != 1) return ewq_fail(err, path, "plan format version is not 1");
    const json_value *model = member(root, "model", JSON_OBJECT), *method = member(root, "method", JSON_OBJECT);
    if (!model || !method) return ewq_fail(err, path, "missing \"%s\" object", model ? "method" : "model");
    const json_value *arch = member(model, "architecture", JSON_STRING), *layers = member(model, "layers", JSON_NUMBER);
    const json_value *fp = member(model, "fingerprint", JSON_STRING), *from = member(model, "path", JSON_STRING);
    const char *made_for = from ? from->str : "another model";
    if (!arch || strcmp(arch->str, m->cfg.arch_name))
        return ewq_fail(err, path, "plan is for a %s model (%s), but %s is %s", arch ? arch->str : "(missing)",
                        made_for, m->dir, m->cfg.arch_name);
    if (!layers || !layers->is_int || layers->i != m->cfg.n_layers)
        return ewq_fail(err, path, "plan has %lld layers (%s), but %s has %d", layers ? (long long)layers->f : -1LL,
                        made_for, m->dir, m->cfg.n_layers);
    char want_fp[17];
    snprintf(want_fp, sizeof want_fp, "%016" PRIx64, ewq_fingerprint(&m->ck));
    if (!fp || strcmp(fp->str, want_fp))
        return ewq_fail(err, path, "plan was made for checkpoint %s (%s), but %s is checkpoint %s: a different "
                        "checkpoint", fp ? fp->str : "(no fingerprint)", made_for, m->dir, want_fp);
    const json_value *gran = member(method, "granularity", JSON_STRING);
    if (!gran || (strcmp(gran->str, "block") && strcmp(gran->str, "tensor")))
        return ewq_fail(err, path, "method.granularity must be \"block\" or \"tensor\"");
    const json_value *blocks = member(root, "blocks", JSON_ARRAY), *out = member(root, "outside_blocks", JSON_OBJECT);
    if (!blocks || (int)blocks->len != m->cfg.n_layers)
        return ewq_fail(err, path, "\"blocks\" must list %d blocks", m->cfg.n_layers);
    if (read_plan_blocks(blocks, m, !strcmp(gran->str, "tensor"), a, path, err)) return -1;
    if (!out) return ewq_fail(err, path, "missing \"outside_blocks\" object");
    if (read_tier(out, "embed_tokens", &a->embed, path, "outside_blocks", err) ||
        read_tier(out, "lm_head", &a->lm_head, path, "outside_blocks", err))
        return -1;
    if (m->cfg.tie_embeddings && a->embed != a->lm_head)
        return ewq_fail(err, path, "the embeddings are tied, so embed_tokens and lm_head must have one tier");
    return 0;
}

int ewq_plan_load(const char *path, const ewq_model *m, ewq_assignment *out, ewq_err *err) {
    char *text;
    size_t len;
    if (ewq_read_file(path, 64u << 20, &text, &len, err) != 0) return -1;
    json_doc doc;
    char jerr[256];
    if (json_parse(text, len, &doc, jerr, sizeof jerr) != 0) {
        free(text);
        return ewq_fail(err, path, "%s", jerr);
    }
    ewq_assignment a = {m->cfg.n_layers, xcalloc((size_t)m->cfg.n_layers * EWQ_N_LINEAR, sizeof(ewq_tier)),
                        EWQ_RAW, EWQ_RAW};
    int rc = doc.root->type == JSON_OBJECT ? check_plan(doc.root, m, &a, path, err)
                                           : ewq_fail(err, path, "not an ewq plan (not a JSON object)");
    json_free(&doc);
    free(text);
    if (rc) ewq_assignment_free(&a);
    else *out = a;
    return rc;
}

/* --- llama.cpp interop --- */

/* GGUF names (llama.cpp's convert_hf_to_gguf.py) of the linear weights, in EWQ_Q .. EWQ_DOWN order. */
static const char *const gguf_linear_names[EWQ_N_LINEAR] = {
    "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down",
};

static const char *ggml_type_of(ewq_tier t, ewq_dtype raw) {
    return t == EWQ_INT8 ? "q8_0" : t == EWQ_INT4 ? "q4_0" : raw == EWQ_BF16 ? "bf16" : raw == EWQ_F16 ? "f16" : "f32";
}

/* One --tensor-type per tier and per set of linear weights: "^blk\.(1|3)\.(attn_q|ffn_up)\.weight$=q4_0".
 * Anchored at both ends and with the block number closed by "\.", so block 1 never matches blk.10-19. */
void ewq_llama_quantize_command(FILE *f, const ewq_assignment *a, ewq_dtype raw, const char *in_gguf,
                                const char *out_gguf) {
    int L = a->n_layers;
    char *done = xcalloc((size_t)L * 3, 1);   /* block l's tier t already printed */
    fprintf(f, "llama-quantize --token-embedding-type %s --output-tensor-type %s", ggml_type_of(a->embed, raw),
            ggml_type_of(a->lm_head, raw));
    for (int t = 0; t < 3; t++)
        for (int l = 0; l < L; l++) {
            unsigned mask = 0;
            for (int k = 0; k < EWQ_N_LINEAR; k++) mask |= (unsigned)(a->linear[l * EWQ_N_LINEAR + k] == (ewq_tier)t) << k;
            if (!mask || done[l * 3 + t]) continue;
            fprintf(f, " \\\n  --tensor-type '^blk\\.(");
            for (int l2 = l, first = 1; l2 < L; l2++) {   /* every later block with the same set at this tier */
                unsigned m2 = 0;
                for (int k = 0; k < EWQ_N_LINEAR; k++)
                    m2 |= (unsigned)(a->linear[l2 * EWQ_N_LINEAR + k] == (ewq_tier)t) << k;
                if (m2 != mask) continue;
                fprintf(f, "%s%d", first ? "" : "|", l2);
                first = 0;
                done[l2 * 3 + t] = 1;
            }
            fprintf(f, ")\\.(");
            for (int k = 0, first = 1; k < EWQ_N_LINEAR; k++)
                if (mask >> k & 1) fprintf(f, "%s%s", first ? "" : "|", gguf_linear_names[k]), first = 0;
            fprintf(f, ")\\.weight$=%s'", ggml_type_of((ewq_tier)t, raw));
        }
    /* the target type must be a quantized one: llama-quantize ignores --tensor-type otherwise */
    fprintf(f, " \\\n  %s %s Q8_0\n", in_gguf, out_gguf);
    free(done);
}

/* --- SVG: block entropy against layer index --- */

static const char *const tier_colors[] = {"#2f9e44", "#1971c2", "#e8590c"};   /* raw, int8, int4 */

static void print_xml_text(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else if (*s == '"') fputs("&quot;", f);
        else fputc(*s, f);
    }
}

void ewq_plan_svg(FILE *f, const ewq_plan *p, const char *title) {   /* block granularity */
    const double W = 760, H = 400, left = 60, right = 20, top = 40, bottom = 50;
    int L = p->n_layers;
    double lo = p->rule.threshold, hi = p->rule.mean;
    for (int l = 0; l < L; l++) lo = fmin(lo, p->block_entropy[l]), hi = fmax(hi, p->block_entropy[l]);
    double pad = hi > lo ? (hi - lo) * 0.08 : 0.5;
    lo -= pad, hi += pad;
#define X(i) (left + (L > 1 ? (double)(i) / (L - 1) : 0.5) * (W - left - right))
#define Y(v) (top + (hi - (v)) / (hi - lo) * (H - top - bottom))
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
               "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n<text x=\"%.0f\" y=\"20\" "
               "font-size=\"14\">",
            W, H, left);
    print_xml_text(f, title);
    fprintf(f, "</text>\n<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n", left, H - bottom,
            W - right, H - bottom);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n", left, top, left, H - bottom);
    for (int i = 0; i <= 4; i++) {   /* y ticks */
        double v = lo + (hi - lo) * i / 4;
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.3f</text>\n", left - 6, Y(v) + 4, v);
    }
    int step = L <= 40 ? 1 : 5;
    for (int l = 0; l < L; l += step)
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%d</text>\n", X(l), H - bottom + 16, l);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">block (layer index)</text>\n", (left + W - right) / 2,
            H - 10);
    fprintf(f, "<text transform=\"translate(14 %.1f) rotate(-90)\" text-anchor=\"middle\">entropy (bits)</text>\n",
            (top + H - bottom) / 2);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.2f\" x2=\"%.1f\" y2=\"%.2f\" stroke=\"#495057\"/>\n", left, Y(p->rule.mean),
            W - right, Y(p->rule.mean));
    fprintf(f, "<text x=\"%.1f\" y=\"%.2f\" text-anchor=\"end\" fill=\"#495057\">mean %.4f</text>\n", W - right,
            Y(p->rule.mean) - 4, p->rule.mean);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.2f\" x2=\"%.1f\" y2=\"%.2f\" stroke=\"#495057\" stroke-dasharray=\"6 4\"/>\n",
            left, Y(p->rule.threshold), W - right, Y(p->rule.threshold));
    fprintf(f, "<text x=\"%.1f\" y=\"%.2f\" text-anchor=\"end\" fill=\"#495057\">mean - %g std = %.4f</text>\n",
            W - right, Y(p->rule.threshold) + 14, p->rule.factor, p->rule.threshold);
    for (int l = 0; l < L; l++) {
        ewq_tier t = p->tiers.linear[l * EWQ_N_LINEAR];
        fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"5\" fill=\"%s\"><title>block %d: %.6f bits, %s</title></circle>\n",
                X(l), Y(p->block_entropy[l]), tier_colors[t], l, p->block_entropy[l], ewq_tier_name(t));
    }
    for (int t = 0; t < 3; t++)   /* legend */
        fprintf(f, "<circle cx=\"%.1f\" cy=\"30\" r=\"5\" fill=\"%s\"/><text x=\"%.1f\" y=\"34\">%s</text>\n",
                W - right - 170 + 60 * t, tier_colors[t], W - right - 162 + 60 * t, ewq_tier_name((ewq_tier)t));
    fprintf(f, "</svg>\n");
#undef X
#undef Y
}

/* ===================================================================================================
 * Synthesized checkpoints
 * =================================================================================================== */

/* Counter-based random numbers: value i of a tensor depends only on (seed, tensor, i), so chunks can be
 * generated on any thread in any order. mix64 is the splitmix64 finalizer. */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Approximately normal with standard deviation std: the sum of the four 16-bit parts of a random word
 * (Irwin-Hall, 4 terms; mean 2 * 65535, standard deviation 65536 / sqrt(3)), so tails end at 3.46 std. */
static float synth_normal(uint64_t key, uint64_t i, float std) {
    uint64_t r = mix64(key + (i + 1) * 0x9e3779b97f4a7c15ull);
    int64_t s = (int64_t)(r & 0xffff) + (int64_t)(r >> 16 & 0xffff) + (int64_t)(r >> 32 & 0xffff) + (int64_t)(r >> 48);
    return (float)((double)(s - 2 * 65535) * (std / 37837.227));
}

typedef struct synth_tensor {
    char name[96];
    int64_t rows, cols;            /* cols = 0 for a vector */
    int ones;                      /* norm weights: 1.0 */
    int block;                     /* linear weights: the block, else -1 */
    uint64_t offset;               /* in the data buffer */
} synth_tensor;

/* The tensors bind_tensors expects for this config, in the order they are written. */
static int synth_tensor_list(const ewq_config *c, synth_tensor **out) {
    int64_t h = c->hidden, q = (int64_t)c->n_heads * c->head_dim, kv = (int64_t)c->n_kv_heads * c->head_dim;
    int64_t rows[EWQ_N_LINEAR] = {q, kv, kv, h, c->intermediate, c->intermediate, h};
    int64_t cols[EWQ_N_LINEAR] = {h, h, h, q, h, h, c->intermediate};
    int cap = 3 + c->n_layers * 14, n = 0;
    synth_tensor *t = xcalloc((size_t)cap, sizeof(synth_tensor));
#define ADD(r, cl, one, blk, ...) \
    (snprintf(t[n].name, sizeof t[n].name, __VA_ARGS__), t[n].rows = (r), t[n].cols = (cl), t[n].ones = (one), \
     t[n].block = (blk), n++)
    ADD(c->vocab, h, 0, -1, "model.embed_tokens.weight");
    ADD(h, 0, 1, -1, "model.norm.weight");
    if (!c->tie_embeddings) ADD(c->vocab, h, 0, -1, "lm_head.weight");
    for (int l = 0; l < c->n_layers; l++) {
        ADD(h, 0, 1, -1, "model.layers.%d.input_layernorm.weight", l);
        ADD(h, 0, 1, -1, "model.layers.%d.post_attention_layernorm.weight", l);
        for (int k = 0; k < EWQ_N_LINEAR; k++) {
            ADD(rows[k], cols[k], 0, l, "model.layers.%d.%s.weight", l, ewq_linear_names[k]);
            if (c->qkv_bias && k < 3) ADD(rows[k], 0, 0, -1, "model.layers.%d.%s.bias", l, ewq_linear_names[k]);
        }
        if (c->qk_norm) {
            ADD(c->head_dim, 0, 1, -1, "model.layers.%d.self_attn.q_norm.weight", l);
            ADD(c->head_dim, 0, 1, -1, "model.layers.%d.self_attn.k_norm.weight", l);
        }
    }
#undef ADD
    *out = t;
    return n;
}

static int64_t synth_numel(const synth_tensor *t) { return t->rows * (t->cols ? t->cols : 1); }

/* The safetensors header: JSON padded with spaces to a multiple of 8 bytes, as the safetensors package
 * writes it, so the data buffer (and every BF16 value) starts aligned. */
static char *synth_header(synth_tensor *t, int n, size_t *len) {
    size_t cap = 256 + (size_t)n * 256, used = 0;   /* an entry is under 256 bytes: name < 96 */
    char *s = xmalloc(cap);
    used += (size_t)snprintf(s, cap, "{\"__metadata__\":{\"format\":\"pt\"}");
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        t[i].offset = off;
        uint64_t bytes = (uint64_t)synth_numel(&t[i]) * 2;
        if (t[i].cols)
            used += (size_t)snprintf(s + used, cap - used, ",\"%s\":{\"dtype\":\"BF16\",\"shape\":[%" PRId64 ",%" PRId64
                                     "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", t[i].name, t[i].rows, t[i].cols,
                                     off, off + bytes);
        else
            used += (size_t)snprintf(s + used, cap - used, ",\"%s\":{\"dtype\":\"BF16\",\"shape\":[%" PRId64
                                     "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", t[i].name, t[i].rows, off,
                                     off + bytes);
        off += bytes;
    }
    used += (size_t)snprintf(s + used, cap - used, "}");
    while (used % 8) s[used++] = ' ';
    *len = used;
    return s;
}

typedef struct {
    const synth_tensor *t;
    uint64_t key;
    int64_t first;             /* index of buf[0] in the tensor */
    uint16_t *buf;
    int64_t n;
    float outlier;             /* magnitude planted at the first and last value; 0: none */
} synth_chunk;

enum { SYNTH_PIECE = 1 << 18 };   /* values per parallel work item */

static void synth_piece(void *ctx, int piece) {
    synth_chunk *c = ctx;
    int64_t begin = (int64_t)piece * SYNTH_PIECE, end = begin + SYNTH_PIECE < c->n ? begin + SYNTH_PIECE : c->n;
    int64_t last = synth_numel(c->t) - 1;
    for (int64_t i = begin; i < end; i++) {
        int64_t at = c->first + i;
        float v = c->t->ones ? 1.0f : synth_normal(c->key, (uint64_t)at, 0.02f);
        if (c->outlier != 0 && (at == 0 || at == last)) v = at == 0 ? c->outlier : -c->outlier;
        c->buf[i] = ewq_f32_to_bf16(v);
    }
}

/* Writes a BF16 model.safetensors for config c. outlier[l] (may be NULL) is a magnitude in units of the
 * weight standard deviation (0.02): each linear weight of block l gets +outlier*std as its first value
 * and -outlier*std as its last, which widens its histogram's range and lowers its entropy. */
int ewq_synth_write(const ewq_config *c, uint64_t seed, const double *outlier, const char *path, ewq_err *err) {
    synth_tensor *t;
    int n = synth_tensor_list(c, &t);
    size_t hlen;
    char *header = synth_header(t, n, &hlen);
    ewq_outfile o;
    if (ewq_out_open(&o, path, err) != 0) { free(header); free(t); return -1; }
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    fwrite(len8, 1, 8, o.f);
    fwrite(header, 1, hlen, o.f);
    const int64_t chunk = (int64_t)SYNTH_PIECE * 64;
    uint16_t *buf = xmalloc(sizeof(uint16_t) * (size_t)chunk);
    uint64_t total = t[n - 1].offset + (uint64_t)synth_numel(&t[n - 1]) * 2, done = 0;
    int progress = isatty(2);
    for (int i = 0; i < n && !ferror(o.f); i++) {
        synth_chunk sc = {&t[i], mix64(seed ^ mix64((uint64_t)i + 1)), 0, buf, 0, 0};
        if (outlier && t[i].block >= 0) sc.outlier = (float)(outlier[t[i].block] * 0.02);
        for (int64_t numel = synth_numel(&t[i]); sc.first < numel; sc.first += sc.n) {
            sc.n = numel - sc.first < chunk ? numel - sc.first : chunk;
            ewq_parallel((int)((sc.n + SYNTH_PIECE - 1) / SYNTH_PIECE), synth_piece, &sc);
            fwrite(buf, sizeof(uint16_t), (size_t)sc.n, o.f);
            done += (uint64_t)sc.n * 2;
            if (progress) fprintf(stderr, "\rsynth: %3d%%", (int)(done * 100 / total));
        }
    }
    if (progress) fputc('\n', stderr);
    free(buf);
    free(header);
    free(t);
    return ewq_out_commit(&o, err);
}

/* ===================================================================================================
 * Packing: int8 and int4 groups (formats in ewq.h)
 * =================================================================================================== */

const char *ewq_tier_name(ewq_tier t) { return t == EWQ_RAW ? "raw" : t == EWQ_INT8 ? "int8" : "int4"; }

int ewq_tier_parse(const char *s, ewq_tier *t) {
    if (!strcmp(s, "raw")) *t = EWQ_RAW;
    else if (!strcmp(s, "int8")) *t = EWQ_INT8;
    else if (!strcmp(s, "int4")) *t = EWQ_INT4;
    else return -1;
    return 0;
}

void ewq_assignment_uniform(ewq_assignment *a, int n_layers, ewq_tier tier, ewq_tier embed, ewq_tier lm_head) {
    a->n_layers = n_layers;
    a->linear = xmalloc(sizeof(ewq_tier) * (size_t)n_layers * EWQ_N_LINEAR);
    for (int i = 0; i < n_layers * EWQ_N_LINEAR; i++) a->linear[i] = tier;
    a->embed = embed;
    a->lm_head = lm_head;
}

void ewq_assignment_free(ewq_assignment *a) {
    free(a->linear);
    a->linear = NULL;
}

/* The next fp16 value above (up = 1) or below a finite fp16 h. */
static uint16_t f16_step(uint16_t h, int up) {
    if ((h & 0x7fff) == 0) return up ? 0x0001 : 0x8001;
    return (h & 0x8000) == (up ? 0 : 0x8000) ? (uint16_t)(h + 1) : (uint16_t)(h - 1);
}
/* fp16 rounding that never lands below (up16) or above (down16) x, so a group's range always fits. */
static uint16_t up16(float x) {
    uint16_t h = ewq_f32_to_f16(x);
    return ewq_f16_to_f32(h) < x ? f16_step(h, 1) : h;
}
static uint16_t down16(float x) {
    uint16_t h = ewq_f32_to_f16(x);
    return ewq_f16_to_f32(h) > x ? f16_step(h, 0) : h;
}
static int f16_finite(uint16_t h) { return (h & 0x7c00) != 0x7c00; }

/* One int8 group; -1 when its scale does not fit in fp16. */
static int pack_group_int8(const float *v, int n, int8_t *q, uint16_t *scale) {
    float a = 0;
    for (int i = 0; i < n; i++) a = fmaxf(a, fabsf(v[i]));
    uint16_t sh = up16(a / 127);
    if (f16_finite(sh) && 127 * ewq_f16_to_f32(sh) < a) sh = f16_step(sh, 1);   /* a / 127 rounded down */
    if (!f16_finite(sh)) return -1;
    float s = ewq_f16_to_f32(sh);
    for (int i = 0; i < n; i++) q[i] = s > 0 ? (int8_t)fminf(fmaxf(rintf(v[i] / s), -127), 127) : 0;
    *scale = sh;
    return 0;
}

/* Quantizes an int4 group over the range [a, b]: fills q, *m, *s, and returns the squared error, or -1
 * when the minimum or scale does not fit in fp16. */
static double int4_try(const float *v, int n, float a, float b, uint8_t *q, uint16_t *m, uint16_t *s) {
    *m = down16(a);
    float mf = ewq_f16_to_f32(*m);
    *s = up16((b - mf) / 15);
    if (f16_finite(*s) && mf + 15 * ewq_f16_to_f32(*s) < b) *s = f16_step(*s, 1);   /* division rounded down */
    if (!f16_finite(*m) || !f16_finite(*s)) return -1;
    float sf = ewq_f16_to_f32(*s);
    double e = 0;
    for (int i = 0; i < n; i++) {
        q[i] = sf > 0 ? (uint8_t)fminf(fmaxf(rintf((v[i] - mf) / sf), 0), 15) : 0;
        double d = (double)v[i] - (double)(mf + sf * (float)q[i]);
        e += d * d;
    }
    return e;
}

/* One int4 group into unpacked nibbles q[0..n); with `shrink`, the least-squared-error range of the
 * 4 x 4 candidates ewq.h lists. */
static int pack_group_int4(const float *v, int n, int shrink, uint8_t *q, uint16_t *min, uint16_t *scale) {
    float lo = v[0], hi = v[0];
    for (int i = 1; i < n; i++) lo = fminf(lo, v[i]), hi = fmaxf(hi, v[i]);
    float d = hi - lo;
    double best = int4_try(v, n, lo, hi, q, min, scale);
    if (best < 0) return -1;
    for (int i = 0; shrink && i < 4; i++)
        for (int j = 0; j < 4; j++) {
            uint8_t cq[EWQ_MAX_GROUP];
            uint16_t cm, cs;
            double e = int4_try(v, n, lo + d * (i / 16.0f), hi - d * (j / 16.0f), cq, &cm, &cs);
            if (e >= 0 && e < best) best = e, *min = cm, *scale = cs, memcpy(q, cq, (size_t)n);
        }
    return 0;
}

static size_t int4_row_bytes(int cols) { return ((size_t)cols + 1) / 2; }

typedef struct {
    ewq_qmat *m;
    const float *w;
    int shrink, bad_row;   /* bad_row: first row that failed (rows when none) */
    pthread_mutex_t mu;
} pack_job;

static void pack_row(void *ctx, int r) {
    pack_job *j = ctx;
    ewq_qmat *m = j->m;
    int ng = ewq_groups_per_row(m->cols, m->group), ok = 1;
    const float *w = j->w + (size_t)r * m->cols;
    for (int c = 0; c < m->cols; c++) ok &= isfinite(w[c]) != 0;
    for (int g = 0; ok && g < ng; g++) {
        int c0 = g * m->group, n = m->cols - c0 < m->group ? m->cols - c0 : m->group;
        size_t gi = (size_t)r * ng + g;
        if (m->tier == EWQ_INT8) {
            ok = pack_group_int8(w + c0, n, (int8_t *)m->q + (size_t)r * m->cols + c0, &m->scale[gi]) == 0;
        } else {
            uint8_t nib[EWQ_MAX_GROUP], *row = (uint8_t *)m->q + (size_t)r * int4_row_bytes(m->cols);
            ok = pack_group_int4(w + c0, n, j->shrink, nib, &m->min[gi], &m->scale[gi]) == 0;
            for (int i = 0; ok && i < n; i++) {   /* columns in order: even ones set the byte, odd ones OR in */
                int c = c0 + i;
                row[c / 2] = c % 2 ? (uint8_t)(row[c / 2] | nib[i] << 4) : nib[i];
            }
        }
    }
    if (!ok) {
        pthread_mutex_lock(&j->mu);
        if (r < j->bad_row) j->bad_row = r;
        pthread_mutex_unlock(&j->mu);
    }
}

int ewq_qmat_pack(ewq_qmat *m, ewq_tier tier, const float *w, int rows, int cols, int group, int shrink,
                  const char *name, ewq_err *err) {
    if (tier == EWQ_RAW || group < 1 || group > EWQ_MAX_GROUP)
        return ewq_fail(err, name, "cannot pack at %s with group size %d (int8 or int4, groups of 1..256)",
                        ewq_tier_name(tier), group);
    int ng = ewq_groups_per_row(cols, group);
    memset(m, 0, sizeof *m);
    m->tier = tier, m->rows = rows, m->cols = cols, m->group = group;
    m->q = xcalloc((size_t)rows, tier == EWQ_INT8 ? (size_t)cols : int4_row_bytes(cols));
    m->scale = xmalloc(sizeof(uint16_t) * (size_t)rows * ng);
    if (tier == EWQ_INT4) m->min = xmalloc(sizeof(uint16_t) * (size_t)rows * ng);
    pack_job j = {.m = m, .w = w, .shrink = shrink, .bad_row = rows, .mu = PTHREAD_MUTEX_INITIALIZER};
    ewq_parallel(rows, pack_row, &j);
    if (j.bad_row < rows) {
        ewq_qmat_free(m);
        return ewq_fail(err, name, "row %d holds a NaN, an infinity or a value too large for an fp16 %s",
                        j.bad_row, tier == EWQ_INT8 ? "scale" : "minimum or scale");
    }
    return 0;
}

void ewq_qmat_raw(ewq_qmat *m, const ewq_tensor *t) {
    memset(m, 0, sizeof *m);
    m->tier = EWQ_RAW;
    m->rows = (int)t->shape[0];
    m->cols = (int)t->shape[1];
    m->dtype = t->dtype;
    m->raw = t->data;
}

/* n raw values of type t starting at element i of p, as floats. */
static void raw_to_f32(const void *p, ewq_dtype t, size_t i, int n, float *out) {
    if (t == EWQ_F32) memcpy(out, (const float *)p + i, sizeof(float) * (size_t)n);
    else if (t == EWQ_F16) for (int k = 0; k < n; k++) out[k] = ewq_f16_to_f32(((const uint16_t *)p)[i + k]);
    else for (int k = 0; k < n; k++) out[k] = ewq_bf16_to_f32(((const uint16_t *)p)[i + k]);
}

void ewq_qmat_row(const ewq_qmat *m, int r, float *out) {
    if (m->tier == EWQ_RAW) { raw_to_f32(m->raw, m->dtype, (size_t)r * m->cols, m->cols, out); return; }
    int ng = ewq_groups_per_row(m->cols, m->group);
    const uint16_t *sc = m->scale + (size_t)r * ng;
    if (m->tier == EWQ_INT8) {
        const int8_t *q = (const int8_t *)m->q + (size_t)r * m->cols;
        for (int c = 0; c < m->cols; c++) out[c] = ewq_f16_to_f32(sc[c / m->group]) * (float)q[c];
    } else {
        const uint8_t *q = (const uint8_t *)m->q + (size_t)r * int4_row_bytes(m->cols);
        const uint16_t *mn = m->min + (size_t)r * ng;
        for (int c = 0; c < m->cols; c++) {
            int g = c / m->group, nib = c % 2 ? q[c / 2] >> 4 : q[c / 2] & 15;
            out[c] = ewq_f16_to_f32(mn[g]) + ewq_f16_to_f32(sc[g]) * (float)nib;
        }
    }
}

size_t ewq_qmat_bytes(const ewq_qmat *m) {
    size_t rows = (size_t)m->rows, ng = m->tier == EWQ_RAW ? 0 : (size_t)ewq_groups_per_row(m->cols, m->group);
    if (m->tier == EWQ_RAW) return rows * m->cols * ewq_dtype_size(m->dtype);
    if (m->tier == EWQ_INT8) return rows * (m->cols + 2 * ng);
    return rows * (int4_row_bytes(m->cols) + 4 * ng);
}

void ewq_qmat_free(ewq_qmat *m) {
    free(m->q);
    free(m->scale);
    free(m->min);
    memset(m, 0, sizeof *m);
}

/* Packs one checkpoint tensor at `tier` (raw: a view), converting it to float32 only for the packer. */
static int pack_tensor(ewq_qmat *m, const ewq_tensor *t, ewq_tier tier, int group, int shrink, ewq_err *err) {
    if (tier == EWQ_RAW) { ewq_qmat_raw(m, t); return 0; }
    float *w = xmalloc(sizeof(float) * (size_t)t->numel);
    for (int64_t r = 0; r < t->shape[0]; r++)   /* by rows: numel may exceed an int */
        raw_to_f32(t->data, t->dtype, (size_t)(r * t->shape[1]), (int)t->shape[1], w + r * t->shape[1]);
    int rc = ewq_qmat_pack(m, tier, w, (int)t->shape[0], (int)t->shape[1], group, shrink, t->name, err);
    free(w);
    return rc;
}

int ewq_pack(ewq_packed *p, const ewq_model *m, const ewq_assignment *a, int group, int shrink, int progress,
             ewq_err *err) {
    memset(p, 0, sizeof *p);
    if (a->n_layers != m->cfg.n_layers)
        return ewq_fail(err, m->dir, "the precision assignment has %d blocks but the model has %d", a->n_layers,
                        m->cfg.n_layers);
    p->model = m;
    p->group = group;
    p->linear = xcalloc((size_t)m->cfg.n_layers * EWQ_N_LINEAR, sizeof(ewq_qmat));
    if (pack_tensor(&p->embed, m->embed, a->embed, group, shrink, err)) goto fail;
    for (int l = 0; l < m->cfg.n_layers; l++) {
        for (int k = 0; k < EWQ_N_LINEAR; k++) {
            int i = l * EWQ_N_LINEAR + k;
            if (pack_tensor(&p->linear[i], m->blocks[l].linear[k], a->linear[i], group, shrink, err)) goto fail;
        }
        if (progress) fprintf(stderr, "\rpacking: block %d/%d", l + 1, m->cfg.n_layers);
    }
    if (progress) fputc('\n', stderr);
    p->lm_head_shared = m->cfg.tie_embeddings && a->lm_head == a->embed;
    if (p->lm_head_shared) p->lm_head = p->embed;
    else if (pack_tensor(&p->lm_head, m->lm_head, a->lm_head, group, shrink, err)) goto fail;
    return 0;
fail:
    ewq_packed_free(p);
    return -1;
}

size_t ewq_packed_bytes(const ewq_packed *p) {
    size_t n = ewq_qmat_bytes(&p->embed) + (p->lm_head_shared ? 0 : ewq_qmat_bytes(&p->lm_head));
    for (int i = 0; i < p->model->cfg.n_layers * EWQ_N_LINEAR; i++) n += ewq_qmat_bytes(&p->linear[i]);
    return n;
}

void ewq_packed_free(ewq_packed *p) {
    if (!p->model) return;
    for (int i = 0; i < p->model->cfg.n_layers * EWQ_N_LINEAR; i++) ewq_qmat_free(&p->linear[i]);
    if (!p->lm_head_shared) ewq_qmat_free(&p->lm_head);
    ewq_qmat_free(&p->embed);
    free(p->linear);
    memset(p, 0, sizeof *p);
}

/* ===================================================================================================
 * Command line (left out of the library build that the tests link against)
 * =================================================================================================== */
#ifndef EWQ_NO_MAIN

static void die(const ewq_err *e) {
    fprintf(stderr, "ewq: %s\n", e->msg);
    exit(1);
}

static void usage_error(const char *cmd, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3), noreturn))
#endif
    ;
static void usage_error(const char *cmd, const char *fmt, ...) {
    fprintf(stderr, "ewq %s: ", cmd);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'ewq %s --help')\n", cmd);
    exit(2);
}

static int is_help(const char *a) { return !strcmp(a, "-h") || !strcmp(a, "--help"); }

/* --- inspect --- */

static const char inspect_help[] =
    "usage: ewq inspect MODEL [--json]\n"
    "\n"
    "Print the configuration of a Hugging Face model folder (config.json + safetensors) as ewq reads it,\n"
    "and every tensor with its dtype, shape and size. The folder is validated first: every tensor the\n"
    "architecture needs must be present with the right shape.\n"
    "\n"
    "  --json    machine-readable output\n";

static void print_shape(FILE *f, const ewq_tensor *t, const char *open, const char *close) {
    fputs(open, f);
    for (int i = 0; i < t->ndim; i++) fprintf(f, "%s%" PRId64, i ? ", " : "", t->shape[i]);
    fputs(close, f);
}

static void print_config_json(FILE *f, const ewq_config *c) {
    fprintf(f, "{\"architecture\": \"%s\", \"hidden_size\": %d, \"num_hidden_layers\": %d, "
               "\"num_attention_heads\": %d, \"num_key_value_heads\": %d, \"head_dim\": %d, "
               "\"intermediate_size\": %d, \"vocab_size\": %d, \"max_position_embeddings\": %d, "
               "\"rms_norm_eps\": %.9g, \"rope_theta\": %.17g, \"rope_scaling\": ",
            c->arch_name, c->hidden, c->n_layers, c->n_heads, c->n_kv_heads, c->head_dim, c->intermediate, c->vocab,
            c->max_pos, c->rms_eps, c->rope_theta);
    if (c->rope_llama3)
        fprintf(f, "{\"rope_type\": \"llama3\", \"factor\": %.17g, \"low_freq_factor\": %.17g, "
                   "\"high_freq_factor\": %.17g, \"original_max_position_embeddings\": %d}",
                c->rope_factor, c->rope_low_freq_factor, c->rope_high_freq_factor, c->rope_orig_max_pos);
    else
        fputs("null", f);
    fprintf(f, ", \"tie_word_embeddings\": %s, \"sliding_window\": %d, \"bos_token_id\": %d, \"eos_token_id\": [",
            c->tie_embeddings ? "true" : "false", c->sliding_window, c->bos_id);
    for (int i = 0; i < c->n_eos; i++) fprintf(f, "%s%d", i ? ", " : "", c->eos_ids[i]);
    fputs("]}", f);
}

static int cmd_inspect(int argc, char **argv) {
    const char *dir = NULL;
    int json = 0;
    for (int i = 0; i < argc; i++) {
        if (is_help(argv[i])) { fputs(inspect_help, stdout); return 0; }
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (argv[i][0] == '-') usage_error("inspect", "unknown option '%s'", argv[i]);
        else if (dir) usage_error("inspect", "more than one MODEL given");
        else dir = argv[i];
    }
    if (!dir) usage_error("inspect", "missing MODEL folder");
    ewq_model m;
    ewq_err err;
    if (ewq_model_open(&m, dir, &err)) die(&err);
    const ewq_config *c = &m.cfg;
    int64_t params = 0;
    size_t bytes = 0;
    for (int i = 0; i < m.ck.n_tensors; i++) params += m.ck.tensors[i].numel, bytes += m.ck.tensors[i].nbytes;

    if (json) {
        printf("{\"model\": ");
        print_json_string(stdout, dir);
        printf(", \"config\": ");
        print_config_json(stdout, c);
        printf(", \"files\": [");
        for (int i = 0; i < m.ck.n_files; i++) {
            printf("%s", i ? ", " : "");
            print_json_string(stdout, strrchr(m.ck.files[i].path, '/') + 1);
        }
        printf("], \"tensors\": [");
        for (int i = 0; i < m.ck.n_tensors; i++) {
            const ewq_tensor *t = &m.ck.tensors[i];
            printf("%s\n  {\"name\": ", i ? "," : "");
            print_json_string(stdout, t->name);
            printf(", \"dtype\": \"%s\", \"shape\": ", ewq_dtype_name(t->dtype));
            print_shape(stdout, t, "[", "]");
            printf(", \"bytes\": %zu, \"file\": ", t->nbytes);
            print_json_string(stdout, strrchr(m.ck.files[t->file].path, '/') + 1);
            printf("}");
        }
        printf("],\n \"total\": {\"tensors\": %d, \"parameters\": %" PRId64 ", \"bytes\": %zu}}\n", m.ck.n_tensors,
               params, bytes);
    } else {
        printf("model              %s\n", dir);
        printf("architecture       %s\n", c->arch_name);
        printf("layers             %d\n", c->n_layers);
        printf("hidden size        %d\n", c->hidden);
        printf("heads              %d\n", c->n_heads);
        printf("kv heads           %d\n", c->n_kv_heads);
        printf("head_dim           %d\n", c->head_dim);
        printf("intermediate size  %d\n", c->intermediate);
        printf("vocab size         %d\n", c->vocab);
        printf("max positions      %d\n", c->max_pos);
        printf("rms_norm_eps       %g\n", c->rms_eps);
        printf("rope_theta         %g\n", c->rope_theta);
        if (c->rope_llama3)
            printf("rope_scaling       llama3 (factor %g, low_freq_factor %g, high_freq_factor %g, original %d)\n",
                   c->rope_factor, c->rope_low_freq_factor, c->rope_high_freq_factor, c->rope_orig_max_pos);
        else
            printf("rope_scaling       none\n");
        printf("embeddings         %s\n", c->tie_embeddings ? "tied (lm_head = embed_tokens)" : "untied");
        printf("q/k/v biases       %s\n", c->qkv_bias ? "yes" : "no");
        printf("q/k norms          %s\n", c->qk_norm ? "yes" : "no");
        if (c->sliding_window) printf("sliding window     %d\n", c->sliding_window);
        printf("bos / eos          %d /", c->bos_id);
        for (int i = 0; i < c->n_eos; i++) printf(" %d", c->eos_ids[i]);
        printf("%s\n", c->n_eos ? "" : " none");
        printf("files              %d\n\n", m.ck.n_files);
        printf("%-52s %-5s %-14s %12s\n", "tensor", "dtype", "shape", "bytes");
        for (int i = 0; i < m.ck.n_tensors; i++) {
            const ewq_tensor *t = &m.ck.tensors[i];
            char shape[64] = "";
            for (int d = 0, n = 0; d < t->ndim && n < (int)sizeof shape - 24; d++)
                n += snprintf(shape + n, sizeof shape - (size_t)n, "%s%" PRId64, d ? " x " : "", t->shape[d]);
            printf("%-52s %-5s %-14s %12zu\n", t->name, ewq_dtype_name(t->dtype), shape, t->nbytes);
        }
        printf("\ntotal: %d tensors, %" PRId64 " parameters, %zu bytes (%.2f MiB)\n", m.ck.n_tensors, params, bytes,
               bytes / 1048576.0);
    }
    ewq_model_close(&m);
    return 0;
}

/* --- options shared by entropy and plan --- */

static int parse_int_arg(const char *cmd, const char *opt, const char *s, long lo, long hi) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        usage_error(cmd, "%s must be an integer from %ld to %ld, got '%s'", opt, lo, hi, s);
    return (int)v;
}

static double parse_factor(const char *cmd, const char *s) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v) || v < 0) usage_error(cmd, "--factor must be a number >= 0, got '%s'", s);
    return v;
}

static const char *need_value(const char *cmd, int argc, char **argv, int *i) {
    if (*i + 1 >= argc) usage_error(cmd, "%s needs a value", argv[*i]);
    return argv[++*i];
}

/* --- entropy --- */

static const char entropy_help[] =
    "usage: ewq entropy MODEL [--bins N] [--factor F] [--svg FILE] [--json]\n"
    "\n"
    "Shannon entropy of every linear weight of every transformer block (q, k, v, o, gate, up, down), from a\n"
    "histogram of N equal-width bins over the tensor's [min, max], in bits; and of every block, the\n"
    "parameter-weighted mean of its linear weights. The tier column applies the plan rule (see 'ewq plan').\n"
    "\n"
    "  --bins N      histogram bins (default 256)\n"
    "  --factor F    rule factor for the tier column and the plot (default 0.65)\n"
    "  --svg FILE    also write a plot of block entropy against layer index, with the mean and the\n"
    "                threshold as lines and every block coloured by its tier\n"
    "  --json        machine-readable output\n";

static int cmd_entropy(int argc, char **argv) {
    const char *dir = NULL, *svg = NULL;
    int json = 0, bins = EWQ_DEFAULT_BINS;
    double factor = EWQ_DEFAULT_FACTOR;
    for (int i = 0; i < argc; i++) {
        if (is_help(argv[i])) { fputs(entropy_help, stdout); return 0; }
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--bins")) bins = parse_int_arg("entropy", "--bins", need_value("entropy", argc, argv, &i), 2, EWQ_MAX_BINS);
        else if (!strcmp(argv[i], "--factor")) factor = parse_factor("entropy", need_value("entropy", argc, argv, &i));
        else if (!strcmp(argv[i], "--svg")) svg = need_value("entropy", argc, argv, &i);
        else if (argv[i][0] == '-') usage_error("entropy", "unknown option '%s'", argv[i]);
        else if (dir) usage_error("entropy", "more than one MODEL given");
        else dir = argv[i];
    }
    if (!dir) usage_error("entropy", "missing MODEL folder");
    ewq_model m;
    ewq_plan p;
    ewq_err err;
    ewq_outfile o;
    if (ewq_model_open(&m, dir, &err) || (svg && ewq_out_open(&o, svg, &err))) die(&err);
    if (ewq_plan_make(&m, bins, 0, factor, &p, &err)) {
        if (svg) ewq_out_abort(&o);
        die(&err);
    }
    size_total linear, model;
    plan_sizes(&m, &p.tiers, &linear, &model);
    double total = (double)model.params;
    if (svg) {
        char title[512];
        snprintf(title, sizeof title, "%s: block entropy (%d bins), factor %g", dir, bins, factor);
        ewq_plan_svg(o.f, &p, title);
        if (ewq_out_commit(&o, &err)) die(&err);
    }
    if (json) {
        printf("{\"model\": ");
        print_json_string(stdout, dir);
        printf(", \"bins\": %d, \"factor\": %.17g, \"mean\": %.17g, \"std\": %.17g, \"threshold\": %.17g, \"blocks\": [",
               bins, factor, p.rule.mean, p.rule.std, p.rule.threshold);
        for (int l = 0; l < p.n_layers; l++)
            printf("%s\n  {\"index\": %d, \"entropy\": %.17g, \"parameters\": %" PRId64 ", \"share\": %.17g, \"tier\": \"%s\"}",
                   l ? "," : "", l, p.block_entropy[l], p.block_params[l], p.block_params[l] / total,
                   ewq_tier_name(p.tiers.linear[l * EWQ_N_LINEAR]));
        printf("],\n \"tensors\": [");
        for (int i = 0; i < p.n_layers * EWQ_N_LINEAR; i++) {
            const ewq_tensor *t = m.blocks[i / EWQ_N_LINEAR].linear[i % EWQ_N_LINEAR];
            printf("%s\n  {\"name\": ", i ? "," : "");
            print_json_string(stdout, t->name);
            printf(", \"shape\": [%" PRId64 ", %" PRId64 "], \"parameters\": %" PRId64 ", \"entropy\": %.17g}",
                   t->shape[0], t->shape[1], t->numel, p.tensor_entropy[i]);
        }
        printf("]}\n");
    } else {
        printf("%s: entropy in bits, %d bins; block = parameter-weighted mean of its 7 linear weights\n\n", dir, bins);
        printf("%5s %14s %14s %8s  %s\n", "block", "entropy", "parameters", "share", "tier");
        for (int l = 0; l < p.n_layers; l++)
            printf("%5d %14.6f %14" PRId64 " %7.2f%%  %s\n", l, p.block_entropy[l], p.block_params[l],
                   100.0 * p.block_params[l] / total, ewq_tier_name(p.tiers.linear[l * EWQ_N_LINEAR]));
        printf("\nmean %.6f, std %.6f (population), threshold mean - %g std = %.6f\n\n", p.rule.mean, p.rule.std, factor,
               p.rule.threshold);
        printf("%-48s %-13s %10s\n", "tensor", "shape", "entropy");
        for (int i = 0; i < p.n_layers * EWQ_N_LINEAR; i++) {
            const ewq_tensor *t = m.blocks[i / EWQ_N_LINEAR].linear[i % EWQ_N_LINEAR];
            char shape[48];
            snprintf(shape, sizeof shape, "%" PRId64 " x %" PRId64, t->shape[0], t->shape[1]);
            printf("%-48s %-13s %10.6f\n", t->name, shape, p.tensor_entropy[i]);
        }
    }
    ewq_plan_free(&p);
    ewq_model_close(&m);
    return 0;
}

/* --- plan --- */

static const char plan_help[] =
    "usage: ewq plan MODEL [--factor F] [--bins N] [--granularity block|tensor] [-o FILE] [--json]\n"
    "                      [--llama-quantize]\n"
    "       ewq plan MODEL --check FILE\n"
    "\n"
    "Choose raw, int8 or int4 for every transformer block from the entropy of its weights (see 'ewq\n"
    "entropy'): with mean and population std of the block entropies, a block at or above the mean stays\n"
    "raw, one at or above mean - F * std becomes int8, one below becomes int4. Equal entropies (std 0) keep\n"
    "every block raw. Embeddings and lm_head stay raw. Prints a table with the bytes the packed model will\n"
    "take (int8: 8.25, int4: 4.5 bits per weight in groups of 64) against raw.\n"
    "\n"
    "  --factor F              rule factor (default 0.65)\n"
    "  --bins N                histogram bins (default 256)\n"
    "  --granularity tensor    rank every linear weight instead of blocks (default: block)\n"
    "  -o FILE                 write the plan (JSON, documented in ewq.h) to FILE\n"
    "  --json                  print the plan document instead of the table\n"
    "  --llama-quantize        print a llama-quantize command that applies this plan to a GGUF file\n"
    "                          converted from MODEL at its own precision (anchored --tensor-type patterns)\n"
    "  --check FILE            read a plan and check it against MODEL: architecture, layer count,\n"
    "                          checkpoint fingerprint, tensor names, tiers; print what it assigns\n";

static void print_plan_table(const ewq_plan *p, const ewq_model *m, const char *dir) {
    printf("%s: %s plan, %d bins, factor %g: mean %.6f, std %.6f, threshold %.6f\n\n", dir,
           p->by_tensor ? "per-tensor" : "per-block", p->bins, p->rule.factor, p->rule.mean, p->rule.std,
           p->rule.threshold);
    printf("%5s %12s %14s  %s\n", "block", "entropy", "parameters", p->by_tensor ? "tiers (q k v o gate up down)" : "tier");
    for (int l = 0; l < p->n_layers; l++) {
        printf("%5d %12.6f %14" PRId64 " ", l, p->block_entropy[l], p->block_params[l]);
        for (int k = 0; k < (p->by_tensor ? EWQ_N_LINEAR : 1); k++)
            printf(" %s", ewq_tier_name(p->tiers.linear[l * EWQ_N_LINEAR + k]));
        printf("\n");
    }
    int count[3] = {0};
    for (int i = 0; i < p->n_layers * (p->by_tensor ? EWQ_N_LINEAR : 1); i++)
        count[p->tiers.linear[i * (p->by_tensor ? 1 : EWQ_N_LINEAR)]]++;
    size_total linear, model;
    plan_sizes(m, &p->tiers, &linear, &model);
    printf("\n%s: %d raw, %d int8, %d int4\n", p->by_tensor ? "tensors" : "blocks", count[0], count[1], count[2]);
    printf("block linear weights: %" PRIu64 " -> %" PRIu64 " bytes (%.3f -> %.3f bits per weight)\n", linear.raw,
           linear.packed, 8.0 * linear.raw / linear.params, 8.0 * linear.packed / linear.params);
    printf("whole model:          %" PRIu64 " -> %" PRIu64 " bytes (%.3f -> %.3f bits per weight)\n", model.raw,
           model.packed, 8.0 * model.raw / model.params, 8.0 * model.packed / model.params);
}

/* The dtype of the linear weights (the raw type for llama-quantize); mixed checkpoints are refused. */
static int linear_dtype(const ewq_model *m, ewq_dtype *out, ewq_err *err) {
    *out = m->blocks[0].linear[0]->dtype;
    for (int i = 0; i < m->cfg.n_layers * EWQ_N_LINEAR; i++)
        if (m->blocks[i / EWQ_N_LINEAR].linear[i % EWQ_N_LINEAR]->dtype != *out)
            return ewq_fail(err, m->ck.path, "linear weights mix %s and %s; a llama-quantize command needs one raw type",
                            ewq_dtype_name(*out), ewq_dtype_name(m->blocks[i / EWQ_N_LINEAR].linear[i % EWQ_N_LINEAR]->dtype));
    return 0;
}

static void print_llama_quantize(const ewq_model *m, const ewq_assignment *a, const char *dir) {
    ewq_dtype raw;
    ewq_err err;
    if (linear_dtype(m, &raw, &err)) die(&err);
    const char *base = strrchr(dir, '/') && strrchr(dir, '/')[1] ? strrchr(dir, '/') + 1 : dir;
    char in[512], out[512], type[8];
    snprintf(type, sizeof type, "%s", ewq_dtype_name(raw));
    for (char *c = type; *c; c++) *c = (char)(*c | 0x20);   /* "bf16": the name --outtype takes */
    snprintf(in, sizeof in, "%s-%s.gguf", base, type);
    snprintf(out, sizeof out, "%s-ewq.gguf", base);
    printf("# %s was made with: python convert_hf_to_gguf.py %s --outtype %s --outfile %s\n", in, dir, type, in);
    ewq_llama_quantize_command(stdout, a, raw, in, out);
}

static int cmd_plan(int argc, char **argv) {
    const char *dir = NULL, *out = NULL, *check = NULL;
    int json = 0, bins = EWQ_DEFAULT_BINS, by_tensor = 0, llama = 0;
    double factor = EWQ_DEFAULT_FACTOR;
    for (int i = 0; i < argc; i++) {
        if (is_help(argv[i])) { fputs(plan_help, stdout); return 0; }
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--llama-quantize")) llama = 1;
        else if (!strcmp(argv[i], "--bins")) bins = parse_int_arg("plan", "--bins", need_value("plan", argc, argv, &i), 2, EWQ_MAX_BINS);
        else if (!strcmp(argv[i], "--factor")) factor = parse_factor("plan", need_value("plan", argc, argv, &i));
        else if (!strcmp(argv[i], "-o")) out = need_value("plan", argc, argv, &i);
        else if (!strcmp(argv[i], "--check")) check = need_value("plan", argc, argv, &i);
        else if (!strcmp(argv[i], "--granularity")) {
            const char *g = need_value("plan", argc, argv, &i);
            if (strcmp(g, "block") && strcmp(g, "tensor"))
                usage_error("plan", "--granularity must be block or tensor, got '%s'", g);
            by_tensor = !strcmp(g, "tensor");
        } else if (argv[i][0] == '-') usage_error("plan", "unknown option '%s'", argv[i]);
        else if (dir) usage_error("plan", "more than one MODEL given");
        else dir = argv[i];
    }
    if (!dir) usage_error("plan", "missing MODEL folder");
    if (json && llama) usage_error("plan", "--json and --llama-quantize both print to stdout; choose one");
    ewq_model m;
    ewq_err err;
    if (ewq_model_open(&m, dir, &err)) die(&err);
    if (check) {
        ewq_assignment a;
        if (ewq_plan_load(check, &m, &a, &err)) die(&err);
        printf("%s: a valid plan for %s\n", check, dir);
        for (int l = 0; l < a.n_layers; l++) {
            printf("block %3d:", l);
            for (int k = 0; k < EWQ_N_LINEAR; k++) printf(" %s", ewq_tier_name(a.linear[l * EWQ_N_LINEAR + k]));
            printf("\n");
        }
        printf("embed_tokens: %s, lm_head: %s\n", ewq_tier_name(a.embed), ewq_tier_name(a.lm_head));
        if (llama) print_llama_quantize(&m, &a, dir);
        ewq_assignment_free(&a);
        ewq_model_close(&m);
        return 0;
    }
    ewq_plan p;
    ewq_outfile o;
    if (out && ewq_out_open(&o, out, &err)) die(&err);   /* before the work: a bad path fails at once */
    if (ewq_plan_make(&m, bins, by_tensor, factor, &p, &err)) {
        if (out) ewq_out_abort(&o);
        die(&err);
    }
    if (out) {
        ewq_plan_print(o.f, &p, &m);
        if (ewq_out_commit(&o, &err)) die(&err);
        fprintf(stderr, "wrote %s\n", out);
    }
    if (json) ewq_plan_print(stdout, &p, &m);
    else if (llama) print_llama_quantize(&m, &p.tiers, dir);
    else print_plan_table(&p, &m, dir);
    ewq_plan_free(&p);
    ewq_model_close(&m);
    return 0;
}

/* --- synth --- */

static const char synth_help[] =
    "usage: ewq synth CONFIG -o DIR [--seed S] [--outliers BLOCK:M[,BLOCK:M...]]\n"
    "\n"
    "Write a random-weight checkpoint of the shapes a Hugging Face config.json describes (CONFIG: the file\n"
    "or its folder): DIR/model.safetensors in BF16 and a copy of the config as DIR/config.json, so that\n"
    "analysis, speed and memory can be measured at real sizes without downloading weights. Weights are\n"
    "approximately normal with standard deviation 0.02, norm weights 1; the values depend only on the seed.\n"
    "\n"
    "  -o DIR                    output folder (created if missing)\n"
    "  --seed S                  random seed (default 1)\n"
    "  --outliers BLOCK:M,...    plant known structure: in every linear weight of block BLOCK the first value\n"
    "                            becomes +M and the last -M standard deviations, which lowers the block's\n"
    "                            entropy (a larger M lowers it more)\n";

static double *parse_outliers(const char *s, int n_layers) {
    double *m = xcalloc((size_t)n_layers, sizeof(double));
    for (const char *p = s; *p;) {
        char *end;
        long block = strtol(p, &end, 10);
        if (end == p || *end != ':' || block < 0 || block >= n_layers)
            usage_error("synth", "--outliers wants BLOCK:M pairs with BLOCK from 0 to %d, got '%s'", n_layers - 1, s);
        p = end + 1;
        double mag = strtod(p, &end);
        if (end == p || (*end && *end != ',') || !isfinite(mag) || mag <= 0 || mag > 1e6)
            usage_error("synth", "--outliers magnitude must be a number in (0, 1e6], got '%s'", s);
        m[block] = mag;
        p = *end ? end + 1 : end;
    }
    return m;
}

static int cmd_synth(int argc, char **argv) {
    const char *config = NULL, *dir = NULL, *outliers = NULL;
    uint64_t seed = 1;
    for (int i = 0; i < argc; i++) {
        if (is_help(argv[i])) { fputs(synth_help, stdout); return 0; }
        if (!strcmp(argv[i], "-o")) dir = need_value("synth", argc, argv, &i);
        else if (!strcmp(argv[i], "--outliers")) outliers = need_value("synth", argc, argv, &i);
        else if (!strcmp(argv[i], "--seed")) {
            const char *s = need_value("synth", argc, argv, &i);
            char *end;
            errno = 0;
            seed = strtoull(s, &end, 10);
            if (errno || end == s || *end || s[0] == '-') usage_error("synth", "--seed must be an unsigned integer, got '%s'", s);
        } else if (argv[i][0] == '-') usage_error("synth", "unknown option '%s'", argv[i]);
        else if (config) usage_error("synth", "more than one CONFIG given");
        else config = argv[i];
    }
    if (!config) usage_error("synth", "missing CONFIG (a config.json file or its folder)");
    if (!dir) usage_error("synth", "missing -o DIR");
    struct stat st;
    char *cfg_path = stat(config, &st) == 0 && S_ISDIR(st.st_mode) ? path_join(config, "config.json") : xstrdup(config);
    char *text;
    size_t len;
    ewq_config c;
    ewq_err err;
    if (ewq_read_file(cfg_path, 1 << 20, &text, &len, &err) || ewq_config_parse(&c, cfg_path, text, len, &err)) die(&err);
    double *planted = outliers ? parse_outliers(outliers, c.n_layers) : NULL;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        ewq_fail(&err, dir, "cannot create folder: %s", strerror(errno));
        die(&err);
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        ewq_fail(&err, dir, "is not a folder");
        die(&err);
    }
    char *model_path = path_join(dir, "model.safetensors"), *out_cfg = path_join(dir, "config.json");
    if (ewq_synth_write(&c, seed, planted, model_path, &err)) die(&err);
    ewq_outfile o;
    if (ewq_out_open(&o, out_cfg, &err)) die(&err);
    fwrite(text, 1, len, o.f);
    if (ewq_out_commit(&o, &err)) die(&err);
    if (stat(model_path, &st) == 0)
        printf("wrote %s (%s, %d layers, %.3f GB BF16, seed %" PRIu64 ") and %s\n", model_path, c.arch_name, c.n_layers,
               st.st_size / 1e9, seed, out_cfg);
    free(planted);
    free(model_path);
    free(out_cfg);
    free(text);
    free(cfg_path);
    return 0;
}

/* --- main --- */

static const char main_help[] =
    "usage: ewq COMMAND [ARGS]   (ewq COMMAND --help for each)\n"
    "\n"
    "Entropy-Weighted Quantization for Llama and Qwen models. MODEL is a Hugging Face model folder\n"
    "(config.json + model.safetensors or a sharded model.safetensors.index.json).\n"
    "\n"
    "commands:\n"
    "  inspect MODEL     configuration and tensors of a checkpoint\n"
    "  entropy MODEL     entropy of every block and linear weight (+ an SVG plot)\n"
    "  plan MODEL        choose raw / int8 / int4 per block; write the plan; llama-quantize command\n"
    "  synth CONFIG      write a random-weight checkpoint of the shapes a config.json describes\n"
    "\n"
    "  --version         version and build\n";

static const struct { const char *name; int (*run)(int, char **); } commands[] = {
    {"inspect", cmd_inspect},
    {"entropy", cmd_entropy},
    {"plan", cmd_plan},
    {"synth", cmd_synth},
};

int main(int argc, char **argv) {
    if (argc < 2 || is_help(argv[1])) {
        fputs(main_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        char cuda[256];
        ewq_cuda_describe(cuda, sizeof cuda);
        printf("ewq %s\nCUDA: %s\n", EWQ_VERSION, cuda);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 2, argv + 2);
    fprintf(stderr, "ewq: unknown command '%s' (see 'ewq --help')\n", argv[1]);
    return 2;
}
#endif
