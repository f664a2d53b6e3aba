/* tests/fuzz/fuzz.h — helpers shared by the libFuzzer targets in tests/fuzz/fuzz_*.c.
 *
 * Each target defines LLVMFuzzerTestOneInput. Built with clang -fsanitize=fuzzer,address,undefined they are
 * fuzzers (`make fuzz`); tests/test_fuzz_corpus.c includes all of them in one program that replays the
 * committed corpora in tests/fuzz/corpus/ under `make test` and `make asan`, so every input that once
 * crashed stays a regression test.
 *
 * Targets feed their input through ewq's real loading path: written to a file in a private temporary folder,
 * then opened as a user's model folder would be. Besides "no crash, no sanitizer report", each target checks
 * the invariants ewq promises (FUZZ_REQUIRE aborts, which libFuzzer reports as a crash).
 */
#ifndef EWQ_FUZZ_H
#define EWQ_FUZZ_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* mkdtemp, realpath, symlink under -std=c11 */
#endif
#include "ewq.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FUZZ_REQUIRE(cond)                                                                            \
    do {                                                                                              \
        if (!(cond)) {                                                                                \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);            \
            abort();                                                                                  \
        }                                                                                             \
    } while (0)

/* The process's private folder (in /dev/shm when it exists, so the thousands of writes per second stay in
 * memory), removed at exit with everything in it. Each target works in its own subfolder of it. */
static char fuzz_base[256];
static inline void fuzz_base_remove(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_base);
    if (system(cmd) != 0) fprintf(stderr, "fuzz: could not remove %s\n", fuzz_base);
}

/* Creates fuzz_base/sub and writes its path into out[0..n). */
static inline void fuzz_folder(char *out, size_t n, const char *sub) {
    if (!fuzz_base[0]) {
        const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        snprintf(fuzz_base, sizeof fuzz_base, "%s/ewq-fuzz-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : tmp);
        if (!mkdtemp(fuzz_base)) { perror("fuzz: mkdtemp"); exit(1); }
        atexit(fuzz_base_remove);
    }
    snprintf(out, n, "%s/%s", fuzz_base, sub);
    if (mkdir(out, 0700) != 0 && errno != EEXIST) { perror(out); exit(1); }
}

/* Writes data[0..n) to dir/name, replacing what was there (never through a symbolic link). */
static inline void fuzz_write(const char *dir, const char *name, const void *data, size_t n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600);
    if (fd < 0 || write(fd, data, n) != (ssize_t)n || close(fd) != 0) { perror(path); exit(1); }
}

/* Links dir/name to the repository file `target` (fuzzers and the corpus replay run from the repository
 * root), so targets can share the committed fixtures without copying them. */
static inline void fuzz_link(const char *dir, const char *name, const char *target) {
    char path[512], *abs = realpath(target, NULL);
    if (!abs) { perror(target); exit(1); }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
    if (symlink(abs, path) != 0) { perror(path); exit(1); }
    free(abs);
}

/* A refusal is one line that names the file it is about: "PATH: problem". */
/* Text safe to print on a terminal: well-formed UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF) without C0 controls, DEL or C1 controls, whatever bytes the input that caused it held. */
static inline int fuzz_safe_text(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p, n = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 9;
        if (n == 9 || c < 0x20 || c == 0x7f) return 0;
        unsigned cp = n ? c & (0x3fu >> n) : c;
        for (unsigned i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (p[i] & 0x3fu);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000))) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0x80 && cp < 0xa0))
            return 0;
        p += n + 1;
    }
    return 1;
}

/* A refusal: one line, "PATH: problem", safe to print (every byte of file content escaped). */
static inline void fuzz_check_error(const ewq_err *err, const char *path) {
    FUZZ_REQUIRE(strncmp(err->msg, path, strlen(path)) == 0);
    FUZZ_REQUIRE(strlen(err->msg) > strlen(path) + 2);
    FUZZ_REQUIRE(fuzz_safe_text(err->msg));
}
#endif
