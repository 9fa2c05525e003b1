/* How busy the cores this process may run on are, without waking a team to find out.
 *
 * The kernel counts, per CPU, the time it spent running tasks (/proc/stat, in clock
 * ticks). Over an interval, that time on the CPUs of this process's affinity mask,
 * minus the CPU time of this process itself, is what other processes took from the
 * cores a team would run on. A waking team step beside a busy core costs a scheduler
 * time slice; reading /proc/stat costs tens of microseconds.
 *
 * Counted as busy: user, system, irq, softirq and steal (a hypervisor that runs
 * another guest on the core takes it as surely as a process). Not counted: nice
 * (a process at a higher nice value yields most of the core to a team at nice 0),
 * idle and iowait. The counts are per tick (usually 10 ms), so an interval needs a
 * tenth of a second or more to mean something; the caller checks that.
 *
 * Linux only. Elsewhere, or when /proc/stat cannot be read, the reading fails and
 * the caller keeps probing with the team. */
#ifndef FASTMLP_CPU_LOAD_H
#define FASTMLP_CPU_LOAD_H

#ifdef __linux__
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#endif

/* The busy seconds of the CPUs in this process's affinity mask since boot, and the
 * number of those CPUs; returns 0 on success, -1 when they cannot be read. */
static int fastmlp_allowed_cpus_busy(double *busy_seconds, int *n_cpus)
{
#ifdef __linux__
    cpu_set_t allowed;
    char line[512];
    long ticks_per_second = sysconf(_SC_CLK_TCK);
    unsigned long long total = 0;
    int found = 0;
    FILE *stat;

    if (ticks_per_second <= 0 || sched_getaffinity(0, sizeof allowed, &allowed) != 0)
        return -1;
    stat = fopen("/proc/stat", "r");
    if (stat == NULL)
        return -1;
    while (fgets(line, sizeof line, stat) != NULL) {
        unsigned long long user, nice, system, idle, iowait, irq, softirq, steal;
        int cpu;
        /* "cpuN user nice system idle iowait irq softirq steal ..." */
        if (strncmp(line, "cpu", 3) != 0)
            break;   /* the CPU lines come first and together */
        if (!isdigit((unsigned char)line[3]))
            continue;   /* the summary line, "cpu  ..." */
        steal = 0;   /* kernels before 2.6.11 have no steal column */
        if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &user,
                   &nice, &system, &idle, &iowait, &irq, &softirq, &steal) < 8)
            continue;
        if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &allowed))
            continue;
        total += user + system + irq + softirq + steal;
        found++;
    }
    fclose(stat);
    if (found == 0)
        return -1;
    *busy_seconds = (double)total / ticks_per_second;
    *n_cpus = found;
    return 0;
#else
    (void)busy_seconds;
    (void)n_cpus;
    return -1;
#endif
}

/* This process's CPU time, all its threads, seconds; -1 when it cannot be read. */
static double fastmlp_process_cpu_seconds(void)
{
#ifdef __linux__
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
        return -1;
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
#else
    return -1;
#endif
}

#endif
