/* glibc's memcpy into an unaligned destination: GB/s for copies of N bytes to OFFSET bytes past an aligned
 * address (BENCHMARKS.md, "glibc's rep movsb"; src/memcpy.rs). Run it with and without the tunable:
 *
 *     cc -O2 -o /tmp/memcpy bench/memcpy.c && /tmp/memcpy 16384 5
 *     GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=4294967295 /tmp/memcpy 16384 5
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: memcpy N [OFFSET]\n");
        return 2;
    }
    size_t n = strtoul(argv[1], NULL, 10), off = argc > 2 ? strtoul(argv[2], NULL, 10) : 0;
    size_t span = 1 << 20, total = 1UL << 31;
    char *src = aligned_alloc(4096, span + 8192), *dst = aligned_alloc(4096, span + 8192);
    memset(src, 1, span + 8192);
    memset(dst, 2, span + 8192);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    size_t pos = 0;
    for (size_t done = 0; done < total; done += n) {
        memcpy(dst + off + pos, src + pos, n);
        pos += n;
        if (pos + n > span) pos = 0;
        __asm__ volatile("" ::: "memory");
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    printf("%zu bytes to offset %zu: %.1f GB/s\n", n, off, (double)total / s / 1e9);
    return 0;
}
