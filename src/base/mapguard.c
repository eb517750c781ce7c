/* SPDX-License-Identifier: Apache-2.0 */
/* A mapped file that shrinks while it is scanned (a mirror being synced, a
 * download in progress) makes reads of its pages past the new end raise
 * SIGBUS, which would kill the whole batch. A process-wide handler looks the
 * faulting address up among the mappings being scanned; when it is one of
 * them it maps zero pages over the rest of that mapping, marks it and
 * returns, so the scan goes on over zeros and its report becomes an error.
 * No jump: nothing the scan holds (allocations, locks) is abandoned. Faults
 * elsewhere go to the previous handler (or kill the process as before). */
#include "mapguard.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SLOTS 256

typedef struct slot {
    atomic_int used;
    atomic_uintptr_t base; /* 0 while the slot is being filled or is free */
    atomic_size_t len;
    atomic_int hit;
} slot;

static slot slots[SLOTS];
static struct sigaction previous;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static atomic_int installed;
static uintptr_t page_size;

/* Maps anonymous zeros over [page of addr, end) of the slot's mapping. */
static int zero_fill(slot *s, uintptr_t addr)
{
    uintptr_t base = atomic_load(&s->base);
    size_t len = atomic_load(&s->len);
    if (!base || addr < base || addr - base >= len)
        return 0;
    uintptr_t from = addr & ~(page_size - 1);
    uintptr_t end = (base + len + page_size - 1) & ~(page_size - 1);
    void *p =
        mmap((void *)from, end - from, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (p == MAP_FAILED)
        return 0;
    atomic_store(&s->hit, 1);
    return 1;
}

static void on_sigbus(int sig, siginfo_t *info, void *uc)
{
    uintptr_t addr = (uintptr_t)info->si_addr;
    for (int i = 0; i < SLOTS; i++)
        if (zero_fill(&slots[i], addr))
            return;
    if (previous.sa_flags & SA_SIGINFO) {
        if (previous.sa_sigaction) {
            previous.sa_sigaction(sig, info, uc);
            return;
        }
    } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
        return;
    }
    /* not ours: the default action, as without the guard (the faulting
     * access runs again on return and is fatal then) */
    signal(SIGBUS, SIG_DFL);
}

static void install(void)
{
    page_size = (uintptr_t)sysconf(_SC_PAGESIZE);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, &previous) == 0)
        atomic_store(&installed, 1);
}

int mapguard_enter(const void *base, size_t len)
{
    pthread_once(&once, install);
    if (!atomic_load(&installed) || !base || !len)
        return -1;
    for (int i = 0; i < SLOTS; i++) {
        int expect = 0;
        if (!atomic_compare_exchange_strong(&slots[i].used, &expect, 1))
            continue;
        atomic_store(&slots[i].hit, 0);
        atomic_store(&slots[i].len, len);
        atomic_store(&slots[i].base, (uintptr_t)base);
        return i;
    }
    return -1;
}

int mapguard_leave(int i)
{
    if (i < 0 || i >= SLOTS)
        return 0;
    atomic_store(&slots[i].base, 0);
    int hit = atomic_load(&slots[i].hit);
    atomic_store(&slots[i].used, 0);
    return hit;
}
