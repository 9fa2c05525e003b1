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
#include <dirent.h>
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

/* The tasks of other processes that are runnable right now, anywhere on the machine:
 * the kernel's count of runnable tasks (/proc/loadavg, its fourth field "R/T"), less
 * this process's threads that are running or runnable (/proc/self/task/N/stat,
 * state R: this thread, and a team's threads while they spin). -1 when unreadable.
 *
 * A look's counts are an average over its span: a process that was busy for most
 * of it but sleeps now (a benchmark's other worker, a pipeline's previous stage) makes
 * the span look taken. A busy process is runnable at every instant, so a span that
 * looks taken counts only when somebody else is runnable now as well. */
static int fastmlp_others_runnable(void)
{
#ifdef __linux__
    FILE *file = fopen("/proc/loadavg", "r");
    double load1, load5, load15;
    int running = -1, total, own = 0;
    DIR *tasks;
    struct dirent *task;

    if (file == NULL)
        return -1;
    if (fscanf(file, "%lf %lf %lf %d/%d", &load1, &load5, &load15, &running, &total) != 5)
        running = -1;
    fclose(file);
    if (running < 0)
        return -1;
    tasks = opendir("/proc/self/task");
    if (tasks == NULL)
        return -1;
    while ((task = readdir(tasks)) != NULL) {
        char path[64], line[512], *state;
        if (task->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%.20s/stat", task->d_name);
        file = fopen(path, "r");
        if (file == NULL)
            continue;   /* a thread that just ended */
        if (fgets(line, sizeof line, file) != NULL) {
            /* "tid (comm) S ...": the state follows the last ')' (comm may hold one) */
            state = strrchr(line, ')');
            if (state != NULL && state[1] == ' ' && state[2] == 'R')
                own++;
        }
        fclose(file);
    }
    closedir(tasks);
    return running > own ? running - own : 0;
#else
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
