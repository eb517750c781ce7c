/* SPDX-License-Identifier: Apache-2.0 */
/* SIGINT and SIGTERM: a flag the batch polls, so that it stops scheduling
 * and still writes a complete, valid document of what was done. */
#include <signal.h>
#include <string.h>

#include "cli.h"

static volatile sig_atomic_t interrupted;

/* The first signal asks for a clean stop; a second one kills as usual. */
static void on_signal(int sig)
{
    interrupted = sig;
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
}

void cli_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a blocking open of a FIFO returns EINTR */
    /* a signal ignored when we started (nohup, a background job) stays so */
    struct sigaction old;
    if (sigaction(SIGINT, NULL, &old) == 0 && old.sa_handler != SIG_IGN)
        sigaction(SIGINT, &sa, NULL);
    if (sigaction(SIGTERM, NULL, &old) == 0 && old.sa_handler != SIG_IGN)
        sigaction(SIGTERM, &sa, NULL);
}

int cli_interrupted(void)
{
    return interrupted != 0;
}
