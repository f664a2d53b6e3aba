/* tests/test_atomic_output.c — ewq_out_open/ewq_out_commit when the writer is killed mid-write: the
 * destination must stay as it was (absent, or the previous complete file byte for byte), never a partial
 * file under the final name. SIGINT, SIGTERM and SIGHUP also remove the temporary "PATH.tmp.PID"; SIGKILL
 * leaves it (documented in ewq.h and the README: nothing runs after SIGKILL), and the test checks that it is
 * exactly that name. */
#define _GNU_SOURCE
#include "ewq.h"
#include "test.h"
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The child writes forever: commit is never reached, so the kill always lands mid-write. */
static void write_forever(const char *path) {
    ewq_outfile o;
    ewq_err err;
    if (ewq_out_open(&o, path, &err) != 0) _exit(3);
    static char chunk[1 << 16];
    memset(chunk, 'x', sizeof chunk);
    for (;;) {
        fwrite(chunk, 1, sizeof chunk, o.f);
        fflush(o.f);
    }
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Kills (with sig) a writer of dir/out.bin once its temporary file holds 1 MiB; old: the destination's
 * content before, or NULL when there was none. */
static void kill_mid_write(const char *dir, const char *old, int sig, const char *name) {
    char path[256], tmp[300];
    snprintf(path, sizeof path, "%s/out.bin", dir);
    remove(path);
    if (old) {
        FILE *f = fopen(path, "wb");
        fputs(old, f);
        fclose(f);
    }
    pid_t pid = fork();
    if (pid == 0) {   /* as a user's shell would start it: a background job's parent may ignore SIGINT */
        signal(SIGINT, SIG_DFL), signal(SIGTERM, SIG_DFL), signal(SIGHUP, SIG_DFL);
        write_forever(path);
    }
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)pid);
    for (int i = 0; i < 10000 && file_size(tmp) < (1 << 20); i++) usleep(1000);
    long written = file_size(tmp);
    kill(pid, sig);
    int status = 0, waited = 0;
    for (int i = 0; i < 5000 && !(waited = waitpid(pid, &status, WNOHANG) == pid); i++) usleep(1000);
    if (!waited) kill(pid, SIGKILL), waitpid(pid, &status, 0);   /* the signal did not end it: a failure */
    char *text = NULL;
    size_t len = 0;
    ewq_err err;
    int ok;
    if (old) ok = ewq_read_file(path, 1 << 20, &text, &len, &err) == 0 && len == strlen(old) && !memcmp(text, old, len);
    else ok = access(path, F_OK) != 0;
    long left = file_size(tmp);   /* SIGKILL: all of it stays; other signals: removed */
    int tmp_ok = sig == SIGKILL ? left >= written : left < 0;
    check(written >= (1 << 20) && WIFSIGNALED(status) && WTERMSIG(status) == sig && ok && tmp_ok, name,
          "temporary file %ld bytes when killed, destination %s, %s left: %ld bytes", written,
          ok ? "unchanged" : "CHANGED", tmp, left);
    free(text);
    remove(tmp);
    remove(path);
}

int main(void) {
    char dir[] = "/tmp/ewq-test-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    kill_mid_write(dir, NULL, SIGKILL, "atomic-output/sigkill-new-file-stays-absent");
    kill_mid_write(dir, "the previous complete file\n", SIGKILL, "atomic-output/sigkill-old-file-stays-intact");
    kill_mid_write(dir, NULL, SIGTERM, "atomic-output/sigterm-removes-temporary");
    kill_mid_write(dir, "the previous complete file\n", SIGINT, "atomic-output/sigint-removes-temporary");
    kill_mid_write(dir, NULL, SIGHUP, "atomic-output/sighup-removes-temporary");
    rmdir(dir);
    return 0;
}
